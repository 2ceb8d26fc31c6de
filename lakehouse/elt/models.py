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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakehouse.elt.render import ModelError, RenderContext, render, with_inlines

# 'view' and 'ephemeral' are not built: the models that ref them inline their SQL as a CTE.
MATERIALIZATIONS = ("table", "incremental", "view", "ephemeral")
INLINE = ("view", "ephemeral")
# How an incremental run reads its inputs: 'snapshot' only the rows they added since the snapshots the
# last build read (late rows included); 'merge' the SQL's own `is_incremental()` filter (dbt's way),
# merged on unique_key ('delete+insert' is the same); 'append' that SQL's rows inserted (dbt's);
# 'watermark' the rows newer than the table's max(watermark), appended.
INCREMENTAL_STRATEGIES = ("snapshot", "merge", "append", "watermark", "delete+insert")
# dbt settings lake reads from YAML and dbt_project.yml, and dbt-only ones it accepts and ignores
DBT_KEYS = {"schema", "alias", "enabled", "contract", "column_docs"}
DBT_IGNORED = {
    "meta",
    "docs",
    "persist_docs",
    "grants",
    "group",
    "access",
    "full_refresh",
    "database",
    "quoting",
}
CONFIG_KEYS = (
    DBT_KEYS
    | DBT_IGNORED
    | {
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
)
# `engine='duckdb'`: a model that uses DuckDB-only SQL runs on DuckDB even in `lake run --engine spark`.
ENGINES = ("duckdb", "spark")
# dbt's names: 'fail' (default) stops a model whose output no longer matches its table;
# 'append_new_columns' adds the output's new columns to the table (one metadata commit) and writes.
ON_SCHEMA_CHANGE = ("fail", "append_new_columns")
SOURCES_FILE = "sources.yml"


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
    schema: str | None = None  # the table's namespace (dbt's +schema), else its folder's
    alias: str | None = None  # the table's name, else the file's
    column_docs: dict[str, str] = field(default_factory=dict)  # column -> description (YAML)
    strategy_given: bool = False  # incremental_strategy (or watermark) named, not lake's default

    @property
    def inline(self) -> bool:
        return self.materialized in INLINE

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
    context: RenderContext | None = None  # the project's refs, vars and macros, to render it again
    inlines: dict[str, str] = field(default_factory=dict)  # CTE -> SQL of the views/ephemerals it reads

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
        return with_inlines(
            render(self.template, self.name, incremental=True, context=self.context)[0], self.inlines
        )


@dataclass
class Source:
    name: str
    description: str = ""
    checks: list[Any] = field(default_factory=list)
    column_docs: dict[str, str] = field(default_factory=dict)  # column -> description (YAML)


def contract_text(columns: Mapping[str, str]) -> str | None:
    """A `columns` contract as `lake create --schema` text (None when there is none)."""
    if not columns:
        return None
    return ", ".join(f"{name} {spec}" for name, spec in columns.items())


def sql_hash(sql: str) -> str:
    return "sha256:" + hashlib.sha256(sql.strip().encode()).hexdigest()[:16]


def parse_config(name: str, raw: dict[str, Any]) -> ModelConfig:
    unknown = sorted(set(raw) - CONFIG_KEYS)
    if unknown:
        raise ModelError(
            f"{name}: unknown config key(s) {', '.join(unknown)}; known: {', '.join(sorted(CONFIG_KEYS))}"
        )
    cfg = ModelConfig()
    materialized = str(raw.get("materialized", "table"))
    if materialized not in MATERIALIZATIONS:
        raise ModelError(f"{name}: materialized={materialized!r}; use one of: {', '.join(MATERIALIZATIONS)}")
    cfg.materialized = materialized
    key = raw.get("unique_key")
    cfg.unique_key = [key] if isinstance(key, str) else list(key or [])
    cfg.watermark = raw.get("watermark")
    cfg.incremental_strategy = _strategy(name, raw, cfg)
    cfg.strategy_given = bool(raw.get("incremental_strategy") or cfg.watermark)
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
    cfg.schema = str(raw["schema"]) if raw.get("schema") else None
    cfg.alias = str(raw["alias"]) if raw.get("alias") else None
    cfg.column_docs = {str(k): str(v) for k, v in (raw.get("column_docs") or {}).items()}
    return cfg


def _strategy(name: str, raw: dict[str, Any], cfg: ModelConfig) -> str:
    """The incremental strategy: as given, else 'watermark' for a model that names one, else 'snapshot'."""
    strategy = str(raw.get("incremental_strategy") or ("watermark" if cfg.watermark else "snapshot"))
    if strategy not in INCREMENTAL_STRATEGIES:
        raise ModelError(
            f"{name}: incremental_strategy={strategy!r}; use one of: {', '.join(INCREMENTAL_STRATEGIES)}"
        )
    strategy = "merge" if strategy == "delete+insert" else strategy  # the same rows on a lake table
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
