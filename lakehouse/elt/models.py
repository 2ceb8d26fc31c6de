"""SQL models: `sql/<layer>/<name>.sql` files that become the Iceberg tables `<layer>.<name>`.

A model is one SELECT, optionally templated with jinja2 the way dbt users know it. Every setting lives
in ONE place, the model's own `config(...)` call (there is no YAML beside a model):

    {{ config(
        materialized='incremental',          -- 'table' (default) or 'incremental'
        incremental_strategy='snapshot',     -- default: read only what the inputs added since the last
                                             -- build (lakehouse/elt/increments.py); 'merge': the SQL's
                                             -- own is_incremental() filter; 'watermark': rows > max(ts)
        unique_key='event_id',               -- incremental: merge (upsert) on these column(s)
        watermark='ts',                      -- incremental_strategy='watermark': append rows newer than max(ts)
        partition_by='day(ts)',              -- Iceberg transforms, as in `lake create --partition-by`
        description='Typed, cleaned events',
        columns={'event_id': 'string not null', 'ts': 'timestamptz not null'},   -- the data contract
        checks=[{'unique': 'event_id'}, {'accepted_values': {'column': 'kind', 'values': ['a', 'b']}}],
        on_schema_change='append_new_columns',   -- new output columns evolve the table ('fail': default)
    ) }}
    SELECT ... FROM {{ source('bronze', 'events') }}

`ref('silver.events')` (or `ref('silver', 'events')`) and `source('bronze', 'events')` render to the
table name; plain `silver.events` works as well, since dependencies come from parsing the rendered SQL
with sqlglot. Tables that models read but that no model builds (loaded by `lake ingest`) are declared in
`sql/sources.yml`, with optional checks that `lake test` runs:

    sources:
      bronze.events:
        description: raw JSON Lines events
        checks: [{row_count: {min: 1}}]
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lakehouse.core.textfiles import read_text_file
from lakehouse.errors import LakehouseError

MATERIALIZATIONS = ("table", "incremental")
# How an incremental run reads its inputs: 'snapshot' only the rows they added since the snapshots the
# last build read (late rows included); 'merge' the SQL's own `is_incremental()` filter (dbt's way),
# merged on unique_key; 'watermark' the rows newer than the table's max(watermark), appended.
INCREMENTAL_STRATEGIES = ("snapshot", "merge", "watermark")
CONFIG_KEYS = {
    "materialized",
    "incremental_strategy",
    "unique_key",
    "watermark",
    "partition_by",
    "description",
    "columns",
    "checks",
    "tags",
    "on_schema_change",
    "engine",
}
# `engine='duckdb'`: a model that uses DuckDB-only SQL runs on DuckDB even in `lake run --engine spark`.
ENGINES = ("duckdb", "spark")
# dbt's names: 'fail' (default) stops a model whose output no longer matches its table;
# 'append_new_columns' adds the output's new columns to the table (one metadata commit) and writes.
ON_SCHEMA_CHANGE = ("fail", "append_new_columns")
SOURCES_FILE = "sources.yml"


class ModelError(LakehouseError):
    """A model file cannot be read, rendered or parsed, or the project's graph is invalid."""


@dataclass
class ModelConfig:
    materialized: str = "table"
    incremental_strategy: str = "snapshot"
    unique_key: list[str] = field(default_factory=list)
    watermark: str | None = None
    partition_by: str | None = None
    description: str = ""
    columns: dict[str, str] = field(default_factory=dict)  # name -> "type [not null]"
    checks: list[Any] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    on_schema_change: str = "fail"
    engine: str | None = None  # None: the run's engine

    @property
    def strategy(self) -> str:
        """How an incremental run writes: `overwrite` (a table), `snapshot`, `merge` or `watermark`."""
        return "overwrite" if self.materialized == "table" else self.incremental_strategy

    def contract_schema_text(self) -> str | None:
        return contract_text(self.columns)

    def to_dict(self) -> dict[str, Any]:
        return {
            "materialized": self.materialized,
            "strategy": self.strategy,
            "incremental_strategy": self.incremental_strategy,
            "unique_key": self.unique_key,
            "watermark": self.watermark,
            "partition_by": self.partition_by,
            "description": self.description,
            "columns": self.columns,
            "checks": self.checks,
            "on_schema_change": self.on_schema_change,
        }


@dataclass
class Model:
    """One model file, rendered for a full build (`is_incremental()` false) to find its dependencies."""

    name: str  # layer.name
    path: Path
    template: str
    config: ModelConfig
    sql: str  # rendered for a full build
    depends_on: list[str]  # the tables its SQL reads
    check_reads: list[str] = field(default_factory=list)  # other tables its checks read

    @property
    def needs(self) -> list[str]:
        """What must be built before it: what it reads, and what its checks read (a relationships
        check audits against the target's snapshot of this run, so the target is built first)."""
        return sorted({*self.depends_on, *self.check_reads})

    @property
    def layer(self) -> str:
        return self.name.split(".", 1)[0]

    def render(self, *, incremental: bool = False) -> str:
        if not incremental:
            return self.sql
        return render(self.template, self.name, incremental=True)[0]


