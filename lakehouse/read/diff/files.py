"""Which data files a diff must read: those that differ between the two snapshots, and no others.

A data file live in both snapshots with the same delete files applied holds the same rows on both
sides, so it is skipped unread: an append reads only the appended files. Files live on one side only
are read and compared by content, so a compaction or rewrite in between cancels out. When positional
delete files differ, the data files they name (their `file_path` column) are read on both sides;
when equality delete files differ, every common data file is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyiceberg.manifest import DataFileContent, ManifestEntry

from lakehouse.table.snapshots import live_entries

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot


@dataclass(frozen=True)
class Side:
    """One snapshot's data files to read, with every delete file of that snapshot (read_live applies
    only those that may remove a row of them)."""

    read: tuple[ManifestEntry, ...]
    deletes: tuple[ManifestEntry, ...]

    @property
    def entries(self) -> list[ManifestEntry]:
        return [*self.read, *self.deletes]

    @property
    def bytes_read(self) -> int:
        deletes = sum(e.data_file.file_size_in_bytes for e in self.deletes) if self.read else 0
        return sum(e.data_file.file_size_in_bytes for e in self.read) + deletes


@dataclass(frozen=True)
class FileDiff:
    """The two sides to read, and how the snapshots' file sets differ (by path)."""

    before: Side
    after: Side
    files_added: int
    files_removed: int
    table_bytes: int  # the data files of the `to` snapshot
    named_bytes: int  # the changed positional delete files read for the data files they name

    @property
    def files_read(self) -> int:
        return len(self.before.read) + len(self.after.read)

    @property
    def bytes_read(self) -> int:
        return self.before.bytes_read + self.after.bytes_read + self.named_bytes


def _split(entries: list[ManifestEntry]) -> tuple[dict[str, ManifestEntry], dict[str, ManifestEntry]]:
    data = {e.data_file.file_path: e for e in entries if e.data_file.content == DataFileContent.DATA}
    deletes = {e.data_file.file_path: e for e in entries if e.data_file.content != DataFileContent.DATA}
    return data, deletes


def file_diff(
    table: Table, before: Snapshot, after: Snapshot, named: Callable[[list[str]], set[str]]
) -> FileDiff:
    """The files to read on each side. `named(paths)` returns the data file paths that the positional
    delete files at `paths` name (their `file_path` column), read by the caller's engine."""
    data_a, deletes_a = _split(live_entries(table.io, before))
    data_b, deletes_b = _split(live_entries(table.io, after))
    changed = set(deletes_a).symmetric_difference(deletes_b)
    kinds = {(deletes_a.get(p) or deletes_b[p]).data_file.content for p in changed}
    common = set(data_a) & set(data_b)
    positional = sorted(
        p
        for p in changed
        if (deletes_a.get(p) or deletes_b[p]).data_file.content == DataFileContent.POSITION_DELETES
    )
    if DataFileContent.EQUALITY_DELETES in kinds:
        touched = common
    elif positional:
        touched = common & named(positional)
    else:
        touched = set()
    unread = common - touched

    def side(data: dict[str, ManifestEntry], deletes: dict[str, ManifestEntry]) -> Side:
        read = tuple(e for p, e in sorted(data.items()) if p not in unread)
        return Side(read, tuple(deletes.values()))

    named_bytes = sum((deletes_a.get(p) or deletes_b[p]).data_file.file_size_in_bytes for p in positional)
    return FileDiff(
        side(data_a, deletes_a),
        side(data_b, deletes_b),
        files_added=len((set(data_b) | set(deletes_b)) - set(data_a) - set(deletes_a)),
        files_removed=len((set(data_a) | set(deletes_a)) - set(data_b) - set(deletes_b)),
        table_bytes=sum(e.data_file.file_size_in_bytes for e in data_b.values()),
        named_bytes=named_bytes if positional and DataFileContent.EQUALITY_DELETES not in kinds else 0,
    )
