"""A rendered DuckDB model as Spark SQL (sqlglot), or the reason it cannot be one.

sqlglot keeps some DuckDB constructs it cannot express in Spark as they are, or drops them, so a
transpiled model could run and give other rows. Those are refused here, with the construct and its line
in the model file, before anything runs: a model is built right on Spark or not built there at all.
Lake tables are named in the session's catalog and read at the snapshot ids the run pinned.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlglot import exp
from sqlglot.errors import ErrorLevel, SqlglotError

from lakehouse.errors import LakehouseError
from lakehouse.read.query import lake_tables, parse_single


class SparkTranspileError(LakehouseError):
    """A model uses SQL that Spark cannot run with the same meaning."""


@dataclass(frozen=True)
class Unsupported:
    construct: str
    line: int | None  # in the model file, when it can be found

    def text(self, model: str, path: Path | None) -> str:
        where = f" at {path}:{self.line}" if path is not None and self.line else ""
        return f"{model} cannot run on Spark: {self.construct} is DuckDB only{where}"


_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)


def _line(node: exp.Expr, sql: str, template: str | None, keyword: str | None = None) -> int | None:
    """The line of `node` in the model file. sqlglot knows its line in the rendered SQL, which is the
    file without its config() block and with refs resolved: the file line holding the construct's
    keyword (or the same text) is the one to show."""
    if template:  # jinja blanked out, newlines kept: config() text is not SQL
        template = _JINJA.sub(lambda m: "\n" * m.group(0).count("\n"), template)
    if template and keyword:
        pattern = re.compile(rf"\b{keyword}\b", re.IGNORECASE)
        for number, candidate in enumerate(template.splitlines(), start=1):
            if pattern.search(candidate.split("--", 1)[0]):
                return number
    ident = node if isinstance(node, exp.Identifier) else node.find(exp.Identifier)
    line = ident.meta.get("line") if ident is not None else None
    if not line:
        return None
    rendered = sql.splitlines()
    text = rendered[line - 1].strip() if line <= len(rendered) else ""
    if template and text:
        for number, candidate in enumerate(template.splitlines(), start=1):
            if text in candidate:
                return number
    return int(line)


def unsupported(sql: str, template: str | None = None) -> list[Unsupported]:
    """The DuckDB-only constructs of a model's rendered SQL, in order."""
    tree = parse_single(sql)
    found: list[Unsupported] = []
    for join in tree.find_all(exp.Join):
        method = str(join.args.get("method") or "").upper()
        if method in ("ASOF", "POSITIONAL"):
            found.append(Unsupported(f"{method} JOIN", _line(join.this, sql, template, method)))
    for sample in tree.find_all(exp.TableSample):
        found.append(
            Unsupported(
                "USING SAMPLE / TABLESAMPLE (sampling differs)", _line(sample, sql, template, "SAMPLE")
            )
        )
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            found.append(
                Unsupported(f"table function {table.this.sql('duckdb')[:40]}", _line(table, sql, template))
            )
    try:
        tree.sql("spark", unsupported_level=ErrorLevel.RAISE)
    except SqlglotError as exc:
        found.append(Unsupported(str(exc).splitlines()[0], None))
    return found


def to_spark(
    sql: str, catalog: str, snapshots: Mapping[str, int | None], views: Mapping[str, str] | None = None
) -> str:
    """Spark SQL for a rendered model: each lake table as `catalog`.ns.t, at its snapshot in
    `snapshots` (`VERSION AS OF`) when it has one, or the temp view `views` names in its place."""
    tree = parse_single(sql)
    _interval_ranges_on_timestamps(tree)
    for table in lake_tables(tree):
        name = f"{table.db}.{table.name}".lower()
        if views and name in views:
            alias = exp.TableAlias(this=exp.to_identifier(table.alias or table.name, quoted=True))
            table.replace(exp.Table(this=exp.to_identifier(views[name], quoted=True), alias=alias))
            continue
        table.set("catalog", exp.to_identifier(catalog, quoted=True))
        table.set("db", exp.to_identifier(table.db, quoted=True))
        table.set("this", exp.to_identifier(table.name, quoted=True))
        snapshot_id = snapshots.get(name)
        if snapshot_id is not None:
            table.set(
                "version",
                exp.Version(this="VERSION", kind="AS OF", expression=exp.Literal.number(snapshot_id)),
            )
    try:
        return tree.sql("spark", unsupported_level=ErrorLevel.RAISE)
    except SqlglotError as exc:
        raise SparkTranspileError(
            f"cannot write this model as Spark SQL: {str(exc).splitlines()[0]}"
        ) from None


def _interval_ranges_on_timestamps(tree: exp.Expr) -> None:
    """DuckDB takes `RANGE BETWEEN INTERVAL 6 DAYS PRECEDING` over a DATE order; Spark takes interval
    frames only over timestamps. The order key cast to TIMESTAMP (midnight, in the session's UTC) keeps
    the frame's meaning, and is a no-op on a timestamp key."""
    for window in tree.find_all(exp.Window):
        spec, order = window.args.get("spec"), window.args.get("order")
        if spec is None or order is None or str(spec.args.get("kind") or "").upper() != "RANGE":
            continue
        if not any(isinstance(spec.args.get(side), exp.Interval) for side in ("start", "end")):
            continue
        for ordered in order.expressions:
            ordered.set("this", exp.cast(ordered.this, exp.DataType.build("TIMESTAMP")))


def check_spark(model: str, sql: str, path: Path | None = None, template: str | None = None) -> None:
    """Raise `SparkTranspileError` naming the first DuckDB-only construct of the model, if any."""
    found = unsupported(sql, template)
    if found:
        raise SparkTranspileError(found[0].text(model, path))
