"""The facts of a `lake docs` site, gathered once as plain data: every model and source with its
description, columns (type, description, lineage, checks), checks, neighbours, SQL and table facts.

Column descriptions come from the model's `config().column_docs` when the project has them (schema.yml),
else from the Iceberg schema's `doc`. Columns are those of the table when it is built, then those of the
`columns` contract, then those column lineage finds in the SQL: an unbuilt model is documented too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehouse.elt.docsite.facts import TableFacts, Tables, table_facts
from lakehouse.elt.lineage import Lineage, build_lineage
from lakehouse.elt.lineage_html import split_column
from lakehouse.elt.project import Project
from lakehouse.errors import LakehouseError

if TYPE_CHECKING:
    from pyiceberg.table import Table


@dataclass(frozen=True)
class ColumnDoc:
    name: str
    type: str  # the Iceberg type when built, else the contract's, else "" (unknown)
    required: bool | None
    description: str
    contract: str | None = None  # "long not null" from config(columns=...)
    upstream: tuple[tuple[str, str], ...] = ()  # (table, column) it is computed from
    downstream: tuple[tuple[str, str], ...] = ()  # (table, column) computed from it
    checks: tuple[str, ...] = ()  # names of the checks on this column

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "required": self.required,
            "description": self.description,
            "contract": self.contract,
            "upstream": [list(r) for r in self.upstream],
            "downstream": [list(r) for r in self.downstream],
            "checks": list(self.checks),
        }


@dataclass(frozen=True)
class CheckDoc:
    name: str
    kind: str
    severity: str
    params: str  # the check's arguments as JSON text

    def to_dict(self) -> dict[str, Any]:
        return vars(self).copy()


@dataclass(frozen=True)
class TableDoc:
    name: str
    kind: str  # "model" or "source"
    description: str
    facts: TableFacts
    columns: tuple[ColumnDoc, ...] = ()
    checks: tuple[CheckDoc, ...] = ()
    upstream: tuple[str, ...] = ()
    downstream: tuple[str, ...] = ()
    check_reads: tuple[str, ...] = ()  # tables its checks read (relationships targets)
    path: str = ""
    config: Mapping[str, Any] = field(default_factory=dict)  # materialized, strategy, tags, keys
    sql: str = ""  # rendered for a full build
    template: str = ""  # the model file as written
    notes: tuple[str, ...] = ()  # what could not be documented (column lineage, checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "path": self.path,
            "config": dict(self.config),
            "columns": [c.to_dict() for c in self.columns],
            "checks": [c.to_dict() for c in self.checks],
            "upstream": list(self.upstream),
            "downstream": list(self.downstream),
            "check_reads": list(self.check_reads),
            "sql": self.sql,
            "template": self.template,
            "notes": list(self.notes),
            "table": self.facts.to_dict(),
        }


@dataclass(frozen=True)
class DocsSite:
    project: str
    generated_at: str
    tables: tuple[TableDoc, ...]
    lineage: Lineage
    ignored: tuple[tuple[str, str], ...] = ()  # (path, why): project files that are no model

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "generated_at": self.generated_at,
            "tables": [t.to_dict() for t in self.tables],
            "ignored": [{"path": path, "reason": why} for path, why in self.ignored],
        }


def build_site(project: Project, load: Callable[[str], Table] | None = None) -> DocsSite:
    """Everything `lake docs` shows of `project`, with table facts from the tables `load` opens
    (None: document the project alone, every table marked not built)."""
    tables = Tables(load)
    lineage = build_lineage(project, columns=True, load=tables.loader)
    names = [*sorted(project.sources), *project.order()]
    ups, downs = _column_edges(lineage.columns or {}, names)
    readers: dict[str, list[str]] = {}
    for model_name in project.order():
        for dep in project.models[model_name].depends_on:
            readers.setdefault(dep, []).append(model_name)
    docs: list[TableDoc] = []
    for name in sorted(project.sources):
        source = project.sources[name]
        facts = table_facts(tables, name)
        checks, notes = _checks(name, source.checks)
        columns = _columns(
            facts, {}, getattr(source, "column_docs", None) or {}, [], ups.get(name, {}), downs.get(name, {}),
            checks,
        )  # fmt: skip
        docs.append(
            TableDoc(
                name,
                "source",
                source.description or "",
                facts,
                columns,
                checks,
                downstream=tuple(readers.get(name, [])),
                notes=notes,
            )  # fmt: skip
        )
    for name in project.order():
        model = project.models[name]
        facts = table_facts(tables, name, model)
        checks, notes = _checks(name, model.config.checks)
        if name in lineage.errors:
            notes = (f"column lineage unavailable: {lineage.errors[name]}", *notes)
        columns = _columns(
            facts, model.config.columns, getattr(model.config, "column_docs", None) or {},
            list(ups.get(name, {})), ups.get(name, {}), downs.get(name, {}), checks,
        )  # fmt: skip
        docs.append(
            TableDoc(
                name,
                "model",
                model.config.description or "",
                facts,
                columns,
                checks,
                upstream=tuple(model.depends_on),
                downstream=tuple(readers.get(name, [])),
                check_reads=tuple(getattr(model, "check_reads", ())),
                path=_relative(model.path, project),
                config=_config(model.config),
                sql=model.sql,
                template=model.template,
                notes=notes,
            )  # fmt: skip
        )
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    ignored = tuple((_relative(path, project), str(why)) for path, why in getattr(project, "ignored", ()))
    return DocsSite(str(project.root), now, tuple(docs), lineage, ignored)


def _column_edges(
    columns: Mapping[str, list[str]], names: list[str]
) -> tuple[dict[str, dict[str, list[tuple[str, str]]]], dict[str, dict[str, list[tuple[str, str]]]]]:
    """Column lineage both ways: table -> column -> the (table, column)s it comes from / feeds."""
    ups: dict[str, dict[str, list[tuple[str, str]]]] = {}
    downs: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for target, sources in columns.items():
        table, column = split_column(target, names)
        refs = [split_column(s, names) for s in sources]
        ups.setdefault(table, {})[column] = refs
        for up_table, up_column in refs:
            downs.setdefault(up_table, {}).setdefault(up_column, []).append((table, column))
    return ups, downs


def _columns(
    facts: TableFacts,
    contract: Mapping[str, str],
    described: Mapping[str, str],
    selected: list[str],
    ups: Mapping[str, list[tuple[str, str]]],
    downs: Mapping[str, list[tuple[str, str]]],
    checks: tuple[CheckDoc, ...],
) -> tuple[ColumnDoc, ...]:
    """The table's columns, then the contract's, then the SQL's (or, for a source, those read)."""
    fields = {f.name: f for f in facts.fields}
    lower = {str(k).lower(): str(v) for k, v in described.items()}
    order = [*fields, *contract, *selected, *(downs if not selected else ())]
    seen: set[str] = set()
    out: list[ColumnDoc] = []
    for name in order:
        if name.lower() in seen:
            continue
        seen.add(name.lower())
        spec = contract.get(name)
        found = fields.get(name)
        if found is not None:
            kind, required = found.type, found.required
        elif spec:
            kind, required = spec.split()[0], "not null" in spec.lower()
        else:
            kind, required = "", None
        doc = lower.get(name.lower()) or (found.doc if found is not None else "")
        on = tuple(c.name for c in checks if name.lower() in _check_columns(c))
        out.append(
            ColumnDoc(
                name, kind, required, doc, spec, tuple(ups.get(name, ())), tuple(downs.get(name, ())), on
            )
        )
    return tuple(out)


