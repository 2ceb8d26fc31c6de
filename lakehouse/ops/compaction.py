"""Compaction: rewrite small data files into files of a target size on disk, as one `replace` snapshot.

Three steps, each usable on its own (tests race an append between the second and the third):

1. `plan_compaction` reads the current snapshot's manifests only and returns a `CompactionPlan`:
   per partition, the bin-packed groups of candidate files (smaller than `min_size` or larger than
   `max_size`), with input files, bytes and expected output files. `--dry-run` prints this plan.
2. `write_compaction` streams each group through DuckDB (`read_parquet` of the group's files, every
   column, nested fields too, matched by Iceberg field id or the name mapping: lakehouse.io.fieldids)
   into that partition's directory. Memory is bounded by DuckDB's limit, not by the group.
3. `commit_compaction` removes the inputs and adds the outputs in one `replace` snapshot, retried on
   top of concurrent appends. If an input file was deleted or replaced meanwhile it fails, saying so.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyiceberg.manifest import DataFile, DataFileContent
from pyiceberg.table import Table, Transaction
from pyiceberg.table.snapshots import Snapshot
from pyiceberg.typedef import Record

from lakehouse.core.hive import human_values
from lakehouse.core.hooks import checkpoint
from lakehouse.core.properties import ALLOW_ANY_TARGET_PROPERTY
from lakehouse.core.schemas import quote_ident
from lakehouse.core.sizes import format_size, parse_size
from lakehouse.errors import CommitError, LakehouseError
from lakehouse.io.fieldids import read_by_field_id
from lakehouse.io.writer import WrittenFiles, copy_to_partition, data_location, new_write_id, target_file_size
from lakehouse.table.commits import RetryPolicy, commit_with_retry
from lakehouse.table.producers import ReplaceFiles, table_io

if TYPE_CHECKING:
    from lakehouse.core.config import Profile
    from lakehouse.io.engine import Engine


MIN_TARGET = 128 * 1024**2
MAX_TARGET = 1024**3
DEFAULT_MIN_INPUT_FILES = 5
MIN_SIZE_RATIO = 0.75  # Spark rewrite_data_files: min-file-size-bytes = 75% of the target
MAX_SIZE_RATIO = 1.80  # and max-file-size-bytes = 180%
ROTATION_MARGIN = 0.95  # DuckDB checks the size after each row group, so rotate a little early
DEFAULT_MEMORY_LIMIT = "512MB"

PartitionKey = tuple[int, tuple[Any, ...]]


@dataclass
class FileGroup:
    """Candidate files of one partition that become about one target-sized file (or a few, for a huge input)."""

    files: list[DataFile]
    directory: str
    expected_outputs: int = 1

    @property
    def input_bytes(self) -> int:
        return sum(f.file_size_in_bytes for f in self.files)

    @property
    def input_rows(self) -> int:
        return sum(f.record_count for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_files": len(self.files),
            "input_bytes": self.input_bytes,
            "input_rows": self.input_rows,
            "expected_output_files": self.expected_outputs,
        }


@dataclass
class PartitionPlan:
    spec_id: int
    partition: Record
    values: dict[str, str | None]
    files: int
    bytes: int
    candidates: int
    groups: list[FileGroup] = field(default_factory=list)
    skipped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "partition": self.values,
            "files": self.files,
            "bytes": self.bytes,
            "candidates": self.candidates,
            "groups": [g.to_dict() for g in self.groups],
            "skipped": self.skipped,
        }


@dataclass
class CompactionPlan:
    """What a compaction will do; `--dry-run` prints it and the real run executes exactly it."""

    table: str
    snapshot_id: int | None
    target_size: int
    min_size: int
    max_size: int
    min_input_files: int
    where: str | None = None
    sort_by: list[str] = field(default_factory=list)
    partitions: list[PartitionPlan] = field(default_factory=list)

    @property
    def groups(self) -> list[FileGroup]:
        return [g for p in self.partitions for g in p.groups]

    @property
    def input_files(self) -> list[DataFile]:
        return [f for g in self.groups for f in g.files]

    @property
    def input_bytes(self) -> int:
        return sum(g.input_bytes for g in self.groups)

    @property
    def expected_outputs(self) -> int:
        return sum(g.expected_outputs for g in self.groups)

    @property
    def empty(self) -> bool:
        return not self.groups

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "snapshot_id": self.snapshot_id,
            "target_size": self.target_size,
            "min_size": self.min_size,
            "max_size": self.max_size,
            "min_input_files": self.min_input_files,
            "where": self.where,
            "sort_by": self.sort_by,
            "partitions_rewritten": sum(1 for p in self.partitions if p.groups),
            "groups": len(self.groups),
            "input_files": len(self.input_files),
            "input_bytes": self.input_bytes,
            "expected_output_files": self.expected_outputs,
            "partitions": [p.to_dict() for p in self.partitions if p.groups or p.skipped],
        }


@dataclass
class CompactionWrite:
    """The files a compaction wrote, group by group, before any commit."""

    write_id: str
    outputs: list[WrittenFiles] = field(default_factory=list)

    @property
    def data_files(self) -> list[DataFile]:
        return [f for w in self.outputs for f in w.data_files]

    @property
    def bytes(self) -> int:
        return sum(w.bytes for w in self.outputs)

    @property
    def paths(self) -> list[str]:
        return [f.file_path for f in self.data_files]


@dataclass
class CompactionResult:
    plan: CompactionPlan
    dry_run: bool
    snapshot_id: int | None = None
    files_before: int = 0
    bytes_before: int = 0
    files_after: int = 0
    bytes_after: int = 0
    rows: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.plan.table,
            "dry_run": self.dry_run,
            "snapshot_id": self.snapshot_id,
            "files_before": self.files_before,
            "bytes_before": self.bytes_before,
            "files_after": self.files_after,
            "bytes_after": self.bytes_after,
            "rows": self.rows,
            "seconds": self.seconds,
            "plan": self.plan.to_dict(),
        }


# ------------------------------------------------------------------------------------------ sizes


def resolve_sizes(
    table: Table,
    target_size: str | int | None = None,
    min_size: str | int | None = None,
    max_size: str | int | None = None,
) -> tuple[int, int, int]:
    """(target, min, max) in bytes on disk, checked against the accepted range."""
    target = parse_size(target_size, "--target-size") if target_size is not None else target_file_size(table)
    low = parse_size(min_size, "--min-size") if min_size is not None else int(target * MIN_SIZE_RATIO)
    high = parse_size(max_size, "--max-size") if max_size is not None else int(target * MAX_SIZE_RATIO)
    allow_any = table.properties.get(ALLOW_ANY_TARGET_PROPERTY, "false").lower() == "true"
    if not allow_any and not MIN_TARGET <= target <= MAX_TARGET:
        raise LakehouseError(
            f"target size {format_size(target)} is outside the accepted range 128MB..1GB; "
            f"give --target-size between them (or set table property {ALLOW_ANY_TARGET_PROPERTY}=true)"
        )
    if target <= 0 or not 0 <= low <= target <= high:
        raise LakehouseError(
            f"sizes must satisfy min-size <= target-size <= max-size; got {format_size(low)}, "
            f"{format_size(target)}, {format_size(high)}"
        )
    return target, low, high


# ------------------------------------------------------------------------------------------ plan


def live_entries(table: Table, snapshot_id: int | None = None) -> list[DataFile]:
    """Every live data and delete file of a snapshot (default: current), from the manifests only."""
    snapshot = table.current_snapshot() if snapshot_id is None else table.snapshot_by_id(snapshot_id)
    if snapshot is None:
        return []
    files = []
    for manifest in snapshot.manifests(table.io):
        files += [e.data_file for e in manifest.fetch_manifest_entry(table.io, discard_deleted=True)]
    return files


def partition_key(data_file: DataFile) -> PartitionKey:
    record = data_file.partition
    return data_file.spec_id, tuple(record[i] for i in range(len(record)))


def partition_values(table: Table, spec_id: int, record: Record) -> dict[str, str | None]:
    return human_values(table.specs()[spec_id], table.schema(), record)


def _matching_partitions(table: Table, where: str, snapshot_id: int) -> set[PartitionKey]:
    from pyiceberg.expressions.parser import parse

    try:
        expression = parse(where)
    except Exception as exc:
        raise LakehouseError(
            f"invalid --where {where!r}: {str(exc).splitlines()[0]}; use a predicate such as "
            "\"country = 'US' AND ts >= '2026-06-01T00:00:00'\""
        ) from None
    try:
        tasks = table.scan(row_filter=expression, snapshot_id=snapshot_id).plan_files()
    except Exception as exc:
        raise LakehouseError(f"invalid --where {where!r}: {str(exc).splitlines()[0]}") from None
    return {partition_key(task.file) for task in tasks}


def _bin_pack(files: list[DataFile], target: int, max_size: int) -> list[list[DataFile]]:
    """Largest first into the least-filled of n bins, n chosen so each bin is about one target file."""
    total = sum(f.file_size_in_bytes for f in files)
    n = max(1, round(total / target), math.ceil(total / max_size))
    n = min(n, len(files))
    bins: list[list[DataFile]] = [[] for _ in range(n)]
    loads = [0] * n
    for data_file in sorted(files, key=lambda f: (-f.file_size_in_bytes, f.file_path)):
        i = loads.index(min(loads))
        bins[i].append(data_file)
        loads[i] += data_file.file_size_in_bytes
    return [sorted(b, key=lambda f: f.file_path) for b in bins if b]


def _directory(table: Table, files: list[DataFile], spec_id: int, record: Record) -> str:
    """Where a group's output goes: the partition's folder by `lakehouse.core.hive`'s rule, as ingest names it."""
    from lakehouse.core.hive import partition_path

    base = data_location(table)
    spec = table.specs()[spec_id]
    if not spec.fields:
        return base
    return f"{base}/{partition_path(spec, table.schema(), record)}"


