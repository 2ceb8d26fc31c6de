"""Ingest CSV, JSON Lines and Parquet into an Iceberg table as exactly one snapshot.

DuckDB reads the sources in parallel and streams them into data files (`lakehouse.io.inference` reads
them, `lakehouse.ops.columns` maps their columns onto the table, `lakehouse.io.writer` writes); the
files are described from their footers and committed in one append (or overwrite, or with `--mode
merge --key` an upsert through `lakehouse.ops.upsert`). Any failure
removes the files this ingest wrote, so the table and its location are left as they were.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyiceberg.table import Table, Transaction
from pyiceberg.table.snapshots import Operation

from lakehouse.core.hooks import checkpoint
from lakehouse.core.progress import bytes_read
from lakehouse.core.schemas import parse_partition_terms
from lakehouse.errors import CommitError, LakehouseError, NoSuchTableError, StorageError
from lakehouse.io.cleanup import remove_write
from lakehouse.io.engine import Engine
from lakehouse.io.explain import explain_write_error, is_duckdb_error
from lakehouse.io.inference import source_relation, source_schema, untyped_columns
from lakehouse.io.sources import SourceSet
from lakehouse.io.writer import WrittenFiles, copy_to_data_files, data_location, new_write_id
from lakehouse.ops.columns import ColumnPlan, infer_schema, plan_columns
from lakehouse.ops.upsert import NEW, UpsertPlan, check_keys, plan_upsert, stage_upsert, write_upsert
from lakehouse.table.commits import RetryPolicy, commit_with_retry
from lakehouse.table.producers import stage_append, stage_rewrite, table_io
from lakehouse.table.snapshots import live_files
from lakehouse.table.tables import create_table, drop_if_empty, load_table

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

    from lakehouse.core.config import Profile

MODES = ("append", "overwrite", "merge")
_SUMMARY_SOURCES_MAX = 4000


@dataclass
class IngestResult:
    table: str
    mode: str
    rows: int
    files: int
    bytes: int
    snapshot_id: int | None
    sources: list[str]
    seconds: float = 0.0
    evolved_columns: list[str] = field(default_factory=list)
    dry_run: bool = False
    merge: dict[str, Any] | None = None  # mode merge: keys, rows updated/inserted, files rewritten
    # files written per partition folder ({} for an unpartitioned table): one per partition, unless
    # the write spans more partitions than io.engine.MAX_OPEN_PARTITION_FILES
    files_per_partition: dict[str, int] = field(default_factory=dict)

    @property
    def partitions(self) -> int:
        return len(self.files_per_partition)

    @property
    def max_files_per_partition(self) -> int:
        return max(self.files_per_partition.values(), default=0)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.__dict__,
            "partitions": self.partitions,
            "max_files_per_partition": self.max_files_per_partition,
        }


def ingest_into(
    profile: Profile,
    catalog: Catalog,
    engine: Engine,
    name: str,
    sources: SourceSet,
    *,
    mode: str = "append",
    create: bool = False,
    partition_by: str | None = None,
    evolve: bool = False,
    properties: dict[str, str] | None = None,
    on_progress: Callable[[float], None] | None = None,
    key: list[str] | None = None,
    dry_run: bool = False,
    summary: dict[str, str] | None = None,
) -> IngestResult:
    """`lake ingest`: into an existing table, or (`create`) into one made from the sources' schema."""
    _check_mode(mode, key, dry_run)
    try:
        load_table(catalog, name)
    except NoSuchTableError:
        if dry_run:
            raise NoSuchTableError(
                f"table {name} does not exist; --dry-run plans a merge into an existing table"
            ) from None
        if not create:
            raise NoSuchTableError(
                f"table {name} does not exist; pass --create to make it from the source"
            ) from None
        schema = infer_schema(engine, sources)
        create_table(catalog, name, schema, parse_partition_terms(partition_by), properties)
        created = True
    else:
        created = False
        if partition_by:
            raise LakehouseError(
                f"table {name} exists; --partition-by applies only with --create on a new table"
            )
    try:
        return ingest(
            profile, engine, lambda: load_table(catalog, name), name, sources,
            mode=mode, evolve=evolve, on_progress=on_progress, key=key, dry_run=dry_run, summary=summary,
        )  # fmt: skip
    except BaseException:
        if created:  # a failed --create ingest leaves no empty table behind...
            drop_if_empty(catalog, name)  # ...but keeps one another writer filled
        raise