def _checks(owner: str, specs: list[Any]) -> tuple[tuple[CheckDoc, ...], tuple[str, ...]]:
    from lakehouse.elt.checks import parse_checks

    try:
        parsed = parse_checks(owner, specs)
    except LakehouseError as exc:  # a malformed source check fails `lake test`; the docs say so
        return (), (f"checks unreadable: {exc}",)
    return tuple(
        CheckDoc(c.name, c.kind, c.severity, json.dumps(c.params, default=str, ensure_ascii=False))
        for c in parsed
    ), ()


def _check_columns(check: CheckDoc) -> set[str]:
    params = json.loads(check.params)
    named = [params.get("column"), *(params.get("columns") or [])]
    return {str(c).lower() for c in named if c}


def _config(config: Any) -> dict[str, Any]:
    out = {
        "materialized": config.materialized,
        "strategy": config.strategy,
        "unique_key": list(config.unique_key),
        "partition_by": config.partition_by,
        "tags": list(config.tags),
        "watermark": config.watermark,
        "on_schema_change": config.on_schema_change,
        "engine": config.engine,
    }
    return {k: v for k, v in out.items() if v not in (None, [], "")}


def _relative(path: Any, project: Project) -> str:
    try:
        return str(Path(path).resolve().relative_to(project.root.resolve()))
    except ValueError:
        return str(path)
