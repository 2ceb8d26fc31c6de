"""How a source's columns map onto a table: the Iceberg schema of a source, which source types fit which
column types, and the SELECT that casts each source column to its table column (adding new columns
with `--evolve`, filling missing ones with NULL, refusing nulls in required ones).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import pyarrow as pa
from pyiceberg.schema import Schema
from pyiceberg.types import (
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
    StringType,
    StructType,
    TimestampType,
    TimestamptzType,
    TimeType,
    UUIDType,
)

from lakehouse.core.schemas import duckdb_type, quote_ident, quote_literal
from lakehouse.errors import SchemaMismatchError
from lakehouse.io.engine import Engine
from lakehouse.io.inference import source_relation, source_schema
from lakehouse.io.sources import SourceSet, first_out_of_range
from lakehouse.table.producers import iceberg_schema


def infer_schema(engine: Engine, sources: SourceSet) -> Schema:
    """The Iceberg schema a table made from `sources` gets (`lake create --like`, `ingest --create`)."""
    return iceberg_schema_from_arrow(source_schema(engine, source_relation(engine, sources), sources))


def iceberg_schema_from_arrow(arrow_schema: pa.Schema) -> Schema:
    names = [n.lower() for n in arrow_schema.names]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SchemaMismatchError(f"duplicate column names in source: {', '.join(dupes)}")

    # An all-null column (e.g. a JSON key that is always null) has no type yet: take it as string.
    arrow_schema = pa.schema(
        [f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in arrow_schema]
    )
    try:
        return iceberg_schema(arrow_schema)
    except Exception as exc:
        raise SchemaMismatchError(f"cannot map source schema to Iceberg types: {exc}") from None


def compatible(source: IcebergType, target: IcebergType) -> str | None:
    """None when `source` values can be written into a `target` column without loss, else the reason."""
    if isinstance(target, FixedType):
        return "lake cannot write fixed[n]: DuckDB writes no fixed-length Parquet values; use binary"
    if source == target or _same_shape(source, target):
        return None
    numeric = (IntegerType, LongType)
    if isinstance(source, numeric) and isinstance(target, (LongType, FloatType, DoubleType, DecimalType)):
        return None
    if isinstance(source, FloatType) and isinstance(target, DoubleType):
        return None
    if isinstance(source, DecimalType) and isinstance(target, DecimalType):
        if source.scale != target.scale:
            return f"decimal scale changes from {source.scale} to {target.scale}"
        return None if target.precision >= source.precision else "decimal precision would shrink"
    temporal = (DateType, TimestampType, TimestamptzType)
    if isinstance(source, temporal) and isinstance(target, (TimestampType, TimestamptzType)):
        return None
    if isinstance(source, StringType) and isinstance(
        target, (DateType, TimeType, TimestampType, TimestamptzType, UUIDType)
    ):
        return None  # text timestamps are normal in JSON; DuckDB's cast reports bad values
    return "types are incompatible"


def _same_shape(a: IcebergType, b: IcebergType) -> bool:
    """Nested types equal but for their field ids: a REST catalog assigns a new table's ids itself
    (SeaweedFS numbers a struct's nested fields depth-first), the source's come from pyiceberg."""
    if isinstance(a, StructType) and isinstance(b, StructType):
        return len(a.fields) == len(b.fields) and all(
            x.name == y.name and x.required == y.required and (_same_or_shape(x.field_type, y.field_type))
            for x, y in zip(a.fields, b.fields, strict=True)
        )
    if isinstance(a, ListType) and isinstance(b, ListType):
        return a.element_required == b.element_required and _same_or_shape(a.element_type, b.element_type)
    if isinstance(a, MapType) and isinstance(b, MapType):
        return (
            a.value_required == b.value_required and _same_or_shape(a.key_type, b.key_type)
            and _same_or_shape(a.value_type, b.value_type)
        )  # fmt: skip
    return False


def _same_or_shape(a: IcebergType, b: IcebergType) -> bool:
    return a == b or _same_shape(a, b)


@dataclass(frozen=True)
class ColumnPlan:
    """How source columns map onto the table: the SELECT to stream, and any new columns."""

    select_sql: str
    new_columns: tuple[str, ...]
    evolved_schema: Schema | None


def plan_columns(
    table_name: str,
    schema: Schema,
    source: pa.Schema,
    relation_sql: str,
    evolve: bool,
    paths: list[str],
    untyped: Collection[str] = (),
    sources: SourceSet | None = None,
) -> ColumnPlan:
    source_schema_iceberg = iceberg_schema_from_arrow(source)
    by_name = {f.name.lower(): f for f in source_schema_iceberg.fields}
    table_names = {f.name.lower() for f in schema.fields}
    extra = [f.name for f in source_schema_iceberg.fields if f.name.lower() not in table_names]
    where = paths[0] if len(paths) == 1 else f"{paths[0]} and {len(paths) - 1} more"
    if extra and not evolve:
        raise SchemaMismatchError(
            f"source {where} has columns that {table_name} lacks: {', '.join(extra[:10])}"
            f"{f' and {len(extra) - 10} more' if len(extra) > 10 else ''}; "
            "pass --evolve to add them (union by name)"
        )
    evolved = None
    if extra:
        evolved = _union_schema(schema, [by_name[n.lower()] for n in extra])
        schema = evolved
    projections = []
    for target in schema.fields:
        src = by_name.get(target.name.lower())
        if src is None:
            if target.required:
                raise SchemaMismatchError(
                    f"column {target.name} is required by {table_name} but missing in {where}"
                )
            projections.append(
                f"CAST(NULL AS {duckdb_type(target.field_type)}) AS {quote_ident(target.name)}"
            )
            continue
        reason = None if src.name.lower() in untyped else compatible(src.field_type, target.field_type)
        # DuckDB types some JSON integer columns HUGEINT (one with a negative value, for one): into an
        # int or long column they go whenever every value fits, and are cast
        if (
            reason
            and sources is not None
            and _whole_decimal(src.field_type)
            and _refuse_out_of_range(sources, table_name, target.name, target.field_type)
        ):
            reason = None
        if reason:
            raise SchemaMismatchError(
                f"column {target.name}: table {table_name} has {target.field_type}, source {where} has "
                f"{src.field_type} ({reason})"
            )
        expr = quote_ident(src.name)
        if isinstance(target.field_type, TimestampType) and isinstance(src.field_type, StringType):
            # text with an offset is converted to UTC (the session zone), never stripped of its offset
            expr = f"CAST(CAST({expr} AS TIMESTAMPTZ) AS TIMESTAMP)"
        if target.required:
            message = quote_literal(
                f"column {target.name} is NOT NULL in {table_name} but {where} has a null"
            )
            expr = f"CASE WHEN {expr} IS NULL THEN error({message}) ELSE {expr} END"
        projections.append(f"CAST({expr} AS {duckdb_type(target.field_type)}) AS {quote_ident(target.name)}")
    sql = f"SELECT {', '.join(projections)} FROM ({relation_sql}) AS lake_in"
    return ColumnPlan(sql, tuple(extra), evolved)


_INTEGER_RANGES = {IntegerType: (-(2**31), 2**31 - 1), LongType: (-(2**63), 2**63 - 1)}


def _whole_decimal(source: IcebergType) -> bool:
    """DuckDB types JSON integers beyond BIGINT as HUGEINT, which arrives as decimal(38,0)."""
    return isinstance(source, DecimalType) and source.scale == 0


def _refuse_out_of_range(sources: SourceSet, table_name: str, column: str, target: IcebergType) -> bool:
    """An int/long column and a source integer beyond its range: name the column, the value, file and
    line. True when `target` is such a column and every value fits it."""
    bounds = next((b for cls, b in _INTEGER_RANGES.items() if isinstance(target, cls)), None)
    if bounds is None:
        return False
    found = first_out_of_range(sources, column, *bounds)
    if found is None:
        return True
    path, line, value = found
    at = f" at line {line}" if line is not None else ""
    raise SchemaMismatchError(
        f"column {column} of {table_name} is {target}, but {path}{at} holds {value}, beyond its range"
    )


def _union_schema(schema: Schema, new_fields: list[NestedField]) -> Schema:
    next_id = max(schema.highest_field_id, 0)
    fields = list(schema.fields)
    for f in new_fields:
        next_id += 1
        fields.append(NestedField(next_id, f.name, f.field_type, required=False))
    return Schema(*fields, schema_id=schema.schema_id + 1, identifier_field_ids=schema.identifier_field_ids)