@dataclass
class Source:
    name: str
    description: str = ""
    checks: list[Any] = field(default_factory=list)


def contract_text(columns: Mapping[str, str]) -> str | None:
    """A `columns` contract as `lake create --schema` text (None when there is none)."""
    if not columns:
        return None
    return ", ".join(f"{name} {spec}" for name, spec in columns.items())


def sql_hash(sql: str) -> str:
    return "sha256:" + hashlib.sha256(sql.strip().encode()).hexdigest()[:16]


# ---------------------------------------------------------------- rendering

_ENV: Any = None


# `env_var()` reads only variables meant for models, never credentials such as AWS_SECRET_ACCESS_KEY.
ENV_VAR_PREFIXES = ("LAKE_VAR_", "DBT_ENV_")


def _environment() -> Any:
    """A sandboxed jinja2 (as dbt renders): no attribute walks to Python internals, and no globals
    but ours, so a model can neither run code nor read the process's secrets."""
    global _ENV
    if _ENV is None:
        import jinja2
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        _ENV = ImmutableSandboxedEnvironment(
            undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
        )
        _ENV.globals.clear()  # range, dict, cycler, joiner, namespace, lipsum
    return _ENV


def _env_var(name: str, default: str | None = None) -> str:
    import os

    from jinja2.exceptions import SecurityError, TemplateRuntimeError

    if not str(name).startswith(ENV_VAR_PREFIXES):
        raise SecurityError(
            f"env_var({name!r}) is not allowed: models read only variables named {' or '.join(p + '*' for p in ENV_VAR_PREFIXES)}"
        )
    value = os.environ.get(str(name), default)
    if value is None:
        raise TemplateRuntimeError(f"env_var({name!r}): the variable is not set and has no default")
    return value


def render(template: str, name: str, *, incremental: bool = False) -> tuple[str, dict[str, Any]]:
    """Render a model's jinja; returns the SQL and the keyword arguments of its `config(...)` call."""
    import jinja2

    captured: dict[str, Any] = {}

    def config(**kwargs: Any) -> str:
        captured.update(kwargs)
        return ""

    def ref(*parts: str) -> str:
        ident = ".".join(parts)
        if ident.count(".") != 1:
            raise ModelError(f"{name}: ref({', '.join(map(repr, parts))}) must name a `layer.model`")
        return ident

    def source(namespace: str, table: str) -> str:
        return f"{namespace}.{table}"

    try:
        sql = (
            _environment()
            .from_string(template)
            .render(
                config=config,
                ref=ref,
                source=source,
                this=name,
                is_incremental=lambda: incremental,
                env_var=_env_var,
            )
        )
    except jinja2.TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f" (line {line})" if line else ""
        raise ModelError(f"cannot render model {name}{where}: {exc}") from None
    return sql.strip().rstrip(";").strip(), captured


def parse_config(name: str, raw: dict[str, Any]) -> ModelConfig:
    unknown = sorted(set(raw) - CONFIG_KEYS)
    if unknown:
        raise ModelError(
            f"{name}: unknown config key(s) {', '.join(unknown)}; known: {', '.join(sorted(CONFIG_KEYS))}"
        )
    cfg = ModelConfig()
    materialized = str(raw.get("materialized", "table"))
    if materialized not in MATERIALIZATIONS:
        raise ModelError(f"{name}: materialized={materialized!r}; use 'table' or 'incremental'")
    cfg.materialized = materialized
    key = raw.get("unique_key")
    cfg.unique_key = [key] if isinstance(key, str) else list(key or [])
    cfg.watermark = raw.get("watermark")
    cfg.incremental_strategy = _strategy(name, raw, cfg)
    cfg.partition_by = raw.get("partition_by")
    cfg.description = str(raw.get("description", "") or "")
    columns = raw.get("columns") or {}
    if isinstance(columns, list):  # [{'name': 'id', 'type': 'long', 'not_null': True}, ...]
        columns = {
            c["name"]: f"{c.get('type', 'string')}{' not null' if c.get('not_null') else ''}" for c in columns
        }
    if not isinstance(columns, dict):
        raise ModelError(f"{name}: columns must map column names to types such as 'long not null'")
    cfg.columns = {str(k): str(v) for k, v in columns.items()}
    checks = raw.get("checks") or []
    cfg.checks = list(checks) if isinstance(checks, list) else [checks]
    tags = raw.get("tags") or []
    cfg.tags = [tags] if isinstance(tags, str) else list(tags)
    cfg.on_schema_change = str(raw.get("on_schema_change", "fail"))
    if cfg.on_schema_change not in ON_SCHEMA_CHANGE:
        raise ModelError(
            f"{name}: on_schema_change={cfg.on_schema_change!r}; use one of: {', '.join(ON_SCHEMA_CHANGE)}"
        )
    engine = raw.get("engine")
    if engine is not None and engine not in ENGINES:
        raise ModelError(f"{name}: engine={engine!r}; use one of: {', '.join(ENGINES)}")
    cfg.engine = engine
    return cfg


