"""The `--set` assignments a user gives `lake update`, checked like `lake query` SQL. The `--where`
predicate and its translation for pruning live in `lakehouse.read.predicate` (compact shares them)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from pyiceberg.schema import Schema
from sqlglot import exp
from sqlglot.errors import ParseError

from lakehouse.errors import QueryError
from lakehouse.read.predicate import parse_expression
from lakehouse.read.query import syntax_error


@dataclass(frozen=True)
class Assignment:
    """`column = expression` of an update, the column spelled as the table spells it."""

    column: str
    expression: str  # DuckDB SQL


def parse_assignments(text: str, schema: Schema) -> tuple[Assignment, ...]:
    """`a = 1, b = upper(b)` -> assignments; each column once, every column known."""
    if not text or not text.strip():
        raise QueryError("--set is empty: give `column = expression, ...`")
    try:
        tree = sqlglot.parse_one(f"UPDATE lake_t SET {text}", read="duckdb")
    except ParseError as exc:
        raise QueryError(
            f"cannot parse --set {text!r}: {syntax_error(exc, offset=len('UPDATE lake_t SET '))}"
        ) from None
    if not isinstance(tree, exp.Update) or tree.args.get("where") or tree.args.get("from_"):
        raise QueryError(f"--set {text!r}: give `column = expression, ...` only")
    known = {f.name.lower(): f.name for f in schema.fields}
    out: dict[str, Assignment] = {}
    for item in tree.expressions:
        if not isinstance(item, exp.EQ) or not isinstance(item.this, exp.Column) or item.this.table:
            raise QueryError(f"--set {text!r}: each part must be `column = expression`")
        name = item.this.name
        if name.lower() not in known:
            raise QueryError(f"--set {text!r}: unknown column {name!r}; columns: {', '.join(known.values())}")
        column = known[name.lower()]
        if column in out:
            raise QueryError(f"--set {text!r}: column {column!r} is set twice")
        value = parse_expression(item.expression.sql("duckdb"), f"--set {column}", schema)
        out[column] = Assignment(column, value.sql("duckdb"))
    return tuple(out.values())
