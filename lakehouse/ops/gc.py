"""Remove orphan files: files under a table's location that no metadata reaches (leftovers of failed
or killed writes), older than a window, and the audit branches a killed `lake run` left behind.

`plan_gc` lists the location, then reads the metadata; `apply_gc` drops the plan's abandoned branches
and deletes the plan's orphans, except any that the table (or another catalog entry sharing its
location), reloaded right before deleting, now reaches: a guard against races, not a new plan."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from pyiceberg.table import Table, Transaction
from pyiceberg.table.metadata import TableMetadata

from lakehouse.core.sizes import format_duration, parse_duration
from lakehouse.errors import LakehouseError
from lakehouse.io.paths import storage_root
from lakehouse.io.storage import FileInfo, abort_multipart_uploads, delete_files, list_files
from lakehouse.ops.reach import claimed_reach, live, reachable, refuse_foreign
from lakehouse.table.commits import RetryPolicy, commit_with_retry
from lakehouse.table.producers import apply_updates
from lakehouse.table.snapshots import AUDIT_BRANCH_PREFIX

if TYPE_CHECKING:
    from collections.abc import Sequence

    from lakehouse.core.config import Profile
    from lakehouse.table.claims import Claim

DEFAULT_GC_AGE = "3d"  # Spark remove_orphan_files older_than
# A write's files exist before its commit references them: a shorter gc window can take a write in
# flight. Iceberg's remove_orphan_files defaults to 3 days; going below needs `force`.
GC_FLOOR = timedelta(days=3)


@dataclass(frozen=True)
class GcPlan:
    table: str
    location: str
    older_than: str
    cutoff: str
    orphans: tuple[FileInfo, ...] = ()
    recent_orphans: int = 0
    reachable_files: int = 0
    # `lake run`'s audit branch -> the snapshots only it reaches
    abandoned_branches: Mapping[str, tuple[int, ...]] = field(default_factory=lambda: MappingProxyType({}))
    warning: str | None = None  # set when `force` allowed a window below the floor
    shared_with: tuple[Claim, ...] = ()  # other catalog entries under the location

    @property
    def abandoned_snapshots(self) -> list[int]:
        return [i for ids in self.abandoned_branches.values() for i in ids]

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "location": self.location,
            "older_than": self.older_than,
            "cutoff": self.cutoff,
            "orphans": [
                {"path": o.path, "bytes": o.size, "modified": o.modified.isoformat()} for o in self.orphans
            ],
            "orphan_files": len(self.orphans),
            "orphan_bytes": sum(o.size for o in self.orphans),
            "kept_recent_orphans": self.recent_orphans,
            "reachable_files": self.reachable_files,
            "abandoned_audit_branches": {name: list(ids) for name, ids in self.abandoned_branches.items()},
            "warning": self.warning,
            "shared_with": [str(c) for c in self.shared_with],
        }


@dataclass
class GcResult:
    """What gc did (or, in a dry run, would do)."""

    plan: GcPlan
    dry_run: bool
    deleted_files: int = 0
    deleted_bytes: int = 0
    snapshot_id: int | None = None
    seconds: float = 0.0

    @classmethod
    def preview(cls, plan: GcPlan) -> GcResult:
        return cls(plan, True, len(plan.orphans), sum(o.size for o in plan.orphans))

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.plan.to_dict(),
            "dry_run": self.dry_run,
            "deleted_files": self.deleted_files,
            "deleted_bytes": self.deleted_bytes,
            "snapshot_id": self.snapshot_id,
            "seconds": self.seconds,
        }


def abandoned_audits(metadata: TableMetadata, cutoff_ms: int) -> dict[str, list[int]]:
    """Audit branches a killed `lake run` left behind, older than the window, and the snapshots only
    they reach (a staged snapshot's parent is main's, which stays)."""

    def lineage(snapshot_id: int | None) -> list[int]:
        chain = []
        while snapshot_id is not None and (snapshot := metadata.snapshot_by_id(snapshot_id)) is not None:
            chain.append(snapshot_id)
            snapshot_id = snapshot.parent_snapshot_id
        return chain

    stale = {
        name: ref.snapshot_id
        for name, ref in metadata.refs.items()
        if name.startswith(AUDIT_BRANCH_PREFIX)
        and (snap := metadata.snapshot_by_id(ref.snapshot_id)) is not None
        and snap.timestamp_ms < cutoff_ms
    }
    kept = {i for name, ref in metadata.refs.items() if name not in stale for i in lineage(ref.snapshot_id)}
    return {name: [i for i in lineage(head) if i not in kept] for name, head in stale.items()}


def gc_window(older_than: str | timedelta, identifier: str, force: bool) -> tuple[timedelta, str | None]:
    """The window and, below the floor with `force`, the warning to show; below it without, an error."""
    age = parse_duration(older_than)
    if age >= GC_FLOOR:
        return age, None
    floor = format_duration(GC_FLOOR)
    if not force:
        raise LakehouseError(
            f"gc of {identifier}: --older-than {format_duration(age)} is below the {floor} floor; files of a "
            "write in flight could be deleted before it commits. Pass --force if no write is running"
        )
    return age, (
        f"gc of {identifier} with --older-than {format_duration(age)}, below the {floor} floor: files of a "
        "write in flight may be deleted (that write then fails)"
    )


def plan_gc(
    profile: Profile,
    table: Table,
    identifier: str,
    older_than: str | timedelta = DEFAULT_GC_AGE,
    *,
    force: bool = False,
    claims: Sequence[Claim] = (),
) -> GcPlan:
    """Files under the table's location that no metadata reaches and that are older than the window
    (at least GC_FLOOR unless `force`). `claims`: other catalog entries under the location, whose
    files count as reachable."""
    age, warning = gc_window(older_than, identifier, force)
    cutoff = datetime.now(UTC) - age
    # List first, then read the metadata: a file committed in between is then known to be reachable.
    if storage_root(table.location()) is None:
        raise LakehouseError(f"cannot gc {identifier}: cannot list its location {table.location()}")
    listed = list(list_files(profile, table.location()))
    table = table.refresh()
    abandoned = abandoned_audits(table.metadata, int(cutoff.timestamp() * 1000))
    found = reachable(table, excluding=[i for ids in abandoned.values() for i in ids])
    refuse_foreign(found, table.location(), identifier)
    known = {**claimed_reach(table, claims, identifier).files, **found.files}
    orphans, recent = [], 0
    for info in sorted(listed, key=lambda f: f.path):
        if live(info.path, known, table.location()):
            continue
        if info.modified < cutoff:
            orphans.append(info)
        else:
            recent += 1
    return GcPlan(
        identifier,
        table.location(),
        format_duration(age),
        cutoff.isoformat(timespec="seconds"),
        orphans=tuple(orphans),
        recent_orphans=recent,
        reachable_files=len(known),
        abandoned_branches=MappingProxyType({name: tuple(ids) for name, ids in abandoned.items()}),
        warning=warning,
        shared_with=tuple(claims),
    )


def apply_gc(
    profile: Profile,
    load: Callable[[], Table],
    plan: GcPlan,
    *,
    claims: Callable[[], Sequence[Claim]] | None = None,
) -> GcResult:
    """Drop the plan's abandoned audit branches, then delete the plan's orphans that are still
    unreachable, by this table's metadata and by every catalog entry `claims` reports (re-read now:
    the plan's if not given), and abort the location's multipart uploads older than the cutoff."""
    start = time.perf_counter()
    result = GcResult(plan, dry_run=False)
    if plan.abandoned_branches:
        _drop_abandoned(profile, load, plan)
    table = load()
    found = reachable(table)  # checked again right before deleting
    refuse_foreign(found, plan.location, plan.table)
    shared = claimed_reach(table, claims() if claims else plan.shared_with, plan.table)
    known = {**shared.files, **found.files}
    doomed = [o for o in plan.orphans if not live(o.path, known, table.location())]
    result.deleted_files = delete_files(profile, [o.path for o in doomed])
    result.deleted_bytes = sum(o.size for o in doomed)
    cutoff = datetime.fromisoformat(plan.cutoff)
    abort_multipart_uploads(profile, plan.location.rstrip("/") + "/", initiated_before=cutoff)
    result.seconds = round(time.perf_counter() - start, 3)
    return result


def _drop_abandoned(profile: Profile, load: Callable[[], Table], plan: GcPlan) -> None:
    """Remove abandoned audit branches and the snapshots only they reach, in one commit; their files
    then are orphans like any other leftover of a killed write. A branch that moved meanwhile stays."""
    from pyiceberg.table.update import RemoveSnapshotRefUpdate, RemoveSnapshotsUpdate

    def stage(tx: Transaction) -> None:
        refs = tx.table_metadata.refs
        names = [n for n, ids in plan.abandoned_branches.items() if n in refs and refs[n].snapshot_id in ids]
        ids = [i for n in names for i in plan.abandoned_branches[n] if tx.table_metadata.snapshot_by_id(i)]
        updates: list[Any] = [RemoveSnapshotRefUpdate(ref_name=n) for n in names]  # type: ignore[call-arg]
        if ids:
            updates.append(RemoveSnapshotsUpdate(snapshot_ids=ids))  # type: ignore[call-arg]
        if updates:
            apply_updates(tx, updates)

    commit_with_retry(load, stage, RetryPolicy.of(profile), f"gc of {plan.table}")
