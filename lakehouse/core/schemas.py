"""Schema strings, and the mapping between Iceberg and DuckDB types; SQL quoting.

`"id long not null, ts timestamptz, tags list<string>"` is what users type; a pyiceberg `Schema` is what
the catalog takes. Partition-spec strings are `lakehouse.core.partitioning`'s (their names are also
importable from here). pyiceberg (with pydantic, about 0.3 s to import) is imported by the functions
that build or read its objects, so quoting, and every command that only reads, never loads it.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

from lakehouse.core.partitioning import TRANSFORMS as TRANSFORMS
from lakehouse.core.partitioning import PartitionTerm as PartitionTerm
from lakehouse.core.partitioning import build_partition_spec as build_partition_spec
from lakehouse.core.partitioning import check_writable as check_writable
from lakehouse.core.partitioning import describe_partition_field as describe_partition_field
from lakehouse.core.partitioning import describe_term as describe_term
from lakehouse.core.partitioning import parse_partition_terms as parse_partition_terms
from lakehouse.errors import SchemaError

if TYPE_CHECKING:
    from pyiceberg.schema import Schema
    from pyiceberg.types import IcebergType, NestedField, PrimitiveType


@cache
def _primitives() -> dict[str, PrimitiveType]:
    from pyiceberg import types as t

    return {
        "boolean": t.BooleanType(), "bool": t.BooleanType(),
        "int": t.IntegerType(), "integer": t.IntegerType(),
        "long": t.LongType(), "bigint": t.LongType(),
        "float": t.FloatType(), "double": t.DoubleType(),
        "date": t.DateType(), "time": t.TimeType(),
        "timestamp": t.TimestampType(), "timestamptz": t.TimestamptzType(),
        "string": t.StringType(), "varchar": t.StringType(), "text": t.StringType(),
        "uuid": t.UUIDType(), "binary": t.BinaryType(), "blob": t.BinaryType(),
    }  # fmt: skip


_TOKEN = re.compile(r"\s*(<|>|\(|\)|,|:|\[|\]|[A-Za-z_][A-Za-z0-9_]*|\d+|\"(?:[^\"]|\"\")*\"|`[^`]*`)")


class _Tokens:
    def __init__(self, text: str) -> None:
        self.text = text
        self.items: list[str] = []
        pos = 0
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if not match:
                if text[pos:].strip() == "":
                    break
                raise SchemaError(f"cannot parse {text!r} at {text[pos : pos + 12]!r}")
            self.items.append(match.group(1))
            pos = match.end()
        self.index = 0

    def peek(self) -> str | None:
        return self.items[self.index] if self.index < len(self.items) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token.lower() != expected):
            want = f"{expected!r}" if expected else "more input"
            raise SchemaError(f"cannot parse {self.text!r}: expected {want}, found {token!r}")
        self.index += 1
        return token


def _name(token: str) -> str:
    if token[0] in '"`':
        return token[1:-1].replace('""', '"')
    return token


def parse_schema(text: str) -> Schema:
    """`"id long not null, ts timestamptz"` -> pyiceberg Schema (ids are reassigned by the catalog)."""
    from pyiceberg.schema import Schema

    tokens = _Tokens(text)
    counter = iter(range(1, 1_000_000))
    fields = _parse_fields(tokens, counter, closing=None)
    if tokens.peek() is not None:
        raise SchemaError(f"cannot parse schema {text!r}: unexpected {tokens.peek()!r}")
    if not fields:
        raise SchemaError("the schema is empty: give at least one `name type` column")
    return Schema(*fields)


def _parse_fields(tokens: _Tokens, counter, closing: str | None) -> list[NestedField]:  # type: ignore[no-untyped-def]
    from pyiceberg.types import NestedField

    fields: list[NestedField] = []
    seen: set[str] = set()
    while tokens.peek() is not None and tokens.peek() != closing:
        name = _name(tokens.take())
        if tokens.peek() == ":":
            tokens.take(":")
        if name.lower() in seen:
            raise SchemaError(f"duplicate column name {name!r} in schema {tokens.text!r}")
        seen.add(name.lower())
        field_type = _parse_type(tokens, counter)
        required = False
        if (tokens.peek() or "").lower() == "not":
            tokens.take()
            tokens.take("null")
            required = True
        fields.append(NestedField(next(counter), name, field_type, required=required))
        if tokens.peek() == ",":
            tokens.take(",")
    return fields


def _parse_type(tokens: _Tokens, counter) -> IcebergType:  # type: ignore[no-untyped-def]
    from pyiceberg import types as t

    word = tokens.take().lower()
    if word in _primitives():
        return _primitives()[word]
    if word == "decimal":
        tokens.take("(")
        precision = int(tokens.take())
        tokens.take(",")
        scale = int(tokens.take())
        tokens.take(")")
        return t.DecimalType(precision, scale)
    if word == "fixed":
        opener = tokens.take()
        length = int(tokens.take())
        tokens.take("]" if opener == "[" else ")")
        return t.FixedType(length)
    if word in ("list", "array"):
        tokens.take("<")
        element_id = next(counter)
        element = _parse_type(tokens, counter)
        tokens.take(">")
        return t.ListType(element_id, element, element_required=False)
    if word == "map":
        tokens.take("<")
        key_id, value_id = next(counter), next(counter)
        key = _parse_type(tokens, counter)
        tokens.take(",")
        value = _parse_type(tokens, counter)
        tokens.take(">")
        return t.MapType(key_id, key, value_id, value, value_required=False)
    if word == "struct":
        tokens.take("<")
        fields = _parse_fields(tokens, counter, closing=">")
        tokens.take(">")
        return t.StructType(*fields)
    raise SchemaError(
        f"unknown type {word!r} in {tokens.text!r}; use one of: {', '.join(sorted(set(_primitives())))}, "
        "decimal(p,s), fixed[n], list<T>, map<K,V>, struct<name: T, ...>"
    )


def format_schema(schema: Schema) -> list[dict[str, object]]:
    return [
        {"id": f.field_id, "name": f.name, "type": str(f.field_type), "required": f.required}
        for f in schema.fields
    ]


# ---------------------------------------------------------------- DuckDB types


def duckdb_type(field_type: IcebergType) -> str:
    """The DuckDB SQL type that reads and writes an Iceberg type without loss."""
    from pyiceberg import types as t

    simple = {
        t.BooleanType: "BOOLEAN", t.IntegerType: "INTEGER", t.LongType: "BIGINT", t.FloatType: "FLOAT",
        t.DoubleType: "DOUBLE", t.DateType: "DATE", t.TimeType: "TIME", t.TimestampType: "TIMESTAMP",
        t.TimestamptzType: "TIMESTAMPTZ", t.StringType: "VARCHAR", t.UUIDType: "UUID", t.BinaryType: "BLOB",
        t.FixedType: "BLOB",
    }  # fmt: skip
    for cls, name in simple.items():
        if isinstance(field_type, cls):
            return name
    if isinstance(field_type, t.DecimalType):
        return f"DECIMAL({field_type.precision},{field_type.scale})"
    if isinstance(field_type, t.ListType):
        return f"{duckdb_type(field_type.element_type)}[]"
    if isinstance(field_type, t.MapType):
        return f"MAP({duckdb_type(field_type.key_type)}, {duckdb_type(field_type.value_type)})"
    if isinstance(field_type, t.StructType):
        inner = ", ".join(f"{quote_ident(f.name)} {duckdb_type(f.field_type)}" for f in field_type.fields)
        return f"STRUCT({inner})"
    raise SchemaError(f"type {field_type} is not supported")


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
