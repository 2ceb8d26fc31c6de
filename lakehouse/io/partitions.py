"""Partition values on their way into data files: the folder text DuckDB computes for each value, the
manifest value read back from that text, and the move of a file DuckDB put in another folder.

Folder texts follow `lakehouse.core.hive`'s rule; bucket and truncate use pyiceberg-core's exact
transforms, registered in DuckDB as Arrow UDFs.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import uuid
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.partitioning import PartitionField, partition_record_value
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.transforms import (
    BucketTransform,
    DayTransform,
    HourTransform,
    IdentityTransform,
    MonthTransform,
    TruncateTransform,
    YearTransform,
)
from pyiceberg.typedef import Record
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
    LongType,
    NestedField,
    TimestampType,
    TimestamptzType,
    TimeType,
    UUIDType,
)

from lakehouse.core.schemas import duckdb_type, quote_ident
from lakehouse.io.engine import Engine
from lakehouse.io.storage import is_s3, local_path

_EPOCH = date(1970, 1, 1)
_ZERO_UUID = "00000000-0000-0000-0000-000000000000"


def partition_expression(
    engine: Engine, pfield: PartitionField, source_name: str, source_type: IcebergType
) -> str:
    """A DuckDB expression whose text is the partition value's folder text (see `lakehouse.core.hive`)."""
    col = quote_ident(source_name)
    transform = pfield.transform
    if isinstance(source_type, TimestamptzType) and isinstance(
        transform, (YearTransform, MonthTransform, DayTransform, HourTransform)
    ):
        # Iceberg's day of an instant is its UTC day, whatever the session's zone
        col = f"timezone('UTC', {col})"
    if isinstance(transform, YearTransform):
        return f"strftime({col}, '%Y')"
    if isinstance(transform, MonthTransform):
        return f"strftime({col}, '%Y-%m')"
    if isinstance(transform, DayTransform):
        return f"strftime({col}, '%Y-%m-%d')"
    if isinstance(transform, HourTransform):
        return f"strftime({col}, '%Y-%m-%d-%H')"
    if isinstance(transform, IdentityTransform) and isinstance(source_type, (BinaryType, FixedType)):
        return f"to_base64({col})"  # DuckDB cannot name a folder after bytes that are not UTF-8
    if isinstance(transform, IdentityTransform):
        return col
    if isinstance(transform, (BucketTransform, TruncateTransform)):
        # Iceberg's exact murmur3 bucketing and truncation, from pyiceberg-core, as an Arrow UDF.
        fn_name = _udf_name(transform, source_type)
        arrow_fn = transform.pyarrow_transform(source_type)
        if isinstance(transform, BucketTransform):
            out_type = "INTEGER"
        elif isinstance(source_type, (BinaryType, FixedType)):
            out_type = "BLOB"
        else:
            out_type = duckdb_type(source_type)
        _register(engine, fn_name, arrow_fn, source_type, duckdb_type(source_type), out_type)
        if out_type == "BLOB":
            return f"to_base64({fn_name}({col}))"
        return f"{fn_name}({col})"
    raise ValueError(f"unsupported transform {transform}")


def _udf_name(transform: Any, source_type: IcebergType) -> str:
    """One name per (transform, type): a connection may write several tables with different specs."""
    return "lake_" + re.sub(r"[^a-z0-9]+", "_", f"{transform}_{source_type}".lower()).strip("_")


def _register(
    engine: Engine, name: str, arrow_fn: Any, source_type: IcebergType, in_type: str, out_type: str
) -> None:
    def udf(values: pa.Array) -> pa.Array:
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        return arrow_fn(iceberg_arrow(values, source_type))

    try:
        engine.register_function(name, udf, [in_type], out_type)
    except Exception as exc:  # already registered on this connection
        if "already" not in str(exc).lower():
            raise


def iceberg_arrow(values: pa.Array, source_type: IcebergType) -> pa.Array:
    """DuckDB's Arrow form of a column as pyiceberg-core's transforms expect it.

    DuckDB hands a UUID over as its 36-character text and fixed[n] as variable binary; Iceberg
    hashes the UUID's 16 bytes and reads fixed[n] as fixed_size_binary(n).
    """
    if isinstance(source_type, UUIDType) and pa.types.is_string(values.type):
        hex_digits = pc.replace_substring(pc.fill_null(values, _ZERO_UUID), "-", "").cast(pa.binary(32))
        start = hex_digits.offset * 32  # fixed-width: the digits lie back to back
        data = bytes.fromhex(
            hex_digits.buffers()[1].to_pybytes()[start : start + 32 * len(values)].decode("ascii")
        )
        valid = values.is_valid().buffers()[1] if values.null_count else None
        return pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(16), len(values), [valid, pa.py_buffer(data)], values.null_count
        )
    if isinstance(source_type, FixedType) and not pa.types.is_fixed_size_binary(values.type):
        return values.cast(pa.binary(len(source_type)))
    return values


