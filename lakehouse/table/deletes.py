"""Row-level delete files (written by other engines: Spark, Trino, Flink): which are live in a
snapshot, and how many rows are live once they apply.

The spec applies a positional delete to a data file with the same path whose data sequence number
is at most the delete's own; an equality delete to data files with a strictly lower one. Exact live
counts read the positional delete files (two columns, small) and, for equality deletes, the key
columns of the data files they apply to (by field id); a nested key or a deletion vector leaves the
count not exact (an upper bound).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pyarrow.parquet as pq
from pyiceberg.manifest import DataFile, DataFileContent, FileFormat, ManifestEntry
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

from lakehouse.io.projection import file_schema
from lakehouse.table.snapshots import live_entries

POSITIONAL_PATH_ID = 2147483546  # spec: reserved field ids of a positional delete file
POSITIONAL_POS_ID = 2147483545


@dataclass(frozen=True)
class LiveCounts:
    data_files: int
    delete_files: int
    data_rows: int  # rows in the data files, deleted ones included
    rows: int  # live rows: data rows minus those the delete files remove
    exact: bool  # False when equality deletes (or unreadable deletes) leave `rows` an upper bound


def is_data(entry: ManifestEntry) -> bool:
    return entry.data_file.content == DataFileContent.DATA


def deleted_positions(table: Table, entries: list[ManifestEntry]) -> dict[str, set[int]]:
    """Data file path -> the positions that the live positional deletes remove from it."""
    data = {e.data_file.file_path: e for e in entries if is_data(e)}
    removed: dict[str, set[int]] = defaultdict(set)
    for entry in entries:
        if not _readable_positional(entry):
            continue
        for path, positions in _read_positions(table, entry.data_file.file_path).items():
            target = data.get(path)
            if target is None or (target.sequence_number or 0) > (entry.sequence_number or 0):
                continue  # a delete for a removed file, or one older than the file it names
            limit = target.data_file.record_count
            removed[path].update(p for p in positions if 0 <= p < limit)
    return removed


def _readable_positional(entry: ManifestEntry) -> bool:
    """A positional delete file in Parquet (a v3 deletion vector lives in Puffin: not read here)."""
    f = entry.data_file
    return f.content == DataFileContent.POSITION_DELETES and f.file_format == FileFormat.PARQUET


def targets(table: Table, entries: list[ManifestEntry]) -> dict[str, set[str]]:
    """Delete file path -> the paths of the data files among `entries` it applies to, by the spec's
    rules (a positional delete: the paths it names, data sequence number <= its own; an equality
    delete: every data file with a lower one in its partition, or anywhere when unpartitioned)."""
    data = [e for e in entries if is_data(e)]
    out: dict[str, set[str]] = {}
    for entry in entries:
        f, seq = entry.data_file, entry.sequence_number or 0
        if f.content == DataFileContent.POSITION_DELETES:
            # an unreadable one (a deletion vector) is taken to apply to every file as old as it
            named = _read_positions(table, f.file_path) if _readable_positional(entry) else None
            out[f.file_path] = {
                d.data_file.file_path
                for d in data
                if (d.sequence_number or 0) <= seq and (named is None or d.data_file.file_path in named)
            }
        elif f.content == DataFileContent.EQUALITY_DELETES:
            spec = table.specs().get(f.spec_id)
            everywhere = spec is None or spec.is_unpartitioned()
            out[f.file_path] = {
                d.data_file.file_path
                for d in data
                if (d.sequence_number or 0) < seq
                and (
                    everywhere or (d.data_file.spec_id == f.spec_id and d.data_file.partition == f.partition)
                )
            }
    return out


def _read_positions(table: Table, path: str) -> dict[str, list[int]]:
    with table.io.new_input(path).open() as stream:
        arrow = pq.read_table(stream)
    by_id = {f.metadata.get(b"PARQUET:field_id"): i for i, f in enumerate(arrow.schema) if f.metadata}
    path_col = by_id.get(str(POSITIONAL_PATH_ID).encode(), arrow.schema.get_field_index("file_path"))
    pos_col = by_id.get(str(POSITIONAL_POS_ID).encode(), arrow.schema.get_field_index("pos"))
    out: dict[str, list[int]] = defaultdict(list)
    for file_path, pos in zip(
        arrow.column(path_col).to_pylist(), arrow.column(pos_col).to_pylist(), strict=True
    ):
        out[file_path].append(pos)
    return out


def live_counts(
    table: Table, snapshot: Snapshot | None, entries: list[ManifestEntry] | None = None
) -> LiveCounts:
    entries = live_entries(table.io, snapshot) if entries is None else entries
    data = [e for e in entries if is_data(e)]
    deletes = [e for e in entries if not is_data(e)]
    data_rows = sum(e.data_file.record_count for e in data)
    positions = deleted_positions(table, entries) if deletes else {}
    removed = sum(len(p) for p in positions.values())
    by_equality = _equality_removed(table, entries, positions) if deletes else 0
    exact = by_equality is not None and all(
        _readable_positional(e) or e.data_file.content == DataFileContent.EQUALITY_DELETES for e in deletes
    )
    return LiveCounts(len(data), len(deletes), data_rows, data_rows - removed - (by_equality or 0), exact)


def _key_columns(table: Table, data_file: DataFile, ids: set[int]) -> dict[int, list[Any]] | None:
    """The values of top-level columns `ids` of a file, by field id (None: one is nested or missing)."""
    found, _ = file_schema(table, data_file)
    names = {f.field_id: f.name for f in found.fields}
    if not ids <= names.keys():
        return None
    with table.io.new_input(data_file.file_path).open() as stream:
        arrow = pq.read_table(stream, columns=[names[i] for i in sorted(ids)])
    return {i: arrow.column(names[i]).to_pylist() for i in ids}


def _equality_removed(
    table: Table, entries: list[ManifestEntry], positions: dict[str, set[int]]
) -> int | None:
    """Rows the equality deletes remove that no positional delete does (NULL equals NULL)."""
    equality = [e for e in entries if e.data_file.content == DataFileContent.EQUALITY_DELETES]
    if not equality:
        return 0
    data = {e.data_file.file_path: e.data_file for e in entries if is_data(e)}
    keys: dict[str, tuple[tuple[int, ...], set[tuple[Any, ...]]]] = {}
    applying: dict[str, list[str]] = defaultdict(list)
    for delete, paths in targets(table, [*[e for e in entries if is_data(e)], *equality]).items():
        f = next(e.data_file for e in equality if e.data_file.file_path == delete)
        ids = tuple(f.equality_ids or [])
        values = _key_columns(table, f, set(ids))
        if values is None or not ids:
            return None
        keys[delete] = (ids, set(zip(*(values[i] for i in ids), strict=True)))
        for path in paths:
            applying[path].append(delete)
    removed = 0
    for path, deletes in applying.items():
        needed = {i for d in deletes for i in keys[d][0]}
        values = _key_columns(table, data[path], needed)
        if values is None:
            return None
        dropped = positions.get(path, set())
        for row in range(data[path].record_count):
            if row not in dropped and any(
                tuple(values[i][row] for i in ids) in found for ids, found in (keys[d] for d in deletes)
            ):
                removed += 1
    return removed