def plan_compaction(
    table: Table,
    identifier: str,
    *,
    target_size: str | int | None = None,
    min_size: str | int | None = None,
    max_size: str | int | None = None,
    min_input_files: int = DEFAULT_MIN_INPUT_FILES,
    where: str | None = None,
    sort_by: list[str] | str | None = None,
) -> CompactionPlan:
    target, low, high = resolve_sizes(table, target_size, min_size, max_size)
    if min_input_files < 1:
        raise LakehouseError(f"--min-input-files must be at least 1, got {min_input_files}")
    sort_columns = _sort_columns(table, identifier, sort_by)
    snapshot = table.current_snapshot()
    plan = CompactionPlan(
        identifier, snapshot.snapshot_id if snapshot else None, target, low, high, min_input_files,
        where, sort_columns,
    )  # fmt: skip
    if snapshot is None:
        return plan
    data: dict[PartitionKey, list[DataFile]] = {}
    records: dict[PartitionKey, Record] = {}
    with_deletes: set[PartitionKey] = set()
    global_deletes = False
    for data_file in live_entries(table):
        key = partition_key(data_file)
        if data_file.content != DataFileContent.DATA:
            with_deletes.add(key)
            global_deletes |= not key[1]
            continue
        data.setdefault(key, []).append(data_file)
        records[key] = data_file.partition
    wanted = _matching_partitions(table, where, snapshot.snapshot_id) if where else None
    current_spec = table.spec().spec_id
    for key in sorted(data, key=lambda k: (k[0], tuple(str(v) for v in k[1]))):
        if wanted is not None and key not in wanted:
            continue
        files = data[key]
        candidates = [f for f in files if f.file_size_in_bytes < low or f.file_size_in_bytes > high]
        part = PartitionPlan(
            key[0], records[key], partition_values(table, key[0], records[key]), len(files),
            sum(f.file_size_in_bytes for f in files), len(candidates),
        )  # fmt: skip
        plan.partitions.append(part)
        candidate_bytes = sum(f.file_size_in_bytes for f in candidates)
        if len(candidates) < min_input_files and candidate_bytes <= target:
            continue
        if key in with_deletes or global_deletes:
            part.skipped = "has delete files; compaction would not apply them"
            continue
        if key[0] != current_spec:
            part.skipped = f"written with an older partition spec ({key[0]})"
            continue
        for group in _bin_pack(candidates, target, high):
            bytes_in = sum(f.file_size_in_bytes for f in group)
            if len(group) == 1 and bytes_in <= high:
                continue  # rewriting one in-range file into one file gains nothing
            outputs = 1 if bytes_in <= high else math.ceil(bytes_in / target)
            part.groups.append(FileGroup(group, _directory(table, group, key[0], records[key]), outputs))
    return plan


