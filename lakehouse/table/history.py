"""A table's history: its snapshots, its tags and branches, and rollback.

Rollback is a plan (`RollbackPlan`) that `--dry-run` prints and the real run executes. It never moves
`main` backwards: it commits a *new* snapshot on top of the current one whose live data and delete
files are exactly the target's, each at its own data sequence number (so the same deletes apply).
Every snapshot in between stays an ancestor of `main`, so nothing becomes unreachable, no file is
deleted, and rolling forward again is just another rollback.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from pyiceberg.manifest import DataFile, ManifestEntry
from pyiceberg.table import Table, Transaction
from pyiceberg.table.refs import SnapshotRefType
from pyiceberg.table.snapshots import Operation, Snapshot

from lakehouse.errors import CommitError, LakehouseError, RefError
from lakehouse.table.commits import RetryPolicy, commit_with_retry
from lakehouse.table.deletes import live_counts
from lakehouse.table.producers import AssertSnapshotsLive, require, stage_rewrite, table_io
from lakehouse.table.snapshots import iso_ms, live_entries, parse_timestamp, resolve

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


# ---------------------------------------------------------------- rollback


def _live_files(table: Table, snapshot: Snapshot | None) -> dict[tuple[str, int], ManifestEntry]:
    """Live data and delete files by (path, data sequence number): the pair decides which deletes
    apply to which data files, so two snapshots with the same pairs hold the same rows."""
    return {(e.data_file.file_path, e.sequence_number or 0): e for e in live_entries(table.io, snapshot)}


_EXPIRED_MEANWHILE = "was expired while rolling back; nothing was committed"


def _missing_files(tx: Transaction, paths: list[str]) -> list[str]:
    """Files that are gone from storage: one stat or HEAD each, eight at a time."""
    io = table_io(tx)
    with ThreadPoolExecutor(max_workers=8) as pool:
        present = list(pool.map(lambda path: io.new_input(path).exists(), paths))
    return [p for p, ok in zip(paths, present, strict=True) if not ok]


@dataclass
class RollbackPlan:
    """What `lake rollback` will commit: one new snapshot whose live files equal the target's."""

    table: str
    target_snapshot_id: int
    target_committed_at: str
    current_snapshot_id: int | None
    rows_now: int
    rows_after: int
    files_to_restore: list[str] = field(default_factory=list)
    files_to_unlink: list[str] = field(default_factory=list)
    # The manifest entries and files behind the two lists above (not shown: `to_dict` omits them).
    restore_entries: list[ManifestEntry] = field(default_factory=list, repr=False)
    unlink_files: list[DataFile] = field(default_factory=list, repr=False)

    @property
    def is_noop(self) -> bool:
        return not self.files_to_restore and not self.files_to_unlink

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k not in ("restore_entries", "unlink_files")}
        data["noop"] = self.is_noop
        return data


def plan_rollback(table: Table, identifier: str, ref: str | int) -> RollbackPlan:
    """Restored files (data and delete files) keep their original data sequence numbers: re-added
    with the new snapshot's, a data file would outrank the positional deletes that still name it,
    and a spec-following reader would bring its deleted rows back."""
    target = resolve(table, identifier, ref)
    current = table.current_snapshot()
    now = _live_files(table, current)
    then = _live_files(table, target)
    restore = [e for key, e in sorted(then.items()) if key not in now]
    unlink = [e.data_file for key, e in sorted(now.items()) if key not in then]
    if {f.file_path for f in unlink} & {e.data_file.file_path for e in restore}:
        # the same file at another sequence number: one snapshot cannot both remove and add a path
        raise LakehouseError(
            f"cannot roll {identifier} back to {target.snapshot_id}: a file it holds is live now with a "
            f"different data sequence number; read it with --as-of {target.snapshot_id} instead"
        )
    spec_id = table.metadata.default_spec_id
    for entry in restore:
        if entry.data_file.spec_id != spec_id:
            raise LakehouseError(
                f"cannot roll {identifier} back to {target.snapshot_id}: its files use partition spec "
                f"{entry.data_file.spec_id} but the table now uses {spec_id}; read it with --as-of instead"
            )
    return RollbackPlan(
        table=identifier,
        target_snapshot_id=target.snapshot_id,
        target_committed_at=iso_ms(target.timestamp_ms),
        current_snapshot_id=current.snapshot_id if current else None,
        rows_now=live_counts(table, current, list(now.values())).rows,
        rows_after=live_counts(table, target, list(then.values())).rows,
        files_to_restore=[e.data_file.file_path for e in restore],
        files_to_unlink=[f.file_path for f in unlink],
        restore_entries=restore,
        unlink_files=unlink,
    )


def execute_rollback(table: Table, load: Any, plan: RollbackPlan) -> int | None:
    """Commit the plan; returns the new snapshot id (None for a no-op). Fails if the table moved."""
    if plan.is_noop:
        return None

    summary = {"lake.operation": "rollback", "lake.rollback-to": str(plan.target_snapshot_id)}
    v2 = table.metadata.format_version >= 2  # v1 has no sequence numbers (and no delete files)
    keep = {e.data_file.file_path: e.sequence_number or 0 for e in plan.restore_entries} if v2 else {}
    restore = [e.data_file for e in plan.restore_entries]
    stage = stage_rewrite(plan.unlink_files, restore, summary, Operation.OVERWRITE, keep_sequence=keep)
    expected = plan.current_snapshot_id

    def guarded(tx: Transaction) -> None:
        metadata = tx.table_metadata
        if metadata.current_snapshot_id != expected:
            raise CommitError(
                f"{plan.table} changed while planning the rollback (now at "
                f"{metadata.current_snapshot_id}); run `lake rollback` again"
            )
        if metadata.snapshot_by_id(plan.target_snapshot_id) is None:
            raise CommitError(f"{plan.table}: snapshot {plan.target_snapshot_id} {_EXPIRED_MEANWHILE}")
        if missing := _missing_files(tx, plan.files_to_restore):
            raise CommitError(
                f"{plan.table}: {missing[0]}, a file of snapshot {plan.target_snapshot_id}, is gone from "
                "storage (expired or deleted while rolling back); nothing was committed"
            )
        stage(tx)
        require(tx, AssertSnapshotsLive(snapshot_ids=[plan.target_snapshot_id]))  # type: ignore[call-arg]

    policy = RetryPolicy.from_properties(dict(table.properties), f"table property of {plan.table}")
    committed = commit_with_retry(load, guarded, policy, f"rollback of {plan.table}")
    snapshot = committed.current_snapshot()
    return snapshot.snapshot_id if snapshot else None
