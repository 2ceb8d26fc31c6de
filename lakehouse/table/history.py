"""A table's history: its snapshots, and its tags and branches (rollback: lakehouse/table/rollback.py)."""

from __future__ import annotations

import re
from typing import Any

from pyiceberg.table import Table
from pyiceberg.table.refs import SnapshotRefType
from pyiceberg.table.snapshots import Snapshot

from lakehouse.errors import RefError
from lakehouse.table.snapshots import iso_ms, parse_timestamp

DAY_MS = 24 * 3600 * 1000
MAX_RETAIN_DAYS = 36_600
_REF_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,127}$")


# ---------------------------------------------------------------- snapshots


def _summary_int(snapshot: Snapshot, key: str) -> int:
    if snapshot.summary is None:
        return 0
    value = snapshot.summary.additional_properties.get(key)
    return int(value) if value not in (None, "") else 0


def refs_by_snapshot(table: Table) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for name, ref in sorted(table.metadata.refs.items()):
        found.setdefault(ref.snapshot_id, []).append(name)
    return found


def snapshot_row(snapshot: Snapshot, refs: list[str], current_id: int | None) -> dict[str, Any]:
    """What `lake snapshots` shows for one snapshot (ids stay Python ints: exact in JSON)."""
    props = snapshot.summary.additional_properties if snapshot.summary else {}
    return {
        "snapshot_id": snapshot.snapshot_id,
        "parent_id": snapshot.parent_snapshot_id,
        "committed_at": iso_ms(snapshot.timestamp_ms),
        "operation": snapshot.summary.operation.value if snapshot.summary else None,
        "added_rows": _summary_int(snapshot, "added-records"),
        "deleted_rows": _summary_int(snapshot, "deleted-records"),
        "added_files": _summary_int(snapshot, "added-data-files"),
        "deleted_files": _summary_int(snapshot, "deleted-data-files"),
        "total_rows": _summary_int(snapshot, "total-records"),  # in data files; deletes not applied
        # Row-level deletes from other engines (`lake describe --as-of` gives the live rows).
        "total_delete_files": _summary_int(snapshot, "total-delete-files"),
        "total_position_deletes": _summary_int(snapshot, "total-position-deletes"),
        "total_equality_deletes": _summary_int(snapshot, "total-equality-deletes"),
        "refs": refs,
        "current": snapshot.snapshot_id == current_id,
        "rollback_to": int(props["lake.rollback-to"]) if "lake.rollback-to" in props else None,
    }


def list_snapshots(table: Table) -> list[dict[str, Any]]:
    """Every snapshot still in the table's metadata, oldest first."""
    refs = refs_by_snapshot(table)
    current = table.metadata.current_snapshot_id
    snapshots = sorted(table.snapshots(), key=lambda s: (s.timestamp_ms, s.sequence_number or 0))
    return [snapshot_row(s, refs.get(s.snapshot_id, []), current) for s in snapshots]


# ---------------------------------------------------------------- tags and branches


def list_refs(table: Table) -> list[dict[str, Any]]:
    """Tags and branches: name, type, snapshot id, that snapshot's commit time, retention."""
    rows = []
    for name, ref in sorted(table.metadata.refs.items()):
        snapshot = table.metadata.snapshot_by_id(ref.snapshot_id)
        rows.append(
            {
                "name": name,
                "type": ref.snapshot_ref_type.value,
                "snapshot_id": ref.snapshot_id,
                "committed_at": iso_ms(snapshot.timestamp_ms) if snapshot else None,
                "retain_days": None if ref.max_ref_age_ms is None else ref.max_ref_age_ms / DAY_MS,
                "expires_at": (
                    iso_ms(snapshot.timestamp_ms + ref.max_ref_age_ms)
                    if snapshot and ref.max_ref_age_ms
                    else None
                ),
            }
        )
    return rows


def check_ref_name(identifier: str, name: str) -> None:
    """Tag names must not read as snapshot ids, times or lock files, or `--as-of` would be ambiguous."""
    if name == "main":
        raise RefError(f"'main' is {identifier}'s current branch; choose another tag name")
    if not _REF_NAME.match(name) or parse_timestamp(name) is not None:
        raise RefError(
            f"invalid tag name {name!r} for {identifier}: start with a letter or _, then letters, digits, "
            "'.', '_' or '-' (so it cannot be mistaken for a snapshot id or a time)"
        )


def create_ref(
    table: Table,
    identifier: str,
    name: str,
    snapshot: Snapshot,
    *,
    retain_days: float | None = None,
    branch: bool = False,
) -> dict[str, Any]:
    check_ref_name(identifier, name)
    existing = table.metadata.refs.get(name)
    if existing is not None:
        raise RefError(
            f"{identifier} already has a {existing.snapshot_ref_type.value} {name!r} "
            f"at snapshot {existing.snapshot_id}; delete it first with `lake tag {identifier} {name} --delete`"
        )
    if retain_days is not None and not (0 < retain_days <= MAX_RETAIN_DAYS):  # also refuses nan
        raise RefError(
            f"--retain must be a positive number of days, at most {MAX_RETAIN_DAYS} (100 years), "
            f"e.g. 90; got {retain_days}"
        )
    max_age = None if retain_days is None else int(retain_days * DAY_MS)
    manage = table.manage_snapshots()
    if branch:
        manage.create_branch(snapshot.snapshot_id, name, max_ref_age_ms=max_age).commit()
    else:
        manage.create_tag(snapshot.snapshot_id, name, max_ref_age_ms=max_age).commit()
    table.refresh()
    return next(r for r in list_refs(table) if r["name"] == name)


def delete_ref(table: Table, identifier: str, name: str) -> dict[str, Any]:
    ref = table.metadata.refs.get(name)
    if name == "main":
        raise RefError(f"cannot delete {identifier}'s main branch")
    if ref is None:
        names = ", ".join(n for n in sorted(table.metadata.refs) if n != "main") or "none"
        raise RefError(f"{identifier} has no tag or branch {name!r}; its tags and branches: {names}")
    row = next(r for r in list_refs(table) if r["name"] == name)
    manage = table.manage_snapshots()
    if ref.snapshot_ref_type == SnapshotRefType.BRANCH:
        manage.remove_branch(name).commit()
    else:
        manage.remove_tag(name).commit()
    return {**row, "deleted": True}