def _sort_columns(table: Table, identifier: str, sort_by: list[str] | str | None) -> list[str]:
    if not sort_by:
        return []
    names = [c.strip() for c in (sort_by.split(",") if isinstance(sort_by, str) else sort_by) if c.strip()]
    known = {f.name.lower(): f.name for f in table.schema().fields}
    out = []
    for name in names:
        column, _, direction = name.partition(" ")
        if column.lower() not in known or direction.strip().lower() not in ("", "asc", "desc"):
            raise LakehouseError(
                f"--sort-by {name!r}: {identifier} has no such column; its columns: {', '.join(known.values())}"
            )
        out.append(f"{known[column.lower()]} {direction.strip().upper()}".strip())
    return out


# ------------------------------------------------------------------------------------------ write


def group_select(table: Table, group: FileGroup, sort_by: list[str]) -> str:
    """Read a group's files by Iceberg field id (renamed, added and nested columns are right)."""
    columns = ", ".join(quote_ident(f.name) for f in table.schema().fields)
    order = ""
    if sort_by:
        order = " ORDER BY " + ", ".join(
            f"{quote_ident(s.split(' ')[0])} {s.split(' ', 1)[1] if ' ' in s else ''}".strip()
            for s in sort_by
        )
    return f"SELECT {columns} FROM ({read_by_field_id(table, group.files)}) AS lake_group{order}"


