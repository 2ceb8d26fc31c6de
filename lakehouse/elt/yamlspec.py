"""The YAML beside models, in dbt's format (`version: 2`) or lake's: model descriptions, columns, tests
(which become lake checks) and config; sources; and `{% docs %}` blocks from `.md` files.

dbt's generic tests map one to one: `unique`, `not_null`, `accepted_values`, `relationships`, each with
`config: {severity: warn}` if wanted. `relationships: {to: ref('customers'), field: id}` keeps its
`ref(...)` text until the project resolves it. Any other test fails the load, naming it: a test that
would silently not run is worse than none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lakehouse.core.textfiles import read_text_file
from lakehouse.elt.render import ModelError

TESTS = ("unique", "not_null", "accepted_values", "relationships")
_DOCS = re.compile(r"{%-?\s*docs\s+(\w+)\s*-?%}(.*?){%-?\s*enddocs\s*-?%}", re.S)


@dataclass
class SourceSpec:
    name: str  # "ns.t"
    description: str = ""
    checks: list[Any] = field(default_factory=list)
    column_docs: dict[str, str] = field(default_factory=dict)


@dataclass
class ModelSpec:
    """What YAML says of one model: merged under the model's own config() (the nearer wins)."""

    config: dict[str, Any] = field(default_factory=dict)
    checks: list[Any] = field(default_factory=list)
    column_docs: dict[str, str] = field(default_factory=dict)
    column_types: dict[str, str] = field(default_factory=dict)  # data_type, for an enforced contract
    not_null: set[str] = field(default_factory=set)  # not_null tests and constraints
    path: Path | None = None


@dataclass
class YamlSpecs:
    models: dict[str, ModelSpec] = field(default_factory=dict)  # model name (lower) -> spec
    sources: dict[str, SourceSpec] = field(default_factory=dict)  # "ns.t" -> spec
    source_tables: dict[tuple[str, str], str] = field(default_factory=dict)  # (source, table) -> "ns.t"
    docs: dict[str, str] = field(default_factory=dict)


def read_docs(paths: list[Path], specs: YamlSpecs) -> None:
    for path in paths:
        for name, body in _DOCS.findall(read_text_file(path, "docs file")):
            specs.docs[name] = body.strip()


def read_yaml(path: Path, specs: YamlSpecs) -> None:
    try:
        data = yaml.safe_load(read_text_file(path, "YAML file")) or {}
    except yaml.YAMLError as exc:
        raise ModelError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected a mapping with models: or sources:")
    for model in _items(data.get("models"), path, "models"):
        specs.models[str(model["name"]).lower()] = _model(model, path)
    sources = data.get("sources")
    if isinstance(sources, dict):  # lake's own form: {bronze.events: {...}} or {bronze: {events: {...}}}
        _lake_sources(sources, specs)
    else:
        for source in _items(sources, path, "sources"):
            _dbt_source(source, path, specs)


def _items(value: Any, path: Path, key: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) and v.get("name") for v in value):
        raise ModelError(f"{path}: {key}: must be a list of entries, each with a name:")
    return value


def _model(entry: dict[str, Any], path: Path) -> ModelSpec:
    spec = ModelSpec(path=path)
    config = dict(entry.get("config") or {})
    for key in ("description", "materialized", "unique_key", "tags", "schema"):
        if key in entry:
            config.setdefault(key, entry[key])
    spec.config = config
    owner = f"{path}: model {entry['name']}"
    spec.checks = _checks(entry.get("data_tests") or entry.get("tests") or [], None, owner, spec)
    for column in _items(entry.get("columns"), path, f"model {entry['name']} columns"):
        name = str(column["name"])
        if column.get("description"):
            spec.column_docs[name] = str(column["description"])
        if column.get("data_type"):
            spec.column_types[name] = str(column["data_type"])
        if any((c or {}).get("type") == "not_null" for c in column.get("constraints") or []):
            spec.not_null.add(name)
        tests = column.get("data_tests") or column.get("tests") or []
        spec.checks += _checks(tests, name, f"{owner}, column {name}", spec)
    return spec


def _checks(tests: Any, column: str | None, owner: str, spec: ModelSpec | None) -> list[Any]:
    """dbt tests as lake checks."""
    if not isinstance(tests, list):
        raise ModelError(f"{owner}: tests must be a list")
    out = []
    for test in tests:
        name, args = (test, {}) if isinstance(test, str) else next(iter(dict(test).items()), ("", {}))
        args = dict(args or {})
        config = dict(args.pop("config", None) or {})
        args |= dict(args.pop("arguments", None) or {})
        severity = str(config.get("severity", args.pop("severity", "error"))).lower()
        column = str(args.pop("column_name", column) or "") or None
        if name not in TESTS or column is None:
            what = "a column" if name in TESTS else f"one of {', '.join(TESTS)}"
            raise ModelError(f"{owner}: test {name!r} is not supported here (lake runs {what} tests)")
        if name == "not_null":
            check: dict[str, Any] = {"not_null": column}
            if spec is not None:
                spec.not_null.add(column)
        elif name == "unique":
            check = {"unique": column}
        elif name == "accepted_values":
            check = {"accepted_values": {"column": column, "values": list(args.get("values") or [])}}
        else:
            to = str(args.get("to", ""))
            check = {"relationships": {"column": column, "to": to, "field": str(args.get("field", column))}}
        if severity == "warn":
            check["severity"] = "warn"
        out.append(check)
    return out


def _dbt_source(entry: dict[str, Any], path: Path, specs: YamlSpecs) -> None:
    source = str(entry["name"])
    namespace = str(entry.get("schema") or source)
    for table in _items(entry.get("tables"), path, f"source {source} tables"):
        ident = f"{namespace}.{table.get('identifier') or table['name']}".lower()
        owner = f"{path}: source {source}.{table['name']}"
        checks = _checks(table.get("data_tests") or table.get("tests") or [], None, owner, None)
        docs = {}
        for column in _items(table.get("columns"), path, f"{owner} columns"):
            tests = column.get("data_tests") or column.get("tests") or []
            checks += _checks(tests, str(column["name"]), f"{owner}, column {column['name']}", None)
            if column.get("description"):
                docs[str(column["name"])] = str(column["description"])
        specs.sources[ident] = SourceSpec(ident, str(table.get("description") or ""), checks, docs)
        specs.source_tables[(source.lower(), str(table["name"]).lower())] = ident


def _lake_sources(sources: dict[str, Any], specs: YamlSpecs) -> None:
    for name, spec in sources.items():
        spec = spec or {}
        if "." not in str(name):  # nested form: {bronze: {events: {...}}}
            for table, sub in spec.items():
                sub = sub or {}
                ident = f"{name}.{table}".lower()
                specs.sources[ident] = SourceSpec(
                    ident, sub.get("description", ""), list(sub.get("checks") or [])
                )
            continue
        ident = str(name).lower()
        specs.sources[ident] = SourceSpec(ident, spec.get("description", ""), list(spec.get("checks") or []))
