"""Rollback, as a plan (`RollbackPlan`) that `--dry-run` prints and `execute_rollback` commits.

It never moves `main` backwards: it commits a *new* snapshot on top of the current one whose live
data and delete files are exactly the target's, each at its own data sequence number (so the same
deletes apply). Every snapshot in between stays an ancestor of `main`, so nothing becomes
unreachable, no file is deleted, and rolling forward again is just another rollback.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pyiceberg.manifest import DataFile, ManifestEntry
from pyiceberg.table import Table, Transaction
from pyiceberg.table.snapshots import Operation, Snapshot

from lakehouse.errors import CommitError, LakehouseError
from lakehouse.table.commits import RetryPolicy, commit_with_retry
from lakehouse.table.deletes import live_counts
from lakehouse.table.producers import AssertSnapshotsLive, require, stage_rewrite, table_io
from lakehouse.table.snapshots import iso_ms, live_entries


def _by_key(table: Table, snapshot: Snapshot | None) -> dict[tuple[str, int], ManifestEntry]:
    """Live data and delete files by (path, data sequence number): the pair decides which deletes
    apply to which data files, so two snapshots with the same pairs hold the same rows."""
    return {(e.data_file.file_path, e.sequence_number or 0): e for e in live_entries(table.io, snapshot)}


_EXPIRED_MEANWHILE = "was expired while rolling back; nothing was committed"


def _missing_files(tx: Transaction, paths: tuple[str, ...]) -> list[str]:
    """Files that are gone from storage: one stat or HEAD each, eight at a time."""
    io = table_io(tx)
    with ThreadPoolExecutor(max_workers=8) as pool:
        present = list(pool.map(lambda path: io.new_input(path).exists(), paths))
    return [p for p, ok in zip(paths, present, strict=True) if not ok]


@dataclass(frozen=True)
class RollbackPlan:
    """What `lake rollback` will commit: one new snapshot whose live files equal the target's."""

    table: str
    target_snapshot_id: int
    target_committed_at: str
    current_snapshot_id: int | None
    rows_now: int
    rows_after: int
    files_to_restore: tuple[str, ...] = ()
    files_to_unlink: tuple[str, ...] = ()
    # The manifest entries and files behind the two tuples above (not shown: `to_dict` omits them).
    restore_entries: tuple[ManifestEntry, ...] = field(default=(), repr=False)
    unlink_files: tuple[DataFile, ...] = field(default=(), repr=False)
    keep_sequence: bool = True  # v2+: restored files keep their data sequence numbers (v1 has none)

    @property
    def is_noop(self) -> bool:
        return not self.files_to_restore and not self.files_to_unlink

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "target_snapshot_id": self.target_snapshot_id,
            "target_committed_at": self.target_committed_at,
            "current_snapshot_id": self.current_snapshot_id,
            "rows_now": self.rows_now,
            "rows_after": self.rows_after,
            "files_to_restore": list(self.files_to_restore),
            "files_to_unlink": list(self.files_to_unlink),
            "noop": self.is_noop,
        }


def plan_rollback(table: Table, identifier: str, target: Snapshot) -> RollbackPlan:
    """Restored files (data and delete files) keep their original data sequence numbers: re-added
    with the new snapshot's, a data file would outrank the positional deletes that still name it,
    and a spec-following reader would bring its deleted rows back."""
    current = table.current_snapshot()
    now = _by_key(table, current)
    then = _by_key(table, target)
    restore = tuple(e for key, e in sorted(then.items()) if key not in now)
    unlink = tuple(e.data_file for key, e in sorted(now.items()) if key not in then)
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
        files_to_restore=tuple(e.data_file.file_path for e in restore),
        files_to_unlink=tuple(f.file_path for f in unlink),
        restore_entries=restore,
        unlink_files=unlink,
        keep_sequence=table.metadata.format_version >= 2,
    )


def execute_rollback(plan: RollbackPlan, load: Callable[[], Table], policy: RetryPolicy) -> int | None:
    """Commit exactly the plan with the profile's retry `policy`; returns the new snapshot id (None for
    a no-op). Fails, committing nothing, if the table moved or the target's files went meanwhile."""
    if plan.is_noop:
        return None

    summary = {"lake.operation": "rollback", "lake.rollback-to": str(plan.target_snapshot_id)}
    entries = plan.restore_entries
    keep = {e.data_file.file_path: e.sequence_number or 0 for e in entries} if plan.keep_sequence else {}
    restore = [e.data_file for e in entries]
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

    committed = commit_with_retry(load, guarded, policy, f"rollback of {plan.table}")
    snapshot = committed.current_snapshot()
    return snapshot.snapshot_id if snapshot else None