def engine_settings(profile: Profile, sorted_output: bool) -> dict[str, str | bool]:
    """Bound DuckDB's memory by the group (spilling to the engine's own temp directory), and keep insertion
    order only when sorting. Applied for the compaction only; the engine's own settings come back after."""
    settings: dict[str, str | bool] = {"preserve_insertion_order": sorted_output}
    if not profile.get("lake.duckdb.memory-limit"):
        settings["memory_limit"] = DEFAULT_MEMORY_LIMIT
    return settings


def write_compaction(
    profile: Profile,
    engine: Engine,
    table: Table,
    plan: CompactionPlan,
    on_progress: Callable[[float], None] | None = None,
) -> CompactionWrite:
    """Write every group's output files; nothing is committed. Removes what it wrote if it fails."""
    from lakehouse.io.cleanup import remove_write

    write = CompactionWrite(new_write_id())
    threads = int(engine.setting("threads"))
    try:
        with engine.settings(**engine_settings(profile, bool(plan.sort_by)), threads=threads):
            _write_groups(engine, table, plan, write, threads, on_progress)
    except BaseException:
        remove_write(profile, table, write.write_id, write.paths)
        raise
    return write


def _write_groups(
    engine: Engine,
    table: Table,
    plan: CompactionPlan,
    write: CompactionWrite,
    threads: int,
    on_progress: Callable[[float], None] | None,
) -> None:
    total = max(1, plan.input_bytes)
    done = 0
    checkpoint("before-write")
    for index, group in enumerate(plan.groups):
        rotate = group.expected_outputs > 1
        # Parallel writers interleave rows across rotated files; one thread keeps each file sorted.
        engine.set(threads=1 if rotate and plan.sort_by else threads)

        def report(percent: float, base: int = done, size: int = group.input_bytes) -> None:
            if on_progress is not None:
                on_progress(100.0 * (base + size * percent / 100.0) / total)

        written = copy_to_partition(
            engine, table, group_select(table, group, plan.sort_by),
            directory=group.directory, partition=group.files[0].partition, spec_id=group.files[0].spec_id,
            file_name=f"{write.write_id}-{index:05d}",
            max_file_size=int(plan.target_size * ROTATION_MARGIN) if rotate else None,
            on_progress=report if on_progress else None,
        )  # fmt: skip
        write.outputs.append(written)
        checkpoint("after-write")  # after the first group: with several groups, mid-write
        if written.rows != group.input_rows:
            raise LakehouseError(
                f"compaction of {plan.table} read {written.rows} rows from a group of "
                f"{group.input_rows}; nothing was committed"
            )
        done += group.input_bytes


# ------------------------------------------------------------------------------------------ commit


