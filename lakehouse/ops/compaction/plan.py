"""Compaction planning: which small (or oversized) data files of each partition become which new files.

`plan_compaction` reads the current snapshot's manifests only and returns a frozen `CompactionPlan`:
per partition, the bin-packed groups of candidate files (smaller than `min_size` or larger than
`max_size`, or with delete files that apply to them), with input files, bytes and expected output
files. A group's delete files are applied as it is rewritten (`lakehouse.io.fieldids.read_live`), and
those that then apply to no remaining data file are removed in the same snapshot. `--dry-run` prints this plan, and
`lakehouse.ops.compaction.apply.compact` carries out exactly it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, TypedDict

from pyiceberg.manifest import DataFile, DataFileContent, ManifestEntry
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot
from pyiceberg.typedef import Record

from lakehouse.core.hive import human_values, partition_path
from lakehouse.core.properties import ALLOW_ANY_TARGET_PROPERTY
from lakehouse.core.sizes import format_size, parse_size
from lakehouse.errors import LakehouseError
from lakehouse.io.writer import data_location, target_file_size
from lakehouse.ops.compaction.deletes import applying, group_entries, is_delete, removable
from lakehouse.ops.compaction.reasons import left_alone
from lakehouse.ops.compaction.where import files_matching
from lakehouse.table.snapshots import live_entries

MIN_TARGET = 128 * 1024**2
MAX_TARGET = 1024**3
DEFAULT_MIN_INPUT_FILES = 5
MIN_SIZE_RATIO = 0.75  # Spark rewrite_data_files: min-file-size-bytes = 75% of the target
MAX_SIZE_RATIO = 1.80  # and max-file-size-bytes = 180%

PartitionKey = tuple[int, tuple[Any, ...]]


@dataclass(frozen=True)
class FileGroup:
    """Candidate files of one partition that become about one target-sized file (or a few, for a huge input)."""

    files: tuple[DataFile, ...]
    directory: str
    expected_outputs: int = 1
    # the files' manifest entries and those of the delete files that apply to them (for read_live)
    entries: tuple[ManifestEntry, ...] = ()
    live_rows: int | None = None  # rows once the deletes apply; None when equality deletes leave it open

    @property
    def deletes(self) -> tuple[ManifestEntry, ...]:
        return tuple(e for e in self.entries if e.data_file.content != DataFileContent.DATA)

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
            "delete_files": len(self.deletes),
            "live_rows": self.live_rows,
            "expected_output_files": self.expected_outputs,
        }


@dataclass(frozen=True)
class PartitionPlan:
    """One partition: its files, the candidates among them, and the groups they are packed into
    (none when there is too little to gain, or when `skipped` says why it cannot be compacted)."""

    spec_id: int
    partition: Record
    values: tuple[tuple[str, str | None], ...]  # (partition field, folder text), for people
    files: int
    bytes: int
    candidates: int
    groups: tuple[FileGroup, ...] = ()
    skipped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "partition": dict(self.values),
            "files": self.files,
            "bytes": self.bytes,
            "candidates": self.candidates,
            "groups": [g.to_dict() for g in self.groups],
            "skipped": self.skipped,
        }


@dataclass(frozen=True)
class CompactionPlan:
    """What a compaction will do; `--dry-run` prints it and the real run executes exactly it."""

    table: str
    snapshot_id: int | None
    target_size: int
    min_size: int
    max_size: int
    min_input_files: int
    where: str | None = None
    sort_by: tuple[str, ...] = ()
    zorder: tuple[str, ...] = ()  # Spark's z-order (`--engine spark` only)
    partitions: tuple[PartitionPlan, ...] = ()
    removed_deletes: tuple[DataFile, ...] = ()  # delete files that apply to no data file once it is done
    delete_files: frozenset[str] = frozenset()  # every live delete file when planned (for the conflict check)
    outside_where: int = 0  # partitions left out because no row in them can match `where`

    @property
    def groups(self) -> tuple[FileGroup, ...]:
        return tuple(g for p in self.partitions for g in p.groups)

    @property
    def input_files(self) -> tuple[DataFile, ...]:
        return tuple(f for g in self.groups for f in g.files)

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
            "sort_by": list(self.sort_by),
            "zorder": list(self.zorder),
            "partitions_rewritten": sum(1 for p in self.partitions if p.groups),
            "groups": len(self.groups),
            "input_files": len(self.input_files),
            "input_bytes": self.input_bytes,
            "expected_output_files": self.expected_outputs,
            "delete_files_applied": len({e.data_file.file_path for g in self.groups for e in g.deletes}),
            "delete_files_removed": len(self.removed_deletes),
            "partitions": [p.to_dict() for p in self.partitions if p.groups or p.skipped],
            "left_alone": left_alone(self),
        }


class CompactionOptions(TypedDict, total=False):
    """The options of `lake compact`; each one left out takes its default."""

    target_size: str | int | None
    min_size: str | int | None
    max_size: str | int | None
    min_input_files: int
    where: str | None
    sort_by: list[str] | str | None
    zorder: list[str] | str | None


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
    zorder: list[str] | str | None = None,
) -> CompactionPlan:
    target, low, high = resolve_sizes(table, target_size, min_size, max_size)
    if min_input_files < 1:
        raise LakehouseError(f"--min-input-files must be at least 1, got {min_input_files}")
    sort_columns = _sort_columns(table, identifier, sort_by)
    zorder_columns = _sort_columns(table, identifier, zorder, "--zorder", directions=False)
    if sort_columns and zorder_columns:
        raise LakehouseError("--sort-by and --zorder are two ways to order the rows; give one")
    snapshot = table.current_snapshot()
    entries = live_entries(table.io, snapshot)
    found, deletes_of = applying(table, entries)
    partitions = (
        ()
        if snapshot is None
        else _plan_partitions(table, snapshot, entries, deletes_of, where, target, low, high, min_input_files)
    )
    groups = [g for p in partitions for g in p.groups]
    removed = removable(
        found, [d for g in groups for d in g.deletes], {f.file_path for g in groups for f in g.files}
    )
    every = {partition_key(e.data_file) for e in entries if not is_delete(e)}
    return CompactionPlan(
        identifier, snapshot.snapshot_id if snapshot else None, target, low, high, min_input_files,
        where, sort_columns, zorder_columns, partitions, removed, frozenset(e.data_file.file_path for e in entries if is_delete(e)),
        len(every) - len(partitions),
    )  # fmt: skip


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


def partition_key(data_file: DataFile) -> PartitionKey:
    record = data_file.partition
    return data_file.spec_id, tuple(record[i] for i in range(len(record)))


def _plan_partitions(
    table: Table,
    snapshot: Snapshot,
    entries: list[ManifestEntry],
    applying: dict[str, list[ManifestEntry]],
    where: str | None,
    target: int,
    low: int,
    high: int,
    min_input_files: int,
) -> tuple[PartitionPlan, ...]:
    data: dict[PartitionKey, list[ManifestEntry]] = {}
    for entry in entries:
        if not is_delete(entry):
            data.setdefault(partition_key(entry.data_file), []).append(entry)
    matching = files_matching(table, where, snapshot.snapshot_id, entries) if where else None
    wanted = None if matching is None else {partition_key(f) for f in matching}
    return tuple(
        _plan_partition(table, key[0], data[key], applying, target, low, high, min_input_files)
        for key in sorted(data, key=lambda k: (k[0], tuple(str(v) for v in k[1])))
        if wanted is None or key in wanted
    )


def _plan_partition(
    table: Table,
    spec_id: int,
    entries: list[ManifestEntry],
    applying: dict[str, list[ManifestEntry]],
    target: int,
    low: int,
    high: int,
    min_input_files: int,
) -> PartitionPlan:
    files = [e.data_file for e in entries]
    record = files[-1].partition
    candidates = [
        f
        for f in files
        if f.file_size_in_bytes < low or f.file_size_in_bytes > high or f.file_path in applying
    ]
    with_deletes = any(f.file_path in applying for f in candidates)
    groups: tuple[FileGroup, ...] = ()
    skipped = None
    if (
        not with_deletes
        and len(candidates) < min_input_files
        and sum(f.file_size_in_bytes for f in candidates) <= target
    ):
        pass  # too little to gain
    elif spec_id != table.spec().spec_id:
        skipped = f"written with an older partition spec ({spec_id})"
    else:
        directory = _directory(table, spec_id, record)
        by_path = {e.data_file.file_path: e for e in entries}
        groups = tuple(
            _group(table, [by_path[f.file_path] for f in group], applying, directory, target, high)
            for group in _bin_pack(candidates, target, high)
            # rewriting one in-range file into one file gains nothing, unless it applies deletes
            if len(group) > 1
            or sum(f.file_size_in_bytes for f in group) > high
            or any(f.file_path in applying for f in group)
        )
    values = tuple(human_values(table.specs()[spec_id], table.schema(), record).items())
    return PartitionPlan(
        spec_id, record, values, len(files), sum(f.file_size_in_bytes for f in files), len(candidates),
        groups, skipped,
    )  # fmt: skip


def _group(
    table: Table,
    data: list[ManifestEntry],
    applying: dict[str, list[ManifestEntry]],
    directory: str,
    target: int,
    high: int,
) -> FileGroup:
    files = [e.data_file for e in data]
    entries, live_rows = group_entries(table, data, applying)
    return FileGroup(tuple(files), directory, _outputs(files, target, high), entries, live_rows)


def _outputs(group: list[DataFile], target: int, high: int) -> int:
    bytes_in = sum(f.file_size_in_bytes for f in group)
    return 1 if bytes_in <= high else math.ceil(bytes_in / target)


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


def _directory(table: Table, spec_id: int, record: Record) -> str:
    """Where a group's output goes: the partition's folder by `lakehouse.core.hive`'s rule, as ingest names it."""
    base = data_location(table)
    spec = table.specs()[spec_id]
    if not spec.fields:
        return base
    return f"{base}/{partition_path(spec, table.schema(), record)}"


def _sort_columns(
    table: Table, identifier: str, sort_by: list[str] | str | None, option: str = "--sort-by",
    *, directions: bool = True,
) -> tuple[str, ...]:  # fmt: skip
    if not sort_by:
        return ()
    names = [c.strip() for c in (sort_by.split(",") if isinstance(sort_by, str) else sort_by) if c.strip()]
    known = {f.name.lower(): f.name for f in table.schema().fields}
    allowed = ("", "asc", "desc") if directions else ("",)
    out = []
    for name in names:
        column, _, direction = name.partition(" ")
        if column.lower() not in known or direction.strip().lower() not in allowed:
            raise LakehouseError(
                f"{option} {name!r}: {identifier} has no such column; its columns: {', '.join(known.values())}"
            )
        out.append(f"{known[column.lower()]} {direction.strip().upper()}".strip())
    return tuple(out)
