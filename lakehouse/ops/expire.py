"""Expire snapshots: remove snapshots older than a window (and tags and branches past their max age)
in one commit, then delete the files only they reached.

`plan_expire` decides everything (which refs, which snapshots, which files, their sizes and their
spellings); `apply_expire` commits and deletes exactly that. Under the commit's compare-and-swap it
still drops a ref that moved or a snapshot a new tag protects, and after the commit it keeps every
planned file a reload of the table still reaches: races, not re-planning."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from pyiceberg.table import Table, Transaction
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.refs import SnapshotRefType
from pyiceberg.table.snapshots import SnapshotLogEntry

from lakehouse.core.properties import MAX_REF_AGE_PROPERTY
from lakehouse.core.sizes import format_duration, parse_duration
from lakehouse.errors import LakehouseError
from lakehouse.io.paths import normalize, under
from lakehouse.io.storage import FileInfo, delete_files, list_files
from lakehouse.ops.reach import ManifestCache, claimed_reach, counts_by_kind, reach, reachable
from lakehouse.table.commits import RetryPolicy, commit_with_retry
from lakehouse.table.producers import (
    AssertUnreferenced,
    ClearSnapshotLogUpdate,
    apply_updates,
    cleared_log,
    require,
    understands_custom_updates,
)
from lakehouse.table.snapshots import EXPIRED_LOG_PROPERTY, EXPIRED_PROPERTY, iso_ms

if TYPE_CHECKING:
    from collections.abc import Sequence

    from lakehouse.core.config import Profile
    from lakehouse.table.claims import Claim

DEFAULT_EXPIRE_AGE = "5d"  # Iceberg history.expire.max-snapshot-age-ms
DEFAULT_RETAIN_LAST = 1  # Iceberg history.expire.min-snapshots-to-keep
EXPIRED_IDS_KEPT = 1000


@dataclass(frozen=True)
class ExpiredSnapshot:
    snapshot_id: int
    committed_at: str
    operation: str | None


@dataclass(frozen=True)
class ExpiredRef:
    """A tag or branch past its max age: expire removes it, then its snapshot expires as any other."""

    name: str
    type: str
    snapshot_id: int
    committed_at: str
    max_ref_age_ms: int
    expired_at: str


@dataclass(frozen=True)
class ExpirePlan:
    table: str
    older_than: str
    cutoff: str
    retain_last: int
    snapshots: tuple[ExpiredSnapshot, ...] = ()
    refs: tuple[ExpiredRef, ...] = ()
    # normalized path -> (kind, bytes): what applying deletes, unless a reload still reaches it
    files: Mapping[str, tuple[str, int]] = field(default_factory=lambda: MappingProxyType({}))
    kept_outside: int = 0
    spelled: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # as deleted

    @property
    def snapshot_ids(self) -> list[int]:
        return [s.snapshot_id for s in self.snapshots]

    @property
    def ref_names(self) -> list[str]:
        return [r.name for r in self.refs]

    def counts(self) -> dict[str, dict[str, int]]:
        return counts_by_kind(self.files)

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "older_than": self.older_than,
            "cutoff": self.cutoff,
            "retain_last": self.retain_last,
            "snapshots": [asdict(s) for s in self.snapshots],
            "refs_removed": [asdict(r) for r in self.refs],
            "files": len(self.files),
            "bytes": sum(size for _, size in self.files.values()),
            "by_kind": self.counts(),
            "kept_outside_location": self.kept_outside,
        }


@dataclass
class ExpireResult:
    """What expire did (or, in a dry run, would do): the tags and branches it removed, and the deleted
    files by kind."""

    plan: ExpirePlan
    dry_run: bool
    deleted_files: int = 0
    deleted_bytes: int = 0
    snapshot_id: int | None = None
    seconds: float = 0.0
    removed_refs: list[str] = field(default_factory=list)
    deleted_by_kind: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def preview(cls, plan: ExpirePlan) -> ExpireResult:
        result = cls(plan, dry_run=True, removed_refs=plan.ref_names)
        result.count(plan.files)
        return result

    def count(self, files: Mapping[str, tuple[str, int]]) -> None:
        """Plan and result count and size files the same way (the plan sized the manifest lists)."""
        self.deleted_by_kind = counts_by_kind(files)
        self.deleted_files = len(files)
        self.deleted_bytes = sum(size for _, size in files.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.plan.to_dict(),
            "dry_run": self.dry_run,
            "deleted_files": self.deleted_files,
            "deleted_bytes": self.deleted_bytes,
            "snapshot_id": self.snapshot_id,
            "seconds": self.seconds,
            "removed_refs": self.removed_refs,
            "deleted_by_kind": self.deleted_by_kind,
        }


def expired_refs(metadata: TableMetadata, now_ms: int, identifier: str = "the table") -> dict[str, int]:
    """Tags and branches (never `main`) whose snapshot is older than their max-ref-age-ms, or the
    table's `history.expire.max-ref-age-ms`: Iceberg's expire removes them, and their snapshots then
    expire as any other. Name -> the max age that applied."""
    from pyiceberg.table.refs import MAIN_BRANCH

    from lakehouse.core.settings import whole_number

    default = None
    if MAX_REF_AGE_PROPERTY in metadata.properties:
        where = f"table property of {identifier}"
        default = whole_number(metadata.properties, MAX_REF_AGE_PROPERTY, 1, where, high=2**62, unit=" of ms")
    out = {}
    for name, ref in metadata.refs.items():
        max_age = ref.max_ref_age_ms or default
        snapshot = metadata.snapshot_by_id(ref.snapshot_id)
        if name == MAIN_BRANCH or max_age is None or snapshot is None:
            continue
        if now_ms - snapshot.timestamp_ms > max_age:
            out[name] = max_age
    return out


def expired_snapshot_ids(
    metadata: TableMetadata, cutoff_ms: int, retain_last: int, removed_refs: Iterable[str] = ()
) -> list[int]:
    """Snapshots older than the cutoff that no tag or branch protects.

    Protected: every ref's snapshot (tags, branches, `lake pin --tag`), and the last `retain_last`
    ancestors of every branch (each branch's own min-snapshots-to-keep when it asks for more); refs
    that expire removes (`removed_refs`) protect nothing."""
    protected: set[int] = set()
    gone = set(removed_refs)
    for name, ref in metadata.refs.items():
        if name in gone:
            continue
        protected.add(ref.snapshot_id)
        if ref.snapshot_ref_type != SnapshotRefType.BRANCH:
            continue
        keep = max(retain_last, ref.min_snapshots_to_keep or 0)
        snapshot = metadata.snapshot_by_id(ref.snapshot_id)
        while snapshot is not None and keep > 0:
            protected.add(snapshot.snapshot_id)
            keep -= 1
            parent = snapshot.parent_snapshot_id
            snapshot = metadata.snapshot_by_id(parent) if parent is not None else None
    return [
        s.snapshot_id
        for s in metadata.snapshots
        if s.timestamp_ms < cutoff_ms and s.snapshot_id not in protected
    ]


def _unreferenced_metadata(
    profile: Profile, table: Table, cutoff: datetime, known: set[str]
) -> dict[str, FileInfo]:
    """Old `*.metadata.json` files that neither the current metadata nor its log references."""
    out = {}
    for info in list_files(profile, table.location().rstrip("/") + "/metadata"):
        path = normalize(info.path)
        if path.endswith(".metadata.json") and path not in known and info.modified < cutoff:
            out[path] = info
    return out


def plan_expire(
    profile: Profile,
    table: Table,
    identifier: str,
    older_than: str | timedelta = DEFAULT_EXPIRE_AGE,
    retain_last: int = DEFAULT_RETAIN_LAST,
    claims: Sequence[Claim] = (),
) -> ExpirePlan:
    """`claims`: other catalog entries under the location; old metadata files they reach stay."""
    if retain_last < 1:
        raise LakehouseError(f"--retain-last must be at least 1 (the current snapshot), got {retain_last}")
    age = parse_duration(older_than)
    cutoff = datetime.now(UTC) - age
    metadata = table.metadata
    aged = expired_refs(metadata, int(datetime.now(UTC).timestamp() * 1000), identifier)
    ids = expired_snapshot_ids(metadata, int(cutoff.timestamp() * 1000), retain_last, aged)
    snapshots = []
    for snapshot_id in ids:
        snapshot = metadata.snapshot_by_id(snapshot_id)
        assert snapshot is not None
        operation = snapshot.summary.operation.value if snapshot.summary else None
        snapshots.append(ExpiredSnapshot(snapshot_id, iso_ms(snapshot.timestamp_ms), operation))
    cache = ManifestCache(table)
    kept = {s.snapshot_id for s in metadata.snapshots} - set(ids)
    gone = reach(table, metadata, ids, cache)
    stay = reach(table, metadata, kept, cache).files
    doomed = {p: v for p, v in gone.files.items() if p not in stay}
    files = {p: v for p, v in doomed.items() if under(table.location(), p)}  # never files merely referenced
    outside = len(doomed) - len(files)
    known = set(reachable(table, cache).files) | set(claimed_reach(table, claims, identifier).files)
    unreferenced = _unreferenced_metadata(profile, table, cutoff, known)
    files.update({key: ("metadata", info.size) for key, info in unreferenced.items()})
    _fill_sizes(profile, table, files)
    spelled = {p: gone.spelled[p] for p in files if p in gone.spelled}  # delete the file as written
    spelled.update({key: info.path for key, info in unreferenced.items()})
    return ExpirePlan(
        identifier,
        format_duration(age),
        cutoff.isoformat(timespec="seconds"),
        retain_last,
        snapshots=tuple(snapshots),
        refs=tuple(_ref(metadata, name, max_age) for name, max_age in sorted(aged.items())),
        files=MappingProxyType(files),
        kept_outside=outside,
        spelled=MappingProxyType(spelled),
    )


def _ref(metadata: TableMetadata, name: str, max_age_ms: int) -> ExpiredRef:
    ref = metadata.refs[name]
    snapshot = metadata.snapshot_by_id(ref.snapshot_id)
    assert snapshot is not None
    return ExpiredRef(
        name,
        ref.snapshot_ref_type.value,
        ref.snapshot_id,
        iso_ms(snapshot.timestamp_ms),
        max_age_ms,
        iso_ms(snapshot.timestamp_ms + max_age_ms),
    )


def _fill_sizes(profile: Profile, table: Table, files: dict[str, tuple[str, int]]) -> None:
    """Manifest lists carry no size in the metadata: take it from a listing of the metadata folder."""
    if not any(size == 0 and kind == "manifest-list" for kind, size in files.values()):
        return
    sizes = {
        normalize(f.path): f.size for f in list_files(profile, table.location().rstrip("/") + "/metadata")
    }
    for path, (kind, size) in list(files.items()):
        if size == 0:
            files[path] = (kind, sizes.get(path, 0))


def _record_expired(properties: dict[str, str], ids: list[int]) -> str:
    known = [x for x in properties.get(EXPIRED_PROPERTY, "").split(",") if x]
    known += [str(i) for i in ids if str(i) not in known]
    return ",".join(known[-EXPIRED_IDS_KEPT:])


def _record_cleared(properties: dict[str, str], cleared: list[SnapshotLogEntry]) -> str:
    known = [x for x in properties.get(EXPIRED_LOG_PROPERTY, "").split(",") if x]
    known += [f"{e.snapshot_id}:{e.timestamp_ms}" for e in cleared]
    return ",".join(known[-EXPIRED_IDS_KEPT:])


def apply_expire(profile: Profile, load: Callable[[], Table], plan: ExpirePlan) -> ExpireResult:
    """Remove the plan's aged tags and branches and its snapshots in one commit, then delete the
    plan's files that the table, reloaded after the commit, no longer reaches."""
    from pyiceberg.table.update import RemoveSnapshotRefUpdate, RemoveSnapshotsUpdate

    start = time.perf_counter()
    result = ExpireResult(plan, dry_run=False)
    if not plan.snapshots and not plan.refs:
        return result
    now_ms = int(datetime.now(UTC).timestamp() * 1000)

    def stage(tx: Transaction) -> None:
        metadata = tx.table_metadata
        # a ref is removed only if it still points where the plan saw it and is still past its age
        aged = expired_refs(metadata, now_ms, plan.table)
        planned = {r.name: r.snapshot_id for r in plan.refs}
        names = [n for n in plan.ref_names if n in aged and metadata.refs[n].snapshot_id == planned[n]]
        protected = {ref.snapshot_id for name, ref in metadata.refs.items() if name not in names}
        ids = [i for i in plan.snapshot_ids if metadata.snapshot_by_id(i) is not None and i not in protected]
        result.removed_refs = names
        updates: list[Any] = [RemoveSnapshotRefUpdate(ref_name=n) for n in names]  # type: ignore[call-arg]
        if ids:
            if understands_custom_updates(tx):
                updates.append(ClearSnapshotLogUpdate(snapshot_ids=ids))  # type: ignore[call-arg]
            updates.append(RemoveSnapshotsUpdate(snapshot_ids=ids))  # type: ignore[call-arg]
        if not updates:
            return
        apply_updates(tx, updates)
        if ids:
            require(tx, AssertUnreferenced(snapshot_ids=ids, removed_refs=names))  # type: ignore[call-arg]
            properties = dict(metadata.properties)
            tx.set_properties(
                {
                    EXPIRED_PROPERTY: _record_expired(properties, ids),
                    EXPIRED_LOG_PROPERTY: _record_cleared(properties, cleared_log(metadata, ids)),
                }
            )

    committed = commit_with_retry(load, stage, RetryPolicy.of(profile), f"expiring snapshots of {plan.table}")
    # Checked against a reload after the commit: a tag, or a rollback that relinked files, committed
    # meanwhile keeps them (a snapshot kept under the swap is still reached); a later rollback to an
    # expired snapshot fails, its target gone.
    stay = reachable(load()).files
    doomed = {p: v for p, v in plan.files.items() if p not in stay}
    delete_files(profile, sorted(plan.spelled.get(p, p) for p in doomed))
    result.count(doomed)
    snapshot = committed.current_snapshot()
    result.snapshot_id = snapshot.snapshot_id if snapshot else None
    result.seconds = round(time.perf_counter() - start, 3)
    return result
