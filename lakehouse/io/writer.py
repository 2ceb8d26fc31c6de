"""Write Iceberg data files with DuckDB's COPY, once, and describe them as pyiceberg `DataFile`s.

DuckDB streams the query into zstd Parquet (parallel, bounded memory), lays partitioned files out
Hive-style under `<table>/data/<field>=<value>/` (named by `lakehouse.core.hive`'s rule), and carries Iceberg
field ids via FIELD_IDS. The files are written before any commit is attempted, so a retried commit never
re-reads a source. Every file is named `<write id>-<uuid>.parquet`: no write reuses a path.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.io.pyarrow import (
    StatisticsCollector,
    compute_statistics_plan,
    data_file_statistics_from_parquet_metadata,
    parquet_path_to_id_mapping,
)
from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
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
    StringType,
    TimestampType,
    TimestamptzType,
    TimeType,
    UUIDType,
)

from lakehouse.core.hive import partition_path
from lakehouse.core.properties import DEFAULT_TARGET_FILE_SIZE, TARGET_SIZE_PROPERTY
from lakehouse.core.schemas import duckdb_type, field_ids_literal, quote_ident, quote_literal
from lakehouse.io.engine import Engine
from lakehouse.io.storage import is_s3, local_path, spelled_like

# Field ids for the partition columns DuckDB writes beside the data; far from any schema's ids.
_SYNTHETIC_ID_BASE = 2_000_000_000
_EPOCH = date(1970, 1, 1)
_ZERO_UUID = "00000000-0000-0000-0000-000000000000"


@dataclass
class WrittenFiles:
    """What one write produced: data files ready to commit, and their paths for cleanup."""

    data_files: list[DataFile] = field(default_factory=list)

    @property
    def paths(self) -> list[str]:
        return [f.file_path for f in self.data_files]

    @property
    def rows(self) -> int:
        return sum(f.record_count for f in self.data_files)

    @property
    def bytes(self) -> int:
        return sum(f.file_size_in_bytes for f in self.data_files)


def target_file_size(table: Table) -> int:
    """The table's `write.target-file-size-bytes`; a value that is not a byte count is a one-line error."""
    from lakehouse.core.config import whole_number

    where = "table property of " + ".".join(table.name())
    return whole_number(
        table.properties, TARGET_SIZE_PROPERTY, DEFAULT_TARGET_FILE_SIZE, where, unit=" of bytes"
    )


def new_write_id() -> str:
    return uuid.uuid4().hex[:16]


def data_location(table: Table) -> str:
    return table.location().rstrip("/") + "/data"


