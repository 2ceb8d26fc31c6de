"""Schema and partition-spec strings, and the mapping between Iceberg, DuckDB and Arrow types.

`"id long not null, ts timestamptz, tags list<string>"` and `"day(ts), bucket(16, user_id)"` are
what users type; pyiceberg `Schema` / `PartitionSpec` objects are what the catalog takes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema, index_by_id
from pyiceberg.transforms import (
    BucketTransform,
    DayTransform,
    HourTransform,
    IdentityTransform,
    MonthTransform,
    Transform,
    TruncateTransform,
    YearTransform,
)
from pyiceberg.types import (
    BinaryType,
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    FixedType,
    FloatType,
    IcebergType,
    IntegerType,
    ListType,
    LongType,
    MapType,
    NestedField,
    PrimitiveType,
    StringType,
    StructType,
    TimestampType,
    TimestamptzType,
    TimeType,
    UUIDType,
)

from lakehouse.errors import SchemaError

_PRIMITIVES: dict[str, PrimitiveType] = {
    "boolean": BooleanType(), "bool": BooleanType(),
    "int": IntegerType(), "integer": IntegerType(),
    "long": LongType(), "bigint": LongType(),
    "float": FloatType(), "double": DoubleType(),
    "date": DateType(), "time": TimeType(),
    "timestamp": TimestampType(), "timestamptz": TimestamptzType(),
    "string": StringType(), "varchar": StringType(), "text": StringType(),
    "uuid": UUIDType(), "binary": BinaryType(), "blob": BinaryType(),
}  # fmt: skip
TRANSFORMS = ("identity", "year", "month", "day", "hour", "bucket", "truncate")
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
    tokens = _Tokens(text)
    counter = iter(range(1, 1_000_000))
    fields = _parse_fields(tokens, counter, closing=None)
    if tokens.peek() is not None:
        raise SchemaError(f"cannot parse schema {text!r}: unexpected {tokens.peek()!r}")
    if not fields:
        raise SchemaError("the schema is empty: give at least one `name type` column")
    return Schema(*fields)


def _parse_fields(tokens: _Tokens, counter, closing: str | None) -> list[NestedField]:  # type: ignore[no-untyped-def]
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
    word = tokens.take().lower()
    if word in _PRIMITIVES:
        return _PRIMITIVES[word]
    if word == "decimal":
        tokens.take("(")
        precision = int(tokens.take())
        tokens.take(",")
        scale = int(tokens.take())
        tokens.take(")")
        return DecimalType(precision, scale)
    if word == "fixed":
        opener = tokens.take()
        length = int(tokens.take())
        tokens.take("]" if opener == "[" else ")")
        return FixedType(length)
    if word in ("list", "array"):
        tokens.take("<")
        element_id = next(counter)
        element = _parse_type(tokens, counter)
        tokens.take(">")
        return ListType(element_id, element, element_required=False)
    if word == "map":
        tokens.take("<")
        key_id, value_id = next(counter), next(counter)
        key = _parse_type(tokens, counter)
        tokens.take(",")
        value = _parse_type(tokens, counter)
        tokens.take(">")
        return MapType(key_id, key, value_id, value, value_required=False)
    if word == "struct":
        tokens.take("<")
        fields = _parse_fields(tokens, counter, closing=">")
        tokens.take(">")
        return StructType(*fields)
    raise SchemaError(
        f"unknown type {word!r} in {tokens.text!r}; use one of: {', '.join(sorted(set(_PRIMITIVES)))}, "
        "decimal(p,s), fixed[n], list<T>, map<K,V>, struct<name: T, ...>"
    )


# ---------------------------------------------------------------- partition specs


@dataclass(frozen=True)
class PartitionTerm:
    transform: str
    column: str
    param: int | None = None

    def field_name(self) -> str:
        suffix = {"identity": "", "bucket": "_bucket", "truncate": "_trunc"}.get(
            self.transform, f"_{self.transform}"
        )
        return f"{self.column}{suffix}"

    def iceberg_transform(self) -> Transform:  # type: ignore[type-arg]
        simple: dict[str, Transform] = {  # type: ignore[type-arg]
            "identity": IdentityTransform(), "year": YearTransform(), "month": MonthTransform(),
            "day": DayTransform(), "hour": HourTransform(),
        }  # fmt: skip
        if self.transform == "bucket":
            return BucketTransform(self.param or 0)
        if self.transform == "truncate":
            return TruncateTransform(self.param or 0)
        return simple[self.transform]


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += ch in "(["
        depth -= ch in ")]"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


_TERM = re.compile(r"^(\w+)\s*(?:\[(\d+)\])?\s*\((.*)\)$")


def parse_partition_terms(text: str | None) -> list[PartitionTerm]:
    """`"day(ts), country, bucket(16, user_id), truncate(4, name)"`; `bucket[16](user_id)` works too."""
    if not text or not text.strip():
        return []
    terms = []
    for item in _split_top_level(text):
        if re.fullmatch(r"\w+", item):
            terms.append(PartitionTerm("identity", item))
            continue
        match = _TERM.match(item)
        if not match:
            raise SchemaError(
                f"cannot parse partition term {item!r}; write e.g. day(ts) or bucket(16, user_id)"
            )
        name, bracket, inner = match.group(1).lower(), match.group(2), match.group(3)
        args = [a.strip() for a in inner.split(",") if a.strip()]
        if name not in TRANSFORMS:
            raise SchemaError(
                f"unknown partition transform {name!r} in {item!r}; use one of: {', '.join(TRANSFORMS)}"
            )
        if name in ("bucket", "truncate"):
            numbers = [a for a in args if a.isdigit()]
            columns = [a for a in args if not a.isdigit()]
            if bracket:
                numbers.append(bracket)
            if len(numbers) != 1 or len(columns) != 1 or int(numbers[0]) <= 0:
                raise SchemaError(
                    f"{name} needs a positive width and one column, as in {name}(16, col); got {item!r}"
                )
            terms.append(PartitionTerm(name, columns[0], int(numbers[0])))
        else:
            if len(args) != 1 or not re.fullmatch(r"\w+", args[0]):
                raise SchemaError(f"{name} takes one column, as in {name}(ts); got {item!r}")
            terms.append(PartitionTerm(name, args[0]))
    return terms


_TIME_TRANSFORM_SOURCES = {
    "year": (DateType, TimestampType, TimestamptzType),
    "month": (DateType, TimestampType, TimestamptzType),
    "day": (DateType, TimestampType, TimestamptzType),
    "hour": (TimestampType, TimestamptzType),
}


def check_writable(schema: Schema) -> None:
    """Refuse, at create, a column type lake cannot write (it would fail at the first ingest)."""
    for column in index_by_id(schema).values():  # nested fields too
        if isinstance(column.field_type, FixedType):
            raise SchemaError(
                f"column {schema.find_column_name(column.field_id)} is {column.field_type}, which lake cannot "
                "write (DuckDB writes no fixed-length Parquet values); use binary"
            )


def build_partition_spec(schema: Schema, terms: list[PartitionTerm]) -> PartitionSpec:
    check_writable(schema)  # every create builds its spec here
    fields = []
    names = {f.name.lower() for f in schema.fields}
    for offset, term in enumerate(terms):
        try:
            source = schema.find_field(term.column, case_sensitive=False)
        except ValueError:
            raise SchemaError(
                f"partition column {term.column!r} is not in the schema ({', '.join(f.name for f in schema.fields)})"
            ) from None
        allowed = _TIME_TRANSFORM_SOURCES.get(term.transform)
        if allowed and not isinstance(source.field_type, allowed):
            raise SchemaError(
                f"{term.transform}({term.column}) needs a date or timestamp column, not {source.field_type}"
            )
        if term.transform == "truncate" and not isinstance(
            source.field_type, (IntegerType, LongType, StringType, DecimalType, BinaryType)
        ):
            raise SchemaError(
                f"truncate({term.param}, {term.column}) needs an int, long, string, decimal or binary column"
            )
        if not term.iceberg_transform().can_transform(source.field_type):
            raise SchemaError(
                f"{describe_term(term)} cannot partition column {term.column} of type {source.field_type}"
            )
        term = PartitionTerm(term.transform, source.name, term.param)
        if term.transform != "identity" and term.field_name().lower() in names:
            raise SchemaError(
                f"partition field {term.field_name()!r} would clash with the column of that name"
            )
        fields.append(
            PartitionField(source.field_id, 1000 + offset, term.iceberg_transform(), term.field_name())
        )
    _check_avro_names(schema, fields)
    return PartitionSpec(*fields)


def _check_avro_names(schema: Schema, fields: list[PartitionField]) -> None:
    """pyiceberg 0.12 names the Avro type of every decimal(p,s) partition value `decimal_p_s` and of every
    uuid `uuid_fixed`, and defines it again for a second such field: invalid Avro that DuckDB (which
    aborts) and Java cannot read. Refuse the spec rather than write manifests nobody else can read."""
    seen: dict[str, str] = {}
    for pfield in fields:
        result = pfield.transform.result_type(schema.find_field(pfield.source_id).field_type)
        if isinstance(result, (DecimalType, UUIDType)):
            if (other := seen.get(str(result))) is not None:
                raise SchemaError(
                    f"partition fields {other} and {pfield.name} are both {result}; pyiceberg writes manifests "
                    "for that which other readers cannot read (a duplicate Avro type name): keep one of them"
                )
            seen[str(result)] = pfield.name


def describe_term(term: PartitionTerm) -> str:
    if term.transform == "identity":
        return f"identity({term.column})"
    if term.param is not None:
        return f"{term.transform}({term.param}, {term.column})"
    return f"{term.transform}({term.column})"


def describe_partition_field(field: PartitionField, schema: Schema) -> str:
    """`day(ts)`, `bucket(16, user_id)`, `country`: the form users typed."""
    column = schema.find_column_name(field.source_id)
    transform = field.transform
    if isinstance(transform, IdentityTransform):
        return str(column)
    if isinstance(transform, BucketTransform):
        return f"bucket({transform.num_buckets}, {column})"
    if isinstance(transform, TruncateTransform):
        return f"truncate({transform.width}, {column})"
    return f"{transform}({column})"


def format_schema(schema: Schema) -> list[dict[str, object]]:
    return [
        {"id": f.field_id, "name": f.name, "type": str(f.field_type), "required": f.required}
        for f in schema.fields
    ]


# ---------------------------------------------------------------- DuckDB types


def duckdb_type(field_type: IcebergType) -> str:
    """The DuckDB SQL type that reads and writes an Iceberg type without loss."""
    simple = {
        BooleanType: "BOOLEAN", IntegerType: "INTEGER", LongType: "BIGINT", FloatType: "FLOAT",
        DoubleType: "DOUBLE", DateType: "DATE", TimeType: "TIME", TimestampType: "TIMESTAMP",
        TimestamptzType: "TIMESTAMPTZ", StringType: "VARCHAR", UUIDType: "UUID", BinaryType: "BLOB",
        FixedType: "BLOB",
    }  # fmt: skip
    for cls, name in simple.items():
        if isinstance(field_type, cls):
            return name
    if isinstance(field_type, DecimalType):
        return f"DECIMAL({field_type.precision},{field_type.scale})"
    if isinstance(field_type, ListType):
        return f"{duckdb_type(field_type.element_type)}[]"
    if isinstance(field_type, MapType):
        return f"MAP({duckdb_type(field_type.key_type)}, {duckdb_type(field_type.value_type)})"
    if isinstance(field_type, StructType):
        inner = ", ".join(f"{quote_ident(f.name)} {duckdb_type(f.field_type)}" for f in field_type.fields)
        return f"STRUCT({inner})"
    raise SchemaError(f"type {field_type} is not supported")


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
