"""Snapshots: choose one (current, or an `--as-of` reference), list its live files, print its times.

A reference is a snapshot id, an ISO-8601 time, or a tag/branch name. Resolution never falls back to
the current snapshot: a reference that does not resolve is an error that says what the table does have.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, TypeAlias, overload

from lakehouse.errors import SnapshotNotFoundError

if TYPE_CHECKING:
    from pyiceberg.io import FileIO
    from pyiceberg.manifest import DataFile, ManifestEntry
    from pyiceberg.table import Table as IcebergTable
    from pyiceberg.table.snapshots import Snapshot as IcebergSnapshot

    from lakehouse.table.metadata import Snapshot as MetaSnapshot
    from lakehouse.table.metadata import TableMeta

# Resolution reads only what both pyiceberg's Table and the light TableMeta offer under the same names.
Table: TypeAlias = "IcebergTable | TableMeta"
Snapshot: TypeAlias = "IcebergSnapshot | MetaSnapshot"

_INT = re.compile(r"^-?\d+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# `lake run` stages each model's snapshot on a branch named so, then publishes it to main (WAP).
AUDIT_BRANCH_PREFIX = "lake-audit-"
EXPIRED_PROPERTY = "lake.expired-snapshot-ids"
# `snapshot-id:ms` entries that `lake expire` cleared from the snapshot log (as Iceberg Java does),
# so a time in a kept snapshot's span still resolves and one in an expired snapshot's span says so.
EXPIRED_LOG_PROPERTY = "lake.expired-snapshot-log"


def parse_timestamp(text: str) -> datetime | None:
    """ISO-8601; no zone means UTC; a bare date means midnight UTC at its start."""
    value = text.strip()
    if _DATE.match(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return None
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    if not re.match(r"^\d{4}-\d{2}-\d{2}[T ]", value):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def live_entries(io: FileIO, snapshot: IcebergSnapshot | None) -> list[ManifestEntry]:
    """Every live manifest entry of a snapshot (data and delete files), with its data sequence number."""
    if snapshot is None:
        return []
    return [
        entry
        for manifest in snapshot.manifests(io)
        for entry in manifest.fetch_manifest_entry(io, discard_deleted=True)
    ]


def live_files(io: FileIO, snapshot: IcebergSnapshot | None) -> list[DataFile]:
    """The live data and delete files of a snapshot."""
    return [entry.data_file for entry in live_entries(io, snapshot)]


def data_files(io: FileIO, snapshot: IcebergSnapshot | None) -> list[DataFile]:
    """The live data files of a snapshot (no delete files)."""
    from pyiceberg.manifest import DataFileContent

    return [f for f in live_files(io, snapshot) if f.content == DataFileContent.DATA]


@overload
def choose(table: IcebergTable, identifier: str, ref: str | int | None) -> IcebergSnapshot | None: ...
@overload
def choose(table: TableMeta, identifier: str, ref: str | int | None) -> MetaSnapshot | None: ...
def choose(table: Any, identifier: str, ref: str | int | None) -> Any:
    """The current snapshot (None for an empty table) when `ref` is None, else the one `ref` names."""
    return table.current_snapshot() if ref is None else resolve(table, identifier, ref)


@overload
def resolve(table: IcebergTable, identifier: str, ref: str | int) -> IcebergSnapshot: ...
@overload
def resolve(table: TableMeta, identifier: str, ref: str | int) -> MetaSnapshot: ...
def resolve(table: Any, identifier: str, ref: str | int) -> Any:
    """The snapshot `ref` names in `table`, or SnapshotNotFoundError saying why not."""
    text = str(ref).strip()
    if not text:
        raise SnapshotNotFoundError(f"empty --as-of for {identifier}")
    if _INT.match(text):
        return by_id(table, identifier, int(text))
    when = parse_timestamp(text)
    if when is not None:
        return by_time(table, identifier, when)
    refs = table.metadata.refs
    if text in refs:
        return by_id(table, identifier, refs[text].snapshot_id)
    if re.match(r"^\d{4}-", text):
        raise SnapshotNotFoundError(
            f"invalid --as-of {text!r} for {identifier}: not an ISO-8601 time such as 2026-01-15T00:00:00Z"
        )
    raise SnapshotNotFoundError(
        f"{identifier} has no tag or branch {text!r}; its tags and branches: {ref_listing(refs)}"
    )


def ref_listing(refs: Mapping[str, object]) -> str:
    """The names `lake tags` lists (`main` too), for an error about one that does not exist."""
    return ", ".join(sorted(refs)) or "none"


@overload
def by_id(table: IcebergTable, identifier: str, snapshot_id: int) -> IcebergSnapshot: ...
@overload
def by_id(table: TableMeta, identifier: str, snapshot_id: int) -> MetaSnapshot: ...
def by_id(table: Any, identifier: str, snapshot_id: int) -> Any:
    snapshot = table.metadata.snapshot_by_id(snapshot_id)
    if snapshot is not None:
        return snapshot
    expired = table.properties.get(EXPIRED_PROPERTY, "").split(",")
    if str(snapshot_id) in expired:
        raise SnapshotNotFoundError(f"snapshot {snapshot_id} of {identifier} was expired; its files are gone")
    current = table.metadata.current_snapshot_id
    raise SnapshotNotFoundError(
        f"snapshot {snapshot_id} does not exist in {identifier}; its current snapshot is {current or 'none (empty table)'}"
    )


def full_log(table: Table) -> list[tuple[int, int]]:
    """(snapshot id, ms it became current) in commit order: the entries `lake expire` cleared from the
    snapshot log (kept in a property), then the log itself."""
    cleared = []
    for item in table.properties.get(EXPIRED_LOG_PROPERTY, "").split(","):
        snapshot_id, _, ms = item.partition(":")
        if _INT.match(snapshot_id) and _INT.match(ms):
            cleared.append((int(snapshot_id), int(ms)))
    return cleared + [(e.snapshot_id, e.timestamp_ms) for e in table.metadata.snapshot_log]


def _committed_at_entry(table: Table, entry: tuple[int, int]) -> Snapshot | None:
    """The entry's snapshot if the entry is that snapshot's own commit (not a rollback to it)."""
    snapshot = table.metadata.snapshot_by_id(entry[0])
    return snapshot if snapshot is not None and snapshot.timestamp_ms == entry[1] else None


def _gap_before(table: Table, log: list[tuple[int, int]], index: int) -> bool:
    """Whether snapshots that were current just before `log[index]` are missing from the log.

    pyiceberg's expire (and lake's before it kept the cleared log) drops an expired snapshot's entries
    but keeps the older ones, so the entry before it would seem current for the expired one's span.
    A commit's parent is the snapshot that was current when it was made; a different one means a gap.
    """
    commit = _committed_at_entry(table, log[index])
    if index > 0:
        return commit is not None and commit.parent_snapshot_id != log[index - 1][0]
    # The first entry: history before it is gone unless it is the table's first commit.
    if commit is None or commit.parent_snapshot_id is not None:
        return True
    if commit.sequence_number == 1:
        return False
    return bool(table.properties.get(EXPIRED_PROPERTY))


@overload
def by_time(table: IcebergTable, identifier: str, when: datetime) -> IcebergSnapshot: ...
@overload
def by_time(table: TableMeta, identifier: str, when: datetime) -> MetaSnapshot: ...
def by_time(table: Any, identifier: str, when: datetime) -> Any:
    """The snapshot that was current at `when`; an error if that one was expired (never an older one)."""
    ms = int(when.timestamp() * 1000)
    log = full_log(table)
    if not log:
        raise SnapshotNotFoundError(f"{identifier} has no snapshots yet")
    at = max((i for i, (_, logged) in enumerate(log) if logged <= ms), default=None)
    if at is None:
        if _gap_before(table, log, 0):
            raise _expired_at(identifier, ms, log[0][1])
        raise SnapshotNotFoundError(
            f"{identifier} has no snapshot at or before {iso_ms(ms)}; the earliest available commit is {iso_ms(log[0][1])}"
        )
    snapshot_id = log[at][0]
    if table.metadata.snapshot_by_id(snapshot_id) is None:
        raise SnapshotNotFoundError(f"snapshot {snapshot_id} of {identifier} was expired; its files are gone")
    if at + 1 < len(log) and _gap_before(table, log, at + 1):
        raise _expired_at(identifier, ms, log[at + 1][1])
    return by_id(table, identifier, snapshot_id)


def _expired_at(identifier: str, ms: int, known_from: int) -> SnapshotNotFoundError:
    return SnapshotNotFoundError(
        f"the snapshot of {identifier} current at {iso_ms(ms)} was expired; its files are gone "
        f"(its history is complete from {iso_ms(known_from)}; a tag or snapshot id still reads older ones)"
    )