def partition_column(pfield: PartitionField, source_name: str, source_type: IcebergType) -> str:
    """The column DuckDB partitions by: the data column for identity, else a synthetic text column."""
    if not isinstance(pfield.transform, IdentityTransform) or pfield.name.lower() != source_name.lower():
        return pfield.name  # (an identity field named apart from its column, as other engines may, too)
    if isinstance(source_type, (BinaryType, FixedType)):
        return f"lake_partition_{pfield.field_id}"  # named apart from the data column: moved after the write
    return source_name


def into_partition_folder(table: Table, path: str, folders: str) -> str:
    """Move a file DuckDB named differently from `lakehouse.core.hive`'s rule into its folder.

    DuckDB's names agree with the rule except for the empty string, the text
    '__HIVE_DEFAULT_PARTITION__', texts starting with `~`, binary values, and some float texts.
    """
    parts = path.split("/")
    depth = folders.count("/") + 1
    if "/".join(parts[-depth - 1 : -1]) == folders:
        return path
    target = "/".join(parts[: -depth - 1]) + "/" + folders + "/" + parts[-1]
    _move(table, path, target)
    return target


def _move(table: Table, source: str, target: str) -> None:
    """Move a file we just wrote; never onto an existing file."""
    if not is_s3(source):
        destination = local_path(target)
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.link(local_path(source), destination)  # fails if the target exists
        os.unlink(local_path(source))
        return
    with table.io.new_input(source).open() as reader, table.io.new_output(target).create() as writer:
        shutil.copyfileobj(reader, writer, 8 * 1024 * 1024)
    table.io.delete(source)


def partition_record(metadata: TableMetadata, partition_keys: dict[str, Any]) -> Record:
    schema = metadata.schema()
    values = []
    for pfield in metadata.spec().fields:
        source = schema.find_field(pfield.source_id)
        key = partition_column(pfield, source.name, source.field_type)
        values.append(partition_value(pfield, source.field_type, partition_keys.get(key)))
    return Record(*values)


def partition_value(pfield: PartitionField, source_type: IcebergType, text: str | None) -> Any:
    """The manifest value of a partition from the text DuckDB put in the path."""
    if text is None:
        return None
    transform = pfield.transform
    if isinstance(transform, YearTransform):
        return int(text) - 1970
    if isinstance(transform, MonthTransform):
        year, month = text.split("-")
        return (int(year) - 1970) * 12 + int(month) - 1
    if isinstance(transform, DayTransform):
        return (date.fromisoformat(text) - _EPOCH).days
    if isinstance(transform, HourTransform):
        day_text, hour = text.rsplit("-", 1)
        return (date.fromisoformat(day_text) - _EPOCH).days * 24 + int(hour)
    if isinstance(transform, BucketTransform):
        return int(text)
    if isinstance(source_type, (BinaryType, FixedType)):
        return base64.b64decode(text)  # the folder text of bytes is base64 (`partition_expression`)
    # pyiceberg's public converter looks the source type up in a schema; one field is enough.
    schema = Schema(NestedField(pfield.source_id, "value", source_type, required=False))
    return partition_record_value(pfield, _typed(source_type, text), schema)


def _typed(source_type: IcebergType, text: str) -> Any:
    if isinstance(source_type, (IntegerType, LongType)):
        return int(text)
    if isinstance(source_type, BooleanType):
        return text.lower() == "true"
    if isinstance(source_type, (FloatType, DoubleType)):
        return float(text)
    if isinstance(source_type, DecimalType):
        return Decimal(text)
    if isinstance(source_type, DateType):
        return date.fromisoformat(text)
    if isinstance(source_type, (TimestampType, TimestamptzType)):
        return datetime.fromisoformat(text)
    if isinstance(source_type, TimeType):
        return time.fromisoformat(text)
    if isinstance(source_type, UUIDType):
        return uuid.UUID(text)
    return text
