"""Write Iceberg data files with DuckDB's COPY, once, and describe them as pyiceberg `DataFile`s.

DuckDB streams the query into zstd Parquet (parallel, bounded memory), lays partitioned files out
Hive-style under `<table>/data/<field>=<value>/` (named by `lakehouse.core.hive`'s rule), and carries Iceberg
field ids via FIELD_IDS. The files are written before any commit is attempted, so a retried commit never
re-reads a source. Every file is named `<write id>-<uuid>.parquet`: no write reuses a path.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pyarrow.parquet as pq
from pyiceberg.io.pyarrow import (
    MetricModeTypes,
    MetricsMode,
    StatisticsCollector,
    compute_statistics_plan,
    data_file_statistics_from_parquet_metadata,
    parquet_path_to_id_mapping,
)
from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.typedef import Record
from pyiceberg.types import IcebergType, ListType, MapType, StringType, StructType

from lakehouse.core.hive import partition_path
from lakehouse.core.properties import DEFAULT_TARGET_FILE_SIZE, TARGET_SIZE_PROPERTY
from lakehouse.core.schemas import duckdb_type, quote_ident, quote_literal
from lakehouse.io.engine import Engine
from lakehouse.io.partitions import (
    into_partition_folder,
    partition_column,
    partition_expression,
    partition_record,
)
from lakehouse.io.storage import is_s3, local_path, spelled_like

# Field ids for the partition columns DuckDB writes beside the data; far from any schema's ids.
_SYNTHETIC_ID_BASE = 2_000_000_000


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

    def per_partition(self, data_root: str) -> dict[str, int]:
        """Files written per partition folder under `data_root` (`ts_day=2026-06-01/country=US`),
        sorted; {} when the files lie directly in `data_root` (an unpartitioned table)."""
        counts: dict[str, int] = {}
        root = data_root.rstrip("/") + "/"
        for path in self.paths:
            folder = path.rsplit("/", 1)[0] + "/"
            if folder.startswith(root) and folder != root:
                key = folder[len(root) : -1]
                counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items()))


def target_file_size(table: Table) -> int:
    """The table's `write.target-file-size-bytes`; a value that is not a byte count is a one-line error."""
    from lakehouse.core.settings import whole_number

    where = "table property of " + ".".join(table.name())
    return whole_number(
        table.properties, TARGET_SIZE_PROPERTY, DEFAULT_TARGET_FILE_SIZE, where, unit=" of bytes"
    )


def new_write_id() -> str:
    return uuid.uuid4().hex[:16]


def data_location(table: Table) -> str:
    return table.location().rstrip("/") + "/data"


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
        expr = partition_expression(engine, pfield, source.name, source.field_type)
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
    # one file per partition: the engine keeps io.engine.MAX_OPEN_PARTITION_FILES files open
    copied = _run_copy(engine, select_sql, projections, data_location(table), options, on_progress)
    for path, partition_keys in copied:
        partition = partition_record(metadata, partition_keys)
        if spec.fields:
            path = into_partition_folder(table, path, partition_path(spec, schema, partition))
        written.data_files.append(
            describe_data_file(table, metadata, path, partition, spec.spec_id, extra_ids)
        )
    return written


def field_ids_literal(schema: Schema) -> str:
    """DuckDB COPY's FIELD_IDS struct, so Parquet columns carry Iceberg field ids."""

    def nested(field_type: IcebergType, field_id: int) -> str:
        if isinstance(field_type, StructType):
            inner = ", ".join(
                f"{quote_ident(f.name)}: {nested(f.field_type, f.field_id)}" for f in field_type.fields
            )
            return f"{{__duckdb_field_id: {field_id}, {inner}}}"
        if isinstance(field_type, ListType):
            return f"{{__duckdb_field_id: {field_id}, element: {nested(field_type.element_type, field_type.element_id)}}}"
        if isinstance(field_type, MapType):
            key = nested(field_type.key_type, field_type.key_id)
            value = nested(field_type.value_type, field_type.value_id)
            return f"{{__duckdb_field_id: {field_id}, key: {key}, value: {value}}}"
        return str(field_id)

    return (
        "{"
        + ", ".join(f"{quote_ident(f.name)}: {nested(f.field_type, f.field_id)}" for f in schema.fields)
        + "}"
    )


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


def plan_none_mode() -> MetricsMode:
    return MetricsMode(MetricModeTypes.NONE)


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