def _conflict(plan: CompactionPlan, tx: Transaction, head: Snapshot | None) -> None:
    """Raise CommitError when an input file is gone from `head` or deletes were added to its partitions."""
    inputs = {f.file_path for f in plan.input_files}
    partitions = {partition_key(f) for f in plan.input_files}
    live: set[str] = set()
    new_deletes = 0
    io = table_io(tx)
    if head is not None:
        for manifest in head.manifests(io):
            for entry in manifest.fetch_manifest_entry(io, discard_deleted=True):
                data_file = entry.data_file
                if data_file.content == DataFileContent.DATA:
                    live.add(data_file.file_path)
                elif partition_key(data_file) in partitions or not partition_key(data_file)[1]:
                    new_deletes += 1
    missing = sorted(inputs - live)
    if not missing and not new_deletes:
        return
    why = (
        f"{len(missing)} of its {len(inputs)} input files were deleted or replaced"
        if missing
        else f"{new_deletes} delete files were added to the partitions it rewrites"
    )
    raise CommitError(
        f"compaction of {plan.table} conflicts with a concurrent change: {why} by {_changes_since(tx, plan.snapshot_id)} "
        f"since it started; the table keeps that change and nothing was compacted; "
        f"run `lake compact {plan.table}` again"
    )


def _stage(
    plan: CompactionPlan, write: CompactionWrite, summary: dict[str, str]
) -> Callable[[Transaction], None]:
    def check(tx: Transaction, head: Snapshot | None) -> None:
        _conflict(plan, tx, head)

    def stage(tx: Transaction) -> None:
        check(tx, tx.table_metadata.current_snapshot())
        with ReplaceFiles(tx, summary, check) as rewrite:
            for data_file in plan.input_files:
                rewrite.delete_data_file(data_file)
            for data_file in write.data_files:
                rewrite.append_data_file(data_file)

    return stage


def _changes_since(tx: Transaction, snapshot_id: int | None) -> str:
    newer = []
    snapshot = tx.table_metadata.current_snapshot()
    while snapshot is not None and snapshot.snapshot_id != snapshot_id:
        op = snapshot.summary.operation.value if snapshot.summary else "?"
        newer.append(f"{op} snapshot {snapshot.snapshot_id}")
        parent = snapshot.parent_snapshot_id
        snapshot = tx.table_metadata.snapshot_by_id(parent) if parent is not None else None
    return ", ".join(reversed(newer[-3:])) or "another writer"


def commit_compaction(
    profile: Profile, load: Callable[[], Table], plan: CompactionPlan, write: CompactionWrite
) -> Table:
    """Commit a written compaction as one `replace` snapshot; on failure its files are removed."""
    from lakehouse.io.cleanup import remove_write

    added = write.data_files
    summary = {
        "lake.operation": "compact",
        "lake.write-id": write.write_id,
        "lake.files-before": str(len(plan.input_files)),
        "lake.bytes-before": str(plan.input_bytes),
        "lake.files-after": str(len(added)),
        "lake.bytes-after": str(write.bytes),
        "lake.target-size": str(plan.target_size),
    }
    if plan.sort_by:
        summary["lake.sort-by"] = ",".join(plan.sort_by)
    try:
        return commit_with_retry(
            load, _stage(plan, write, summary), RetryPolicy.from_properties(profile.properties),
            f"compaction of {plan.table}",
        )  # fmt: skip
    except BaseException:
        table = load()
        if not any(s.summary and s.summary.get("lake.write-id") == write.write_id for s in table.snapshots()):
            remove_write(profile, table, write.write_id, write.paths)  # never remove files that did land
        raise


def compact(
    profile: Profile,
    engine: Engine,
    load: Callable[[], Table],
    plan: CompactionPlan,
    *,
    dry_run: bool = False,
    on_progress: Callable[[float], None] | None = None,
) -> CompactionResult:
    """Execute a plan: write the groups, then commit them as one snapshot. A dry run writes nothing."""
    start = time.perf_counter()
    result = CompactionResult(
        plan, dry_run, files_before=len(plan.input_files), bytes_before=plan.input_bytes,
        rows=sum(g.input_rows for g in plan.groups),
    )  # fmt: skip
    if dry_run or plan.empty:
        result.files_after = plan.expected_outputs
        return result
    write = write_compaction(profile, engine, load(), plan, on_progress)
    committed = commit_compaction(profile, load, plan, write)
    snapshot = committed.current_snapshot()
    result.snapshot_id = snapshot.snapshot_id if snapshot else None
    result.files_after = len(write.data_files)
    result.bytes_after = write.bytes
    result.seconds = round(time.perf_counter() - start, 3)
    return result