def _partition_expression(
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


def copy_to_data_files(
    engine: Engine,
    table: Table,
    select_sql: str,
    *,
    metadata: TableMetadata | None = None,
    target_size: int | None = None,
    write_id: str | None = None,
    on_progress: Any = None,
) -> WrittenFiles:
    """Stream `select_sql` (columns named and typed as the table schema) into new data files."""
    metadata = metadata or table.metadata
    schema = metadata.schema()
    spec = metadata.spec()
    write_id = write_id or new_write_id()
    target = target_size or target_file_size(table)
    projections = _table_projections(schema)
    partition_columns: list[str] = []
    field_ids = field_ids_literal(schema)
    extra_ids: dict[str, int] = {}
    for offset, pfield in enumerate(spec.fields):
        source = schema.find_field(pfield.source_id)
        column = partition_column(pfield, source.name, source.field_type)
        partition_columns.append(quote_ident(column))
        if column == source.name:
            continue  # identity: DuckDB partitions by the data column itself
        expr = _partition_expression(engine, pfield, source.name, source.field_type)
        projections.append(f"{expr} AS {quote_ident(column)}")
        extra_ids[column] = _SYNTHETIC_ID_BASE + offset
    if extra_ids:
        field_ids = field_ids[:-1] + "".join(f", {quote_ident(n)}: {i}" for n, i in extra_ids.items()) + "}"
    options = [
        "FORMAT parquet",
        "COMPRESSION zstd",
        f"FIELD_IDS {field_ids}",
        "RETURN_STATS true",
        # A UUID per file: two writes with one write id, or two partitions DuckDB would put in one
        # folder (NULL and the text '__HIVE_DEFAULT_PARTITION__'), never share or overwrite a path.
        f"FILENAME_PATTERN {quote_literal(f'{write_id}-{{uuid}}')}",
        "OVERWRITE_OR_IGNORE true",
    ]
    if partition_columns:
        options += [f"PARTITION_BY ({', '.join(partition_columns)})", "WRITE_PARTITION_COLUMNS true"]
    else:
        options.append(f"FILE_SIZE_BYTES {int(target)}")
    written = WrittenFiles()
    for path, partition_keys in _run_copy(
        engine, select_sql, projections, data_location(table), options, on_progress
    ):
        partition = _partition_record(metadata, partition_keys)
        if spec.fields:
            path = _into_partition_folder(table, path, partition_path(spec, schema, partition))
        written.data_files.append(
            describe_data_file(table, metadata, path, partition, spec.spec_id, extra_ids)
        )
    return written


def partition_column(pfield: PartitionField, source_name: str, source_type: IcebergType) -> str:
    """The column DuckDB partitions by: the data column for identity, else a synthetic text column."""
    if not isinstance(pfield.transform, IdentityTransform) or pfield.name.lower() != source_name.lower():
        return pfield.name  # (an identity field named apart from its column, as other engines may, too)
    if isinstance(source_type, (BinaryType, FixedType)):
        return f"lake_partition_{pfield.field_id}"  # named apart from the data column: moved after the write
    return source_name


def _into_partition_folder(table: Table, path: str, folders: str) -> str:
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
    import os
    import shutil

    from lakehouse.io.storage import is_s3, local_path

    if not is_s3(source):
        destination = local_path(target)
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.link(local_path(source), destination)  # fails if the target exists
        os.unlink(local_path(source))
        return
    with table.io.new_input(source).open() as reader, table.io.new_output(target).create() as writer:
        shutil.copyfileobj(reader, writer, 8 * 1024 * 1024)
    table.io.delete(source)


def _table_projections(schema: Schema) -> list[str]:
    """Casting here makes every writer produce exactly the table's physical types."""
    return [
        f"CAST({quote_ident(f.name)} AS {duckdb_type(f.field_type)}) AS {quote_ident(f.name)}"
        for f in schema.fields
    ]


def _run_copy(
    engine: Engine, select_sql: str, projections: list[str], target: str, options: list[str], on_progress: Any
) -> list[tuple[str, dict[str, Any]]]:
    """Run one COPY with RETURN_STATS; (path, partition keys) of every non-empty file it wrote."""
    sql = (
        f"COPY (SELECT {', '.join(projections)} FROM ({select_sql}) AS lake_src) "
        f"TO {quote_literal(target)} ({', '.join(options)})"
    )
    rows = engine.run_with_progress(sql, on_progress)
    return [(spelled_like(row[0], target), row[5] or {}) for row in rows if row[1] != 0]


def _partition_record(metadata: TableMetadata, partition_keys: dict[str, Any]) -> Record:
    schema = metadata.schema()
    values = []
    for pfield in metadata.spec().fields:
        source = schema.find_field(pfield.source_id)
        key = partition_column(pfield, source.name, source.field_type)
        values.append(partition_value(pfield, source.field_type, partition_keys.get(key)))
    return Record(*values)


def describe_data_file(
    table: Table,
    metadata: TableMetadata,
    path: str,
    partition: Record,
    spec_id: int,
    extra_ids: dict[str, int] | None = None,
) -> DataFile:
    """A pyiceberg DataFile for a written Parquet file, with statistics from its footer.

    `extra_ids` are the synthetic field ids of partition columns DuckDB wrote beside the data; they
    take part in reading the footer but not in the statistics.
    """
    schema = metadata.schema()
    input_file = table.io.new_input(path)
    with input_file.open() as stream:
        parquet_metadata = pq.read_metadata(stream)
    mapping = parquet_path_to_id_mapping(schema)
    plan = compute_statistics_plan(schema, metadata.properties)
    for name, synthetic_id in (extra_ids or {}).items():
        mapping[name] = synthetic_id
        plan[synthetic_id] = StatisticsCollector(synthetic_id, StringType(), plan_none_mode(), name)
    statistics = data_file_statistics_from_parquet_metadata(parquet_metadata, plan, mapping)
    for synthetic_id in (extra_ids or {}).values():
        statistics.column_sizes.pop(synthetic_id, None)
    return DataFile.from_args(
        content=DataFileContent.DATA,
        file_path=path,
        file_format=FileFormat.PARQUET,
        partition=partition,
        file_size_in_bytes=len(input_file),
        sort_order_id=None,
        spec_id=spec_id,
        equality_ids=None,
        key_metadata=None,
        **statistics.to_serialized_dict(),
    )


def plan_none_mode() -> Any:
    from pyiceberg.io.pyarrow import MetricModeTypes, MetricsMode

    return MetricsMode(MetricModeTypes.NONE)


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
        return base64.b64decode(text)  # the folder text of bytes is base64 (`_partition_expression`)
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


def copy_to_partition(
    engine: Engine,
    table: Table,
    select_sql: str,
    *,
    directory: str,
    partition: Record,
    spec_id: int,
    file_name: str,
    max_file_size: int | None = None,
    metadata: TableMetadata | None = None,
    on_progress: Any = None,
) -> WrittenFiles:
    """Stream `select_sql` into files of ONE known partition (used by compaction), no PARTITION_BY.

    Without `max_file_size` the result is exactly one file, `<directory>/<file_name>-0.parquet`, and an
    ORDER BY in `select_sql` is kept. With it, DuckDB rotates files at that many bytes on disk
    (`<file_name>-<i>.parquet`); run single-threaded to keep an ORDER BY within each file.
    """
    metadata = metadata or table.metadata
    schema = metadata.schema()
    projections = _table_projections(schema)
    options = [
        "FORMAT parquet",
        "COMPRESSION zstd",
        f"FIELD_IDS {field_ids_literal(schema)}",
        "RETURN_STATS true",
    ]
    directory = directory.rstrip("/")
    if not is_s3(directory):
        local_path(directory).mkdir(parents=True, exist_ok=True)
    if max_file_size is None:
        target = f"{directory}/{file_name}-0.parquet"
    else:
        target = directory
        options += [
            f"FILENAME_PATTERN {quote_literal(f'{file_name}-{{i}}')}",
            f"FILE_SIZE_BYTES {int(max_file_size)}",
            "OVERWRITE_OR_IGNORE true",
        ]
    written = WrittenFiles()
    for path, _keys in _run_copy(engine, select_sql, projections, target, options, on_progress):
        written.data_files.append(describe_data_file(table, metadata, path, partition, spec_id))
    return written
