"""A `--where` predicate, as `lake delete`, `lake update` and `lake compact` take it: DuckDB SQL checked
like `lake query` SQL, and translated into a pyiceberg expression for file and partition pruning.

sqlglot parses it (DuckDB dialect); nothing is done with regexes. A predicate may name only the
table's columns and call no function that reads files, settings or secrets; it may not hold a
subquery. The translation is conservative: it returns an expression true for every row the SQL
predicate may be true for (so pruning never drops a matching file), or None when it cannot. Literals
are read as DuckDB reads them against the column's type (the engine's time zone is UTC), so a
timestamp in any ISO form (`Z`, an offset, none, a date alone) prunes as DuckDB then filters.
"""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime, timedelta
from enum import Enum

import sqlglot
from pyiceberg.expressions import (
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
    IcebergType,
    IntegerType,
    LongType,
    StringType,
    TimestampType,
    TimestamptzType,
)
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from lakehouse.errors import LakehouseWarning, QueryError
from lakehouse.read.query import check_reads, syntax_error

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INTEGRAL = (IntegerType, LongType)
_NUMERIC = (IntegerType, LongType, FloatType, DoubleType, DecimalType)
_TIMESTAMPS = (TimestampType, TimestamptzType)
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
Value = int | float | str | bool
# Why a predicate cannot prune, said once for delete, update and compact.
NO_PRUNING = "only a column compared with a constant prunes, e.g. ts >= '2026-06-01' AND country = 'US'"


def parse_expression(sql: str, what: str, schema: Schema) -> exp.Expr:
    """One scalar SQL expression over the table's columns, checked; `what` names it in errors."""
    if not sql or not sql.strip():
        raise QueryError(f"{what} is empty")
    try:
        tree = sqlglot.parse_one(sql, read="duckdb", into=exp.Condition)
    except ParseError as exc:
        raise QueryError(f"cannot parse {what} {sql!r}: {syntax_error(exc)}") from None
    except TokenError:
        raise QueryError(f"cannot parse {what} {sql!r}: is a quote left open?") from None
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


def _value(node: exp.Expr | None, schema: Schema, column: str | None) -> Value | None:
    """A literal coerced to `column`'s type as DuckDB coerces it in the comparison; else None."""
    if column is None or node is None:
        return None
    field_type = schema.find_field(column).field_type
    if isinstance(node, exp.Paren):
        return _value(node.this, schema, column)
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        inner = _value(node.this, schema, column)
        return -inner if isinstance(inner, (int, float)) and not isinstance(inner, bool) else None
    if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal) and node.this.is_string:
        return _typed_literal(str(node.this.this), node.to, field_type)
    if isinstance(node, exp.Literal):
        text = str(node.this)
        return _string_value(text, column, field_type) if node.is_string else _number(text, field_type)
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    return None


def _string_value(text: str, column: str, field_type: IcebergType) -> Value | None:
    """A string literal compared with a column: DuckDB casts it to the column's type."""
    if isinstance(field_type, TimestampType):
        _offset_ignored(text, column)
    if isinstance(field_type, _TIMESTAMPS):
        return micros(text, isinstance(field_type, TimestamptzType))
    if isinstance(field_type, DateType):
        return _iso_date(text)
    if isinstance(field_type, StringType):
        return text
    if isinstance(field_type, _NUMERIC):
        return _number(text.strip(), field_type)
    return None


def _number(text: str, field_type: IcebergType) -> int | float | None:
    if not isinstance(field_type, _NUMERIC):
        return None
    try:
        return int(text)
    except ValueError:
        pass
    if isinstance(field_type, _INTEGRAL):  # `id = 1.5`: DuckDB compares as decimals, not as longs
        return None
    try:
        return float(text) if isinstance(field_type, (FloatType, DoubleType)) else None
    except ValueError:
        return None


def _typed_literal(text: str, to: exp.DataType, field_type: IcebergType) -> Value | None:
    """`TIMESTAMP '...'`, `'...'::TIMESTAMPTZ`, `DATE '...'`: the cast decides how the text reads; the
    comparison with a timestamp column is then by instant (the engine's zone is UTC)."""
    kind = to.this.name if isinstance(to.this, Enum) else str(to.this)
    if not isinstance(field_type, _TIMESTAMPS):
        return _iso_date(text) if kind == "DATE" and isinstance(field_type, DateType) else None
    if kind in ("TIMESTAMPTZ", "TIMESTAMPLTZ"):
        return micros(text, with_zone=True)
    if kind in ("TIMESTAMP", "TIMESTAMPNTZ", "DATETIME"):
        return micros(text, with_zone=False)
    day = _iso_date(text) if kind == "DATE" else None  # a date alone: DuckDB may truncate a time
    return micros(day, with_zone=False) if day else None


def _offset_ignored(text: str, column: str) -> None:
    """DuckDB keeps the wall-clock time of `'...+02:00'` cast to a TIMESTAMP: say so, it surprises."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        return
    if when.utcoffset():
        warnings.warn(
            f"{column} is a timestamp without time zone: {text!r} reads as {when.replace(tzinfo=None).isoformat()} "
            "(DuckDB drops the offset); compare with a TIMESTAMPTZ literal to convert it",
            LakehouseWarning,
            stacklevel=2,
        )


def _iso_date(text: str) -> str | None:
    text = text.strip()
    if len(text) != 10 or not _plain_iso(text):
        return None
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        return None


def micros(text: str, with_zone: bool) -> int | None:
    """An ISO timestamp (`Z`, an offset, none, or a date alone) as microseconds since the epoch, read
    as DuckDB casts it: to TIMESTAMPTZ an offset converts and no offset means UTC (the engine's
    zone); to TIMESTAMP the wall-clock time is kept and an offset is dropped. None if unreadable."""
    text = text.strip()
    if not _plain_iso(text):
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None or not with_zone:
        when = when.replace(tzinfo=UTC)
    return (when - _EPOCH) // timedelta(microseconds=1)


def _plain_iso(text: str) -> bool:
    """`YYYY-MM-DD`, then optionally `[T ]HH:MM[:SS[.ffffff]]` and a zone: the forms Python and DuckDB
    read alike (Python also takes `20260601`, week dates and nanoseconds, which DuckDB reads otherwise
    or not at all: those do not prune)."""
    day, rest = text[:10], text[10:]
    if len(day) != 10 or day[4] != "-" or day[7] != "-" or not day.replace("-", "").isdigit():
        return False
    if not rest:
        return True
    fraction = rest.split(".", 1)[1] if "." in rest else ""
    digits = len(fraction) - len(fraction.lstrip("0123456789"))
    return rest[0] in "T " and rest[3:4] == ":" and digits <= 6


def where_filter(where: str, schema: Schema) -> tuple[exp.Expr, BooleanExpression | None]:
    """The checked predicate tree and its pruning expression (None: it cannot prune)."""
    tree = parse_expression(where, "--where", schema)
    return tree, to_iceberg(tree, schema)
