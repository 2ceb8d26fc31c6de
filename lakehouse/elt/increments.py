"""Snapshot-incremental models (`incremental_strategy='snapshot'`, the default): what each input added
since the snapshots the model's last build read, so that a run reads exactly that, late rows included.

The last build's snapshot records `lake.inputs`, each input's snapshot id then. From that id to the one
this run pins, an input's history is one of:
- unchanged;
- appends and compactions only (`append` and `replace` snapshots, as Iceberg's incremental append scan
  requires): the new rows are those of the data files the `append` snapshots added. A `replace` keeps
  the rows (the spec's meaning of it), so a compaction adds nothing to read;
- anything else (an overwrite, a delete, a rollback, which lake commits as an `overwrite`, or a history
  that no longer leads from one id to the other): the net change, rows removed and rows added as
  multisets, computed from the two snapshots' file sets as `lake diff` does.

Rows removed need the model's unique_key (`lakehouse.elt.increment_write`). Without one, when more
than one input changed, or when the model is not row-wise in the input that changed
(`lakehouse.elt.rowwise`), the model is rebuilt in full and the plan says why: a change is never skipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyiceberg.manifest import DataFileContent, ManifestEntry, ManifestEntryStatus

from lakehouse.elt.rowwise import not_row_wise
from lakehouse.table.snapshots import live_entries

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot

    from lakehouse.elt.state import Built

SAME, APPEND, CHANGE, PENDING, LOST = "same", "append", "change", "pending", "lost"
MAX_WALK = 10_000  # snapshots walked from the pinned one back to the recorded one


@dataclass(frozen=True)
class Range:
    """One input from the snapshot the last build read (`from_id`) to the one this run reads."""

    table: str
    from_id: int | None
    to_id: int | None
    kind: str  # same | append | change | pending (built in this run: known once it is) | lost
    files: int = 0  # data files to read (change: the files that differ, on both sides)
    rows: int = 0  # rows in them, by the manifests' counts
    bytes: int = 0
    note: str = ""  # change / lost: what happened
    entries: tuple[ManifestEntry, ...] = field(default=(), repr=False, compare=False)  # append: to read

    @property
    def new(self) -> bool:
        """Anything to read: an append of no file (an empty snapshot) is no change."""
        return self.kind in (CHANGE, PENDING, LOST) or (self.kind == APPEND and self.files > 0)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"table": self.table, "from": self.from_id, "to": self.to_id, "read": self.kind}
        if self.kind in (APPEND, CHANGE):
            out |= {"files": self.files, "rows": self.rows, "bytes": self.bytes}
        if self.note:
            out["note"] = self.note
        return out

    def describe(self) -> str:
        span = f"{self.table} {self.from_id} -> {self.to_id if self.kind != PENDING else 'this run'}"
        if self.kind == SAME:
            return f"{span}: unchanged"
        if self.kind == PENDING:
            return f"{span}: the rows it publishes in this run"
        if self.kind == APPEND:
            return f"{span}: {_n(self.files, 'file')}, {_n(self.rows, 'row')} appended"
        differ = f"{_n(self.files, 'file')} that differ ({_n(self.rows, 'row')})"
        return f"{span}: {self.note}; the net change, from the {differ}"


@dataclass(frozen=True)
class Increment:
    """What a snapshot-incremental build reads, or why it rebuilds instead."""

    ranges: tuple[Range, ...] = ()
    rebuild: str = ""  # why the model is built in full ("": incremental)

    @property
    def changed(self) -> list[Range]:
        return [r for r in self.ranges if r.new]

    def to_dict(self) -> dict[str, Any]:
        return {"ranges": [r.to_dict() for r in self.ranges], "rebuild": self.rebuild or None}

    def summary(self) -> dict[str, str]:
        """The snapshot summary keys that record it (`lake provenance` shows them)."""
        if self.rebuild:
            return {"lake.rebuild": self.rebuild}
        ranges = {r.table: {k: v for k, v in r.to_dict().items() if k != "table"} for r in self.ranges}
        return {"lake.increment": json.dumps(ranges, sort_keys=True)}


def _n(count: int, what: str) -> str:
    return f"{count} {what}{'' if count == 1 else 's'}"


def plan_increment(
    load: Callable[[str], Table],
    model: str,
    sql: str,
    keyed: bool,
    last: Built,
    ids: Mapping[str, int | None],
    schemas: Mapping[str, int | None],
    pending: Sequence[str] = (),
) -> Increment:
    """What model `model` (its incremental `sql`) reads of each input, from the snapshot ids `last`
    recorded to `ids`; `pending` inputs are built earlier in this run (their ids are not known yet)."""
    ranges = []
    for name, to_id in sorted(ids.items()):
        if name not in last.inputs:
            return Increment(rebuild=f"it reads {name} now, which its last build did not")
        if last.input_schemas is not None and last.input_schemas.get(name) != str(schemas.get(name)):
            return Increment(rebuild=f"the schema of {name} changed since its last build")
        recorded = last.inputs[name]
        from_id = None if recorded == "None" else int(recorded)
        if name in pending:
            ranges.append(Range(name, from_id, None, PENDING))
        else:
            ranges.append(input_range(load(name), name, from_id, to_id))
    return decide(model, sql, keyed, tuple(ranges))


def decide(model: str, sql: str, keyed: bool, ranges: tuple[Range, ...]) -> Increment:
    """Incremental over `ranges`, or a rebuild with the reason."""
    changed = [r for r in ranges if r.new]
    lost = [r for r in changed if r.kind == LOST]
    if lost:
        return Increment(ranges, f"{lost[0].table}: {lost[0].note}")
    if len(changed) > 1:
        names = ", ".join(r.table for r in changed)
        return Increment(
            ranges, f"{names} all changed since its last build; an incremental run reads one changed input"
        )
    if not changed:
        return Increment(ranges)
    only = changed[0]
    problem = not_row_wise(sql, only.table, keyed)
    if problem:
        return Increment(ranges, f"{problem}, so rows added to it change rows already built")
    if only.kind == CHANGE and not keyed:
        return Increment(
            ranges, f"{only.table} {only.note}; without a unique_key its old rows cannot be removed"
        )
    return Increment(ranges)


def input_range(table: Table, name: str, from_id: int | None, to_id: int | None) -> Range:
    """How `table` changed from snapshot `from_id` to `to_id` (None: empty then / now)."""
    if from_id == to_id:
        return Range(name, from_id, to_id, SAME)
    to = table.metadata.snapshot_by_id(to_id) if to_id is not None else None
    if from_id is None:  # read empty last time: all of it is new
        entries = live_entries(table.io, to)
        return _appended(name, from_id, to_id, entries)
    start = table.metadata.snapshot_by_id(from_id)
    if start is None:
        return Range(
            name, from_id, to_id, LOST, note=f"snapshot {from_id}, read by the last build, has expired"
        )
    chain = _chain(table, to, from_id)
    if chain is None:
        note = (
            "is empty now" if to is None else f"snapshot {to_id} does not descend from {from_id} (a rollback)"
        )
        return _changed(table, name, start, to, note)
    appended: list[ManifestEntry] = []
    for snapshot in chain:
        operation = snapshot.summary.operation.value if snapshot.summary else "unknown"
        props = snapshot.summary.additional_properties if snapshot.summary else {}
        if operation == "replace" and "lake.rollback-to" not in props:
            continue  # a compaction or rewrite: the same rows
        added = _added(table, snapshot) if operation == "append" else None
        if added is None:
            what = _what(operation, props)
            return _changed(table, name, start, to, f"{what} in snapshot {snapshot.snapshot_id}")
        appended += added
    return _appended(name, from_id, to_id, appended)


def _what(operation: str, props: Mapping[str, Any]) -> str:
    """What a snapshot that is not an append did, in words (lake's own operation when it names one)."""
    if "lake.rollback-to" in props:
        return f"was rolled back to snapshot {props['lake.rollback-to']}"
    done = str(props.get("lake.operation") or operation)
    words = {"delete": "had rows deleted", "update": "had rows updated", "append": "had delete files added"}
    return words.get(done, "had rows merged" if done.endswith("merge") else "was overwritten")


def _chain(table: Table, to: Snapshot | None, from_id: int) -> list[Snapshot] | None:
    """The snapshots after `from_id` up to `to`, oldest first; None if `to` does not descend from it."""
    chain: list[Snapshot] = []
    current = to
    for _ in range(MAX_WALK):
        if current is None:
            return None
        if current.snapshot_id == from_id:
            return chain[::-1]
        chain.append(current)
        parent = current.parent_snapshot_id
        current = table.metadata.snapshot_by_id(parent) if parent is not None else None
    return None


def _added(table: Table, snapshot: Snapshot) -> list[ManifestEntry] | None:
    """The data files an `append` snapshot added; None if it added a delete file (not an append)."""
    found = []
    for manifest in snapshot.manifests(table.io):
        if manifest.added_snapshot_id != snapshot.snapshot_id:
            continue
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            if entry.status != ManifestEntryStatus.ADDED or entry.snapshot_id != snapshot.snapshot_id:
                continue
            if entry.data_file.content != DataFileContent.DATA:
                return None
            found.append(entry)
    return found


def _appended(name: str, from_id: int | None, to_id: int | None, entries: list[ManifestEntry]) -> Range:
    data = [e.data_file for e in entries if e.data_file.content == DataFileContent.DATA]
    return Range(
        name, from_id, to_id, APPEND, len(data), sum(f.record_count for f in data),
        sum(f.file_size_in_bytes for f in data), entries=tuple(entries),
    )  # fmt: skip


def _changed(table: Table, name: str, start: Snapshot, to: Snapshot | None, note: str) -> Range:
    """A change that is not only appends: the files that differ (both sides) are what the diff reads."""
    before = {e.data_file.file_path: e.data_file for e in live_entries(table.io, start)}
    after = {e.data_file.file_path: e.data_file for e in live_entries(table.io, to)}
    differ = [f for p, f in (before | after).items() if (p in before) != (p in after)]
    data = [f for f in differ if f.content == DataFileContent.DATA]
    return Range(
        name, start.snapshot_id, to.snapshot_id if to else None, CHANGE, len(differ),
        sum(f.record_count for f in data), sum(f.file_size_in_bytes for f in differ), note,
    )  # fmt: skip
