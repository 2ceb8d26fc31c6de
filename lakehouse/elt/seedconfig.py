"""Seeds as dbt finds them: every `*.csv` under the project's seed paths, at any depth, with the config
that `dbt_project.yml` (`seeds:` blocks per project, folder and seed) and YAML files beside the seeds
(`version: 2`, `seeds: - name: ..., config: {...}`) give it. The nearer config wins; `column_types`
dicts merge, as in dbt.

>>> # seeds/raw_orders.csv          -> main.raw_orders
>>> # seeds/shop/eu/raw_items.csv   -> shop.raw_items  (the first folder under the seed path)
>>> # +schema: raw                   -> raw.<name>      (config wins over the folder)
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lakehouse.core.textfiles import read_text_file
from lakehouse.errors import LakehouseError, SchemaError

DBT_PROJECT = "dbt_project.yml"
DEFAULT_NAMESPACE = "main"  # dbt-duckdb's default schema
# Seed configs lake applies; dbt's others (tags, docs, quote_columns, hooks...) change nothing here.
_APPLIED = ("schema", "alias", "column_types", "enabled")
_KNOWN = (*_APPLIED, "tags", "docs", "quote_columns", "delimiter", "persist_docs", "full_refresh",
          "meta", "database", "pre-hook", "post-hook", "pre_hook", "post_hook", "grants", "group")  # fmt: skip


class SeedError(LakehouseError):
    """A seed, its config or its CSV cannot be read, typed or loaded."""


@dataclass(frozen=True)
class Seed:
    """One CSV file and the table it loads into."""

    name: str  # the file stem: what ref('name') finds
    path: Path
    table: str  # namespace.table
    column_types: dict[str, str] = field(default_factory=dict)  # column -> type as the config wrote it
    # columns the seed's own YAML entry types: one missing from the CSV is an error (a folder's
    # column_types in dbt_project.yml reach seeds without the column, and are ignored there)
    own_columns: frozenset[str] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": str(self.path), "table": self.table,
                "column_types": dict(self.column_types)}  # fmt: skip


def seed_paths(
    project: str | os.PathLike[str], paths: list[str | os.PathLike[str]] | None = None
) -> list[Path]:
    """Where seeds are: `paths` when given; else dbt_project.yml's `seed-paths` (default `seeds`)
    relative to the project; else `<project>/seeds` and `<project>/../seeds`, those that exist."""
    root = Path(project)
    if paths is not None:
        return [root / p for p in paths]
    dbt = _dbt_project(root)
    if dbt is not None:
        return [root / str(p) for p in (dbt.get("seed-paths") or ["seeds"])]
    return [p for p in (root / "seeds", root.parent / "seeds") if p.is_dir()]


def discover_seeds(
    project: str | os.PathLike[str], paths: list[str | os.PathLike[str]] | None = None
) -> list[Seed]:
    """Every seed of the project, sorted by table; disabled ones (`enabled: false`) left out."""
    root = Path(project)
    dbt = _dbt_project(root) or {}
    found: dict[str, Seed] = {}
    by_name: dict[str, Path] = {}
    for base in seed_paths(root, paths):
        if not base.is_dir():
            continue
        props = _property_configs(base)
        for csv in sorted(base.rglob("*.csv")):
            if not csv.is_file():
                continue
            rel = csv.relative_to(base)
            name = csv.stem
            if name.lower() in by_name:
                raise SeedError(
                    f"two seeds are named {name}: {by_name[name.lower()]} and {csv}; seed names must be unique"
                )
            by_name[name.lower()] = csv
            config = _project_config(dbt, rel)
            near = props.pop(name.lower(), {})
            config = _merge(config, near)
            if config.get("enabled") is False:
                continue
            table = _table_name(csv, rel, config)
            if table.lower() in found:
                raise SeedError(f"seeds {found[table.lower()].path} and {csv} both load into table {table}")
            own = frozenset(str(k).lower() for k in (near.get("column_types") or {}))
            found[table.lower()] = Seed(name, csv, table, _column_types(csv, config.get("column_types")), own)
        if props:
            missing = sorted(props)
            raise SeedError(
                f"YAML under {base} configures seed {missing[0]}, but no {missing[0]}.csv is under {base}"
            )
    return [found[k] for k in sorted(found)]


def _table_name(csv: Path, rel: Path, config: dict[str, Any]) -> str:
    namespace = config.get("schema") or (rel.parts[0] if len(rel.parts) > 1 else DEFAULT_NAMESPACE)
    table = config.get("alias") or csv.stem
    for part, what in ((namespace, "schema"), (table, "table name")):
        if not isinstance(part, str) or not part.strip() or "." in part:
            raise SeedError(f"seed {csv}: {what} {part!r} is not a name (one word, no dots)")
    return f"{namespace}.{table}"


def _column_types(csv: Path, value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise SeedError(f"seed {csv}: column_types must map column names to type names, not {value!r}")
    return {str(k): v for k, v in value.items()}


# ---------------------------------------------------------------- dbt_project.yml


def _dbt_project(root: Path) -> dict[str, Any] | None:
    path = root / DBT_PROJECT
    if not path.is_file():
        return None
    return _yaml(path)


def _yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(read_text_file(path, "YAML file")) or {}
    except yaml.YAMLError as exc:
        raise SeedError(f"cannot read {path}: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise SeedError(f"cannot read {path}: expected a mapping at the top")
    return data


def _project_config(dbt: dict[str, Any], rel: Path) -> dict[str, Any]:
    """The `seeds:` config of dbt_project.yml for the seed at `rel` (under its seed path): the block's
    own keys, then the project's, each folder's, and the seed's own, the deeper winning."""
    node = dbt.get("seeds") or {}
    if not isinstance(node, dict):
        return {}
    config = _configs_of(node)
    project = dbt.get("name")
    node = node.get(project) if project in node else None
    if not isinstance(node, dict):
        return config
    config = _merge(config, _configs_of(node))
    for part in [*rel.parent.parts, rel.stem]:
        node = node.get(part)
        if not isinstance(node, dict):
            break
        config = _merge(config, _configs_of(node))
    return config


