"""Resolve `--as-of` references to one snapshot: a snapshot id, an ISO-8601 time, or a tag/branch name.

Never falls back to the current snapshot: a reference that does not resolve is an error that says
what the table does have.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

from lakehouse.errors import SnapshotNotFoundError

_INT = re.compile(r"^-?\d+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EXPIRED_PROPERTY = "lake.expired-snapshot-ids"


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


def resolve(table: Table, identifier: str, ref: str | int) -> Snapshot:
    """The snapshot `ref` names in `table`, or SnapshotNotFoundError saying why not."""
    text = str(ref).strip()
    if not text:
        raise SnapshotNotFoundError(f"empty --as-of for {identifier}")
    if _INT.match(text):
        return by_id(table, identifier, int(text))
    if text.startswith("@"):
        return by_pin_file(table, identifier, text[1:])
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
    tags = sorted(name for name in refs if name != "main")
    listing = ", ".join(tags) if tags else "none"
    raise SnapshotNotFoundError(
        f"{identifier} has no tag or branch {text!r}; its tags and branches: {listing}"
    )


def by_id(table: Table, identifier: str, snapshot_id: int) -> Snapshot:
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


def by_pin_file(table: Table, identifier: str, path: str) -> Snapshot:
    """`@training.lock`: the snapshot a lock file pins for this table (a table it lacks is an error)."""
    from lakehouse.pins import load_pins

    pins = load_pins(path)
    pin = pins.get(identifier)
    if pin is None:
        listed = ", ".join(p.table for p in pins.pins) or "none"
        raise SnapshotNotFoundError(
            f"{identifier} is not pinned in {path} (it pins {listed}); pin it too or read it without the pins"
        )
    return by_id(table, identifier, pin.snapshot_id)


def by_time(table: Table, identifier: str, when: datetime) -> Snapshot:
    ms = int(when.timestamp() * 1000)
    log = table.metadata.snapshot_log
    for entry in reversed(log):  # the log is in commit order; the last entry at or before `ms` wins
        if entry.timestamp_ms <= ms:
            return by_id(table, identifier, entry.snapshot_id)
    if not log:
        raise SnapshotNotFoundError(f"{identifier} has no snapshots yet")
    earliest = min(entry.timestamp_ms for entry in log)
    raise SnapshotNotFoundError(
        f"{identifier} has no snapshot at or before {iso_ms(ms)}; the earliest available commit is {iso_ms(earliest)}"
    )
