"""Partition-spec strings: `"day(ts), country, bucket(16, user_id)"` as users type them, checked against
a schema and built into the pyiceberg `PartitionSpec` the catalog takes, and described back.

pyiceberg (with pydantic, about 0.3 s to import) is imported by the functions that build or read its
objects, so parsing terms, and every command that only reads, never loads it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lakehouse.errors import SchemaError

if TYPE_CHECKING:
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.transforms import Transform

TRANSFORMS = ("identity", "year", "month", "day", "hour", "bucket", "truncate")


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
        from pyiceberg import transforms as t

        if self.transform == "bucket":
            return t.BucketTransform(self.param or 0)
        if self.transform == "truncate":
            return t.TruncateTransform(self.param or 0)
        simple: dict[str, Transform] = {  # type: ignore[type-arg]
            "identity": t.IdentityTransform(), "year": t.YearTransform(), "month": t.MonthTransform(),
            "day": t.DayTransform(), "hour": t.HourTransform(),
        }  # fmt: skip
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


_TIME_TRANSFORM_SOURCES = {  # the type names pyiceberg's classes are named for
    "year": ("DateType", "TimestampType", "TimestamptzType"),
    "month": ("DateType", "TimestampType", "TimestamptzType"),
    "day": ("DateType", "TimestampType", "TimestamptzType"),
    "hour": ("TimestampType", "TimestamptzType"),
}


def check_writable(schema: Schema) -> None:
    """Refuse, at create, a column type lake cannot write (it would fail at the first ingest)."""
    from pyiceberg.schema import index_by_id
    from pyiceberg.types import FixedType

    for column in index_by_id(schema).values():  # nested fields too
        if isinstance(column.field_type, FixedType):
            raise SchemaError(
                f"column {schema.find_column_name(column.field_id)} is {column.field_type}, which lake cannot "
                "write (DuckDB writes no fixed-length Parquet values); use binary"
            )


def build_partition_spec(schema: Schema, terms: list[PartitionTerm]) -> PartitionSpec:
    from pyiceberg import types
    from pyiceberg.partitioning import PartitionField, PartitionSpec

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
        allowed = tuple(getattr(types, name) for name in _TIME_TRANSFORM_SOURCES.get(term.transform, ()))
        if allowed and not isinstance(source.field_type, allowed):
            raise SchemaError(
                f"{term.transform}({term.column}) needs a date or timestamp column, not {source.field_type}"
            )
        if term.transform == "truncate" and not isinstance(
            source.field_type,
            (types.IntegerType, types.LongType, types.StringType, types.DecimalType, types.BinaryType),
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
    from pyiceberg.types import DecimalType, UUIDType

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
    from pyiceberg.transforms import BucketTransform, IdentityTransform, TruncateTransform

    column = schema.find_column_name(field.source_id)
    transform = field.transform
    if isinstance(transform, IdentityTransform):
        return str(column)
    if isinstance(transform, BucketTransform):
        return f"bucket({transform.num_buckets}, {column})"
    if isinstance(transform, TruncateTransform):
        return f"truncate({transform.width}, {column})"
    return f"{transform}({column})"