def ingest(
    profile: Profile,
    engine: Engine,
    load: Callable[[], Table],
    table_name: str,
    sources: SourceSet,
    *,
    mode: str = "append",
    evolve: bool = False,
    properties: dict[str, str] | None = None,
    on_progress: Callable[[float], None] | None = None,
    key: list[str] | None = None,
    dry_run: bool = False,
    summary: dict[str, str] | None = None,
) -> IngestResult:
    """`summary`: extra entries for the snapshot's summary (`lake seed` records its file hash there)."""
    _check_mode(mode, key, dry_run)
    start = time.perf_counter()
    table = load()
    relation = source_relation(engine, sources, table.schema())
    arrow_schema = source_schema(engine, relation, sources)
    untyped = untyped_columns(engine, relation)
    plan = plan_columns(
        table_name, table.schema(), arrow_schema, relation, evolve, sources.paths, untyped, sources=sources
    )
    metadata = table.metadata
    if plan.evolved_schema is not None:
        metadata = metadata.model_copy(
            update={
                "schemas": [*metadata.schemas, plan.evolved_schema],
                "current_schema_id": plan.evolved_schema.schema_id,
            }
        )
    write_id = new_write_id()
    written = WrittenFiles()
    merging: UpsertPlan | None = None
    try:
        checkpoint("before-write")
        if mode == "merge":
            with engine.temp_table(NEW, plan.select_sql):
                where = (
                    sources.paths[0]
                    if len(sources.paths) == 1
                    else f"{sources.paths[0]} and {len(sources.paths) - 1} more"
                )
                keys = check_keys(engine, table, table_name, key or [], where)
                merging = plan_upsert(engine, table, table_name, keys, table.metadata.current_snapshot_id)
                if dry_run:
                    return _planned(merging, sources, plan, start)
                written = write_upsert(engine, table, merging, write_id, metadata)
        else:
            written = copy_to_data_files(
                engine, table, plan.select_sql, metadata=metadata, write_id=write_id,
                on_progress=bytes_read(on_progress, sources.bytes),
            )  # fmt: skip
        checkpoint("after-write")
        rows = merging.source_rows if merging is not None else written.rows
        summary = {
            **(summary or {}),
            "lake.operation": f"ingest-{mode}",
            "lake.sources": _sources_summary(sources.paths),
            "lake.source-files": str(len(sources.paths)),
            "lake.rows": str(rows),
            "lake.write-id": write_id,
        }
        stage = _stage(mode, written, summary, plan, merging)
        what = f"{'merge' if merging else 'ingest'} into {table_name}"
        committed = commit_with_retry(load, stage, RetryPolicy.of(profile), what)
    except BaseException as exc:
        remove_write(profile, table, write_id, written.paths)
        if isinstance(exc, LakehouseError):
            raise
        if isinstance(exc, Exception) and is_duckdb_error(exc):
            raise explain_write_error(exc, sources, table_name, data_location(table)) from None
        if isinstance(exc, OSError):  # reading back or moving a file we wrote
            raise StorageError(f"writing the data files of {table_name} failed: {exc}") from None
        raise
    snapshot = committed.current_snapshot()
    return IngestResult(
        table=table_name,
        mode=mode,
        rows=rows,
        files=len(written.data_files),
        bytes=written.bytes,
        snapshot_id=snapshot.snapshot_id if snapshot else None,
        sources=sources.paths,
        seconds=round(time.perf_counter() - start, 3),
        evolved_columns=list(plan.new_columns),
        merge=merging.to_dict() if merging is not None else None,
        files_per_partition=written.per_partition(data_location(table)),
    )


def _check_mode(mode: str, key: list[str] | None, dry_run: bool) -> None:
    if mode not in MODES:
        raise LakehouseError(f"unknown mode {mode!r}; use append, overwrite or merge")
    if key and mode != "merge":
        raise LakehouseError(f"--key applies only with --mode merge (not {mode})")
    if mode == "merge" and not key:
        raise LakehouseError("--mode merge needs --key: the column(s) that identify a row, e.g. --key id")
    if dry_run and mode != "merge":
        raise LakehouseError("--dry-run applies only with --mode merge")


def _planned(merging: UpsertPlan, sources: SourceSet, plan: ColumnPlan, start: float) -> IngestResult:
    """A merge's `--dry-run`: what it would rewrite and insert; nothing is written."""
    return IngestResult(
        table=merging.table,
        mode="merge",
        rows=merging.source_rows,
        files=0,
        bytes=0,
        snapshot_id=None,
        sources=sources.paths,
        seconds=round(time.perf_counter() - start, 3),
        evolved_columns=list(plan.new_columns),
        dry_run=True,
        merge=merging.to_dict(),
    )


def _sources_summary(paths: list[str]) -> str:
    text = ",".join(paths)
    if len(text) <= _SUMMARY_SOURCES_MAX:
        return text
    return text[:_SUMMARY_SOURCES_MAX] + f",...({len(paths)} files)"


def _stage(
    mode: str, written: WrittenFiles, summary: dict[str, str], plan: ColumnPlan, merging: UpsertPlan | None
) -> Callable[[Transaction], None]:
    def stage(tx: Transaction) -> None:
        if plan.evolved_schema is not None:
            _evolve(tx, plan)
        if merging is not None:
            stage_upsert(merging, written, summary)(tx)
            return
        if mode == "append":
            stage_append(written.data_files, summary)(tx)
            return
        snapshot = tx.table_metadata.current_snapshot()
        current = live_files(table_io(tx), snapshot)
        operation = Operation.OVERWRITE if snapshot is not None else Operation.APPEND
        stage_rewrite(current, written.data_files, summary, operation)(tx)

    return stage


def _evolve(tx: Transaction, plan: ColumnPlan) -> None:
    assert plan.evolved_schema is not None
    with tx.update_schema() as update:
        for name in plan.new_columns:
            new_field = plan.evolved_schema.find_field(name)
            update.add_column(name, new_field.field_type)
    got = tx.table_metadata.schema()
    for name in plan.new_columns:
        if got.find_field(name).field_id != plan.evolved_schema.find_field(name).field_id:
            raise CommitError("the table's schema changed while ingesting; run the ingest again")
