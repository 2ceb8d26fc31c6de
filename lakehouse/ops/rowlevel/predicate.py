"""The SQL a user gives `lake delete/update`: a `--where` predicate and `--set` assignments, checked
like `lake query` SQL, and the predicate translated into a pyiceberg expression for file pruning.

sqlglot parses both (DuckDB dialect); nothing is done with regexes. A predicate may name only the
table's columns and call no function that reads files, settings or secrets; it may not hold a
subquery. The translation is conservative: it returns an expression true for every row the SQL
predicate may be true for (so pruning never drops a matching file), or None when it cannot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlglot
from pyiceberg.expressions import (
    AlwaysTrue,
    And,
    BooleanExpression,
    EqualTo,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    IsNull,
    LessThan,
    LessThanOrEqual,
    Not,
    NotEqualTo,
    Or,
    Reference,
)
from pyiceberg.schema import Schema
from pyiceberg.types import (
    DateType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    StringType,
    TimestampType,
    TimestamptzType,
)
from sqlglot import exp
from sqlglot.errors import ParseError

from lakehouse.core.schemas import quote_ident
from lakehouse.errors import QueryError
from lakehouse.read.query import check_reads

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NUMERIC = (IntegerType, LongType, FloatType, DoubleType, DecimalType)
_TEXT = (StringType, DateType)
_FLIPPED = {
    exp.GT: exp.LT,
    exp.GTE: exp.LTE,
    exp.LT: exp.GT,
    exp.LTE: exp.GTE,
    exp.EQ: exp.EQ,
    exp.NEQ: exp.NEQ,
}
_PREDICATES = {
    exp.EQ: EqualTo,
    exp.NEQ: NotEqualTo,
    exp.GT: GreaterThan,
    exp.GTE: GreaterThanOrEqual,
    exp.LT: LessThan,
    exp.LTE: LessThanOrEqual,
}


@dataclass(frozen=True)
class Assignment:
    """`column = expression` of an update, the column spelled as the table spells it."""

    column: str
    expression: str  # DuckDB SQL


def parse_expression(sql: str, what: str, schema: Schema) -> exp.Expr:
    """One scalar SQL expression over the table's columns, checked; `what` names it in errors."""
    if not sql or not sql.strip():
        raise QueryError(f"{what} is empty")
    try:
        tree = sqlglot.parse_one(sql, read="duckdb", into=exp.Condition)
    except ParseError as exc:
        raise QueryError(f"cannot parse {what} {sql!r}: {str(exc).splitlines()[0]}") from None
    except Exception:
        raise QueryError(f"cannot parse {what} {sql!r}: expected an SQL expression") from None
    if tree is None or isinstance(tree, (exp.Query, exp.Command)) or tree.find(exp.Query):
        raise QueryError(f"{what} {sql!r}: subqueries and statements are not allowed, only an expression")
    try:
        check_reads(tree)
    except QueryError as exc:
        raise QueryError(f"{what} {sql!r}: {exc}".replace(" in lake query", "")) from None
    known = {f.name.lower(): f.name for f in schema.fields}
    for column in tree.find_all(exp.Column):
        if column.table or column.name.lower() not in known:
            raise QueryError(
                f"{what} {sql!r}: unknown column {column.sql('duckdb')!r}; columns: {', '.join(known.values())}"
            )
        column.set("this", exp.to_identifier(known[column.name.lower()], quoted=True))
    return tree


def parse_assignments(text: str, schema: Schema) -> tuple[Assignment, ...]:
    """`a = 1, b = upper(b)` -> assignments; each column once, every column known."""
    if not text or not text.strip():
        raise QueryError("--set is empty: give `column = expression, ...`")
    try:
        tree = sqlglot.parse_one(f"UPDATE lake_t SET {text}", read="duckdb")
    except ParseError as exc:
        raise QueryError(f"cannot parse --set {text!r}: {str(exc).splitlines()[0]}") from None
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


def to_iceberg(tree: exp.Expr, schema: Schema) -> BooleanExpression | None:
    """A pyiceberg expression matching a superset of the rows `tree` is true for, or None."""
    found, _exact = _translate(tree, schema)
    return found