def _configs_of(node: dict[str, Any]) -> dict[str, Any]:
    """The config keys of one level: `+key`, or a bare key dbt knows as a seed config."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        name = str(key)
        if name.startswith("+"):
            out[name[1:]] = value
        elif (name in _KNOWN and not isinstance(value, dict)) or name == "column_types":
            out[name] = value
    return out


def _merge(base: dict[str, Any], near: dict[str, Any]) -> dict[str, Any]:
    merged = {**base, **near}
    if isinstance(base.get("column_types"), dict) and isinstance(near.get("column_types"), dict):
        merged["column_types"] = {**base["column_types"], **near["column_types"]}
    return merged


# ---------------------------------------------------------------- YAML beside the seeds


def _property_configs(base: Path) -> dict[str, dict[str, Any]]:
    """`seeds:` entries of every `*.yml`/`*.yaml` under `base`: lower-case seed name -> its config."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted([*base.rglob("*.yml"), *base.rglob("*.yaml")]):
        entries = _yaml(path).get("seeds") or []
        if not isinstance(entries, list):
            raise SeedError(f"{path}: `seeds:` must be a list of `- name: ...` entries")
        for entry in entries:
            if not isinstance(entry, dict) or not entry.get("name"):
                raise SeedError(f"{path}: every entry of `seeds:` needs a name")
            config = entry.get("config") or {}
            if not isinstance(config, dict):
                raise SeedError(f"{path}: the config of seed {entry['name']} must be a mapping")
            config = {k.lstrip("+"): v for k, v in config.items()}
            if "column_types" in entry:  # dbt's older spelling, beside config:
                config = _merge({"column_types": entry["column_types"]}, config)
            found[str(entry["name"]).lower()] = config
    return found


# ---------------------------------------------------------------- types

_INTEGERS = {"tinyint": "int", "smallint": "int", "int2": "int", "int4": "int", "short": "int",
             "signed": "int", "int8": "long", "long": "long", "utinyint": "int", "usmallint": "int",
             "uinteger": "long", "ubigint": "decimal(20,0)", "hugeint": "decimal(38,0)", "int128": "decimal(38,0)"}  # fmt: skip
_OTHERS = {"real": "float", "float4": "float", "float8": "double", "double precision": "double",
           "numeric": "decimal(18,3)", "decimal": "decimal(18,3)", "char": "string", "bpchar": "string",
           "character": "string", "character varying": "string", "nvarchar": "string", "datetime": "timestamp",
           "timestamp without time zone": "timestamp", "timestamp with time zone": "timestamptz",
           "bytea": "binary", "logical": "boolean"}  # fmt: skip
_SIZED_TEXT = re.compile(r"(varchar|char|character varying|character|nvarchar|string|text)\s*\(\s*\d+\s*\)")
_NUMERIC = re.compile(r"(?:numeric|decimal)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)")


def lake_type(seed: Seed, column: str, declared: str) -> str:
    """The lake schema type (`lake create --schema`) for a dbt/DuckDB type name, or a SeedError naming
    the seed and column."""
    from lakehouse.core.schemas import parse_schema

    text = " ".join(declared.lower().split())
    if _SIZED_TEXT.fullmatch(text):
        text = "string"
    elif match := _NUMERIC.fullmatch(text):
        text = f"decimal({match.group(1)},{match.group(2) or 0})"
    else:
        text = _INTEGERS.get(text) or _OTHERS.get(text) or text
    try:
        parse_schema(f"c {text}")
    except SchemaError:
        raise SeedError(
            f"seed {seed.path}: column_types gives column {column} the unknown type {declared!r}; use "
            "integer, bigint, double, decimal(p,s), boolean, varchar, date, timestamp, timestamptz..."
        ) from None
    return text
