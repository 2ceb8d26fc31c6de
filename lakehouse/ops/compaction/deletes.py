"""Compaction and delete files: which apply to which data files, what a group reads, and which delete
files can go once their data files are rewritten.

A data file that a delete file applies to is a compaction candidate whatever its size (Spark's
`delete-file-threshold` of 1): rewriting it through `read_live` applies the deletes. A delete file
whose every target is rewritten applies to nothing afterwards (the new files have a higher sequence
number than any delete), so the same `replace` snapshot removes it.
"""

from __future__ import annotations

from collections.abc import Iterable

from pyiceberg.manifest import DataFile, DataFileContent, ManifestEntry
from pyiceberg.table import Table

from lakehouse.table.deletes import deleted_positions, targets


def is_delete(entry: ManifestEntry) -> bool:
    return entry.data_file.content != DataFileContent.DATA


def applying(
    table: Table, entries: list[ManifestEntry]
) -> tuple[dict[str, set[str]], dict[str, list[ManifestEntry]]]:
    """(delete file path -> data file paths it applies to, data file path -> its delete files' entries)."""
    if not any(is_delete(e) for e in entries):
        return {}, {}
    found = targets(table, entries)
    by_path = {e.data_file.file_path: e for e in entries}
    out: dict[str, list[ManifestEntry]] = {}
    for delete, paths in sorted(found.items()):
        for path in paths:
            out.setdefault(path, []).append(by_path[delete])
    return found, out


def group_entries(
    table: Table, data: list[ManifestEntry], deletes_of: dict[str, list[ManifestEntry]]
) -> tuple[tuple[ManifestEntry, ...], int | None]:
    """(the group's data entries and the delete entries that apply to them, its live row count: exact
    with positional deletes only, None with equality deletes, which need the data to count)."""
    deletes = {d.data_file.file_path: d for e in data for d in deletes_of.get(e.data_file.file_path, [])}
    entries = (*data, *deletes.values())
    rows = sum(e.data_file.record_count for e in data)
    if any(d.data_file.content == DataFileContent.EQUALITY_DELETES for d in deletes.values()):
        return entries, None
    if deletes:
        rows -= sum(len(p) for p in deleted_positions(table, list(entries)).values())
    return entries, rows


def removable(
    found: dict[str, set[str]], applied: Iterable[ManifestEntry], inputs: set[str]
) -> tuple[DataFile, ...]:
    """The applied delete files whose every target is among the rewritten `inputs`."""
    files = {e.data_file.file_path: e.data_file for e in applied}
    return tuple(files[p] for p in sorted(files) if found.get(p, set()) <= inputs)