def _translate(node: exp.Expr, schema: Schema) -> tuple[BooleanExpression | None, bool]:
    """(expression, exact): exact when it matches exactly the rows `node` is TRUE for."""
    if isinstance(node, exp.Paren):
        return _translate(node.this, schema)
    if isinstance(node, exp.And):
        (left, left_exact), (right, right_exact) = (
            _translate(node.left, schema),
            _translate(node.right, schema),
        )
        if left is None and right is None:
            return None, False
        if left is None or right is None:  # the other side alone still holds every matching row
            return left or right, False
        return And(left, right), left_exact and right_exact
    if isinstance(node, exp.Or):
        (left, left_exact), (right, right_exact) = (
            _translate(node.left, schema),
            _translate(node.right, schema),
        )
        if left is None or right is None:
            return None, False
        return Or(left, right), left_exact and right_exact
    if isinstance(node, exp.Not):
        inner, exact = _translate(node.this, schema)
        return (Not(inner), True) if inner is not None and exact else (None, False)
    if isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
        name = _column(node.this, schema)
        return (IsNull(term=Reference(name)), True) if name else (None, False)
    if isinstance(node, exp.Not) or (isinstance(node, exp.Is) and isinstance(node.expression, exp.Not)):
        return None, False
    if isinstance(node, exp.In) and not node.args.get("query"):
        name = _column(node.this, schema)
        values = [_value(v, schema, name) for v in node.expressions] if name else []
        if not name or not values or any(v is None for v in values):
            return None, False
        return In(name, set(values)), True  # type: ignore[call-arg, arg-type]
    if isinstance(node, exp.Between):
        name = _column(node.this, schema)
        low, high = _value(node.args.get("low"), schema, name), _value(node.args.get("high"), schema, name)
        if not name or low is None or high is None:
            return None, False
        if _floating(schema, name):  # `>=` would drop NaN rows (below)
            return LessThanOrEqual(name, high), False  # type: ignore[call-arg, arg-type]
        return And(GreaterThanOrEqual(name, low), LessThanOrEqual(name, high)), True  # type: ignore[call-arg, arg-type]
    kind = type(node)
    if kind in _PREDICATES:
        left, right = node.left, node.right  # type: ignore[attr-defined]
        if _column(left, schema) is None:
            left, right, kind = right, left, _FLIPPED[kind]
        name = _column(left, schema)
        value = _value(right, schema, name)
        if name is None or value is None:
            return None, False
        if _floating(schema, name):
            # DuckDB orders NaN above every number (`x > 1` holds for NaN); Iceberg's bounds leave
            # NaN out, so pruning on `>`/`>=` could drop NaN rows, and NOT could turn `<` into one.
            if kind in (exp.GT, exp.GTE):
                return None, False
            return _PREDICATES[kind](name, value), False
        return _PREDICATES[kind](name, value), True
    return None, False


def _floating(schema: Schema, name: str) -> bool:
    return isinstance(schema.find_field(name).field_type, (FloatType, DoubleType))


def _column(node: exp.Expr | None, schema: Schema) -> str | None:
    if isinstance(node, exp.Paren):
        return _column(node.this, schema)
    return node.name if isinstance(node, exp.Column) and not node.table else None


def _value(node: exp.Expr | None, schema: Schema, column: str | None) -> int | float | str | bool | None:
    """A literal of a type DuckDB and pyiceberg compare alike with `column`'s type; else None."""
    if column is None or node is None:
        return None
    field_type = schema.find_field(column).field_type
    if isinstance(node, exp.Paren):
        return _value(node.this, schema, column)
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        inner = _value(node.this, schema, column)
        return -inner if isinstance(inner, (int, float)) and not isinstance(inner, bool) else None
    if isinstance(node, exp.Literal):
        if node.is_string:
            if isinstance(field_type, (TimestampType, TimestamptzType)):
                return _micros(str(node.this), isinstance(field_type, TimestamptzType))
            # Strings compare as text and dates alike in both engines.
            return str(node.this) if isinstance(field_type, _TEXT) else None
        if isinstance(field_type, _NUMERIC):
            text = str(node.this)
            try:
                return int(text)
            except ValueError:
                return float(text) if isinstance(field_type, (FloatType, DoubleType)) else None
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    return None


def _micros(text: str, with_zone: bool) -> int | None:
    """A timestamp literal as microseconds since the epoch, read as DuckDB reads it (the engine's
    time zone is UTC; a timestamp without zone must not carry an offset), or None."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if when.tzinfo is not None and not with_zone:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - _EPOCH) // timedelta(microseconds=1)


def iceberg_filter(tree: exp.Expr, schema: Schema) -> BooleanExpression:
    """`to_iceberg`, or AlwaysTrue (every file) when nothing can be translated."""
    return to_iceberg(tree, schema) or AlwaysTrue()


def column_list(schema: Schema) -> str:
    return ", ".join(quote_ident(f.name) for f in schema.fields)
