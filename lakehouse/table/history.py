"""A table's tags and branches (its snapshots: lakehouse/table/timeline.py; rollback: table/rollback.py)."""

from __future__ import annotations

import re
from typing import Any

from pyiceberg.table import Table
from pyiceberg.table.refs import SnapshotRefType
from pyiceberg.table.snapshots import Snapshot

from lakehouse.errors import RefError
from lakehouse.table.snapshots import iso_ms, parse_timestamp, ref_listing

DAY_MS = 24 * 3600 * 1000
MAX_RETAIN_DAYS = 36_600
_REF_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,127}$")


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
        listing = ref_listing(table.metadata.refs)
        raise RefError(f"{identifier} has no tag or branch {name!r}; its tags and branches: {listing}")
    row = next(r for r in list_refs(table) if r["name"] == name)
    manage = table.manage_snapshots()
    if ref.snapshot_ref_type == SnapshotRefType.BRANCH:
        manage.remove_branch(name).commit()
    else:
        manage.remove_tag(name).commit()
    return {**row, "deleted": True}