def _strategy(name: str, raw: dict[str, Any], cfg: ModelConfig) -> str:
    """The incremental strategy: as given, else 'watermark' for a model that names one, else 'snapshot'."""
    strategy = str(raw.get("incremental_strategy") or ("watermark" if cfg.watermark else "snapshot"))
    if strategy not in INCREMENTAL_STRATEGIES:
        raise ModelError(
            f"{name}: incremental_strategy={strategy!r}; use one of: {', '.join(INCREMENTAL_STRATEGIES)}"
        )
    if cfg.materialized == "incremental":
        if strategy == "merge" and not cfg.unique_key:
            raise ModelError(
                f"{name}: incremental_strategy='merge' needs unique_key=... (the columns to merge on)"
            )
        if strategy == "watermark" and not cfg.watermark:
            raise ModelError(
                f"{name}: incremental_strategy='watermark' needs watermark=... (e.g. watermark='ts')"
            )
    return strategy


def load_model(path: Path, layer: str) -> Model:
    from lakehouse.read.query import changes_calls, lake_tables, parse_single
    from lakehouse.table.catalog import split_identifier

    name = f"{layer}.{path.stem}"
    try:
        split_identifier(name)
    except LakehouseError as exc:
        raise ModelError(f"model file {path}: {exc}") from None
    template = read_text_file(path, "model file")
    sql, raw = render(template, name)
    cfg = parse_config(name, raw)
    if cfg.columns:
        from lakehouse.core.schemas import parse_schema

        try:
            parse_schema(cfg.contract_schema_text() or "")
        except LakehouseError as exc:
            raise ModelError(f"{name}: invalid columns contract: {exc}") from None
    if not sql:
        raise ModelError(f"model {name} ({path}) has no SELECT")
    try:
        tree = parse_single(sql)
    except LakehouseError as exc:
        raise ModelError(f"model {name} ({path}): {exc}") from None
    from sqlglot import exp

    if not isinstance(tree, exp.Query):
        raise ModelError(f"model {name} ({path}) must be one SELECT (or WITH ... SELECT)")
    try:  # `changes(ns.t, ...)` reads ns.t too
        called = {identifier.lower() for _, identifier, _, _ in changes_calls(tree)}
    except LakehouseError as exc:
        raise ModelError(f"model {name} ({path}): {exc}") from None
    deps = sorted(({f"{t.db}.{t.name}".lower() for t in lake_tables(tree)} | called) - {name.lower()})
    from lakehouse.elt.checks import parse_checks

    checked = {t for check in parse_checks(name, cfg.checks) for t in check.tables(name)}
    return Model(
        name=name, path=path, template=template, config=cfg, sql=sql, depends_on=deps,
        check_reads=sorted(checked - {name.lower()}),
    )  # fmt: skip


def load_sources(root: Path) -> dict[str, Source]:
    path = root / SOURCES_FILE
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(read_text_file(path, "sources file")) or {}
    except yaml.YAMLError as exc:
        raise ModelError(f"cannot read {path}: {exc}") from None
    found: dict[str, Source] = {}
    for name, spec in (data.get("sources") or {}).items():
        spec = spec or {}
        if "." not in str(name):  # nested form: {bronze: {events: {...}}}
            for table, sub in spec.items():
                sub = sub or {}
                ident = f"{name}.{table}".lower()
                found[ident] = Source(ident, sub.get("description", ""), list(sub.get("checks") or []))
            continue
        ident = str(name).lower()
        found[ident] = Source(ident, spec.get("description", ""), list(spec.get("checks") or []))
    return found


def discover(root: str | os.PathLike[str]) -> tuple[dict[str, Model], dict[str, Source]]:
    """Every `<root>/<layer>/<name>.sql` model and the sources `<root>/sources.yml` declares."""
    base = Path(root)
    if not base.is_dir():
        raise ModelError(
            f"project folder {base} does not exist; pass --project DIR (a folder of sql/<layer>/*.sql)"
        )
    models: dict[str, Model] = {}
    for layer_dir in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        for path in sorted(layer_dir.glob("*.sql")):
            model = load_model(path, layer_dir.name)
            key = model.name.lower()
            if key in models:
                raise ModelError(f"two model files for {model.name}: {models[key].path} and {path}")
            models[key] = model
    return models, load_sources(base)
