"""Table maintenance without Spark: expire snapshots (deleting their files), remove orphan files,
rewrite manifests, and all of it in one `maintain`.

Every step first builds a plan (data: what would go, with counts and bytes) that `--dry-run` prints
and the real run executes. Deletion is always decided against a fresh reload of the table after the
commit: a file is deleted only if no snapshot still in the metadata, tag or branch reaches it.
"""

from __future__ import annotations

import posixpath
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from pyiceberg.manifest import ManifestContent, ManifestFile
from pyiceberg.table import Table, Transaction
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.refs import SnapshotRefType
from pyiceberg.table.snapshots import SnapshotLogEntry

from lakehouse.core.properties import DEFAULT_MANIFEST_TARGET, MANIFEST_TARGET_PROPERTY, MAX_REF_AGE_PROPERTY
from lakehouse.core.sizes import format_duration, parse_duration
from lakehouse.errors import LakehouseError
from lakehouse.io.storage import FileInfo, abort_multipart_uploads, delete_files, list_files
from lakehouse.table.commits import RetryPolicy, commit_with_retry
from lakehouse.table.producers import (
    AssertUnreferenced,
    ClearSnapshotLogUpdate,
    RewriteManifests,
    apply_updates,
    cleared_log,
    require,
    understands_custom_updates,
)
from lakehouse.table.snapshots import AUDIT_BRANCH_PREFIX, EXPIRED_LOG_PROPERTY, EXPIRED_PROPERTY, iso_ms

if TYPE_CHECKING:
    from collections.abc import Sequence

    from lakehouse.core.config import Profile
    from lakehouse.ops.compaction import CompactionPlan, CompactionResult
    from lakehouse.table.claims import Claim

DEFAULT_EXPIRE_AGE = "5d"  # Iceberg history.expire.max-snapshot-age-ms
DEFAULT_RETAIN_LAST = 1  # Iceberg history.expire.min-snapshots-to-keep
DEFAULT_GC_AGE = "3d"  # Spark remove_orphan_files older_than
# A write's files exist before its commit references them: a shorter gc window can take a write in
# flight. Iceberg's remove_orphan_files defaults to 3 days; going below needs `force`.
GC_FLOOR = timedelta(days=3)
EXPIRED_IDS_KEPT = 1000


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_S3_SCHEMES = ("s3", "s3a", "s3n")


def canonical(path: str) -> str | None:
    """The one spelling of a file we can compare, or None when we cannot tell where it is.

    Local: `/x`, `file:/x` (Hadoop, so Spark), `file:///x` (pyiceberg) and `file://localhost/x` are
    `/x`. S3: `s3a://` and `s3n://` are `s3://`. Both: percent-escapes decoded and repeated slashes
    folded, on the metadata's paths and the listing's alike. Spellings that fold together make a file
    look reachable, never orphaned; deletion always uses a real spelling. None: another scheme, a
    relative path, another host."""
    found = _SCHEME.match(path)
    if found is None:
        return _local(path) if path.startswith("/") else None
    scheme, rest = found.group(1).lower(), path[found.end() :]
    if scheme == "file":
        if rest.startswith("//"):
            host, slash, tail = rest[2:].partition("/")
            if host not in ("", "localhost") or not slash:
                return None
            rest = "/" + tail
        return _local(rest) if rest.startswith("/") else None
    if scheme in _S3_SCHEMES and rest.startswith("//"):
        bucket, slash, key = rest[2:].partition("/")
        return f"s3://{bucket}{_folded('/' + key)}" if bucket and slash else None
    return None


def _folded(path: str) -> str:
    return re.sub("/+", "/", unquote(path))


def _local(path: str) -> str:
    return posixpath.normpath(_folded(path))  # `/a/../b` is the file `/b`; S3 keys keep their dots


def normalize(path: str) -> str:
    """`canonical`, or the path as written when it cannot be normalised (so it matches nothing listed)."""
    return canonical(path) or path


def storage_root(path: str) -> str | None:
    """`/` for a local file, `s3://bucket/` for S3: paths compare only within one root."""
    key = canonical(path)
    if key is None:
        return None
    return "/" if key.startswith("/") else key[: key.index("/", len("s3://")) + 1]


def _now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------------------ reachability


@dataclass
class Reach:
    """Files that a set of snapshots reaches: path (normalized) -> (kind, bytes; 0 if unknown), and
    each one's spelling in the metadata (what a deletion uses)."""

    files: dict[str, tuple[str, int]] = field(default_factory=dict)
    spelled: dict[str, str] = field(default_factory=dict)

    def add(self, path: str, kind: str, size: int = 0) -> None:
        key = normalize(path)
        self.files[key] = (kind, size)
        self.spelled.setdefault(key, path)

    def foreign(self, location: str) -> list[str]:
        """Paths a listing of `location` cannot be compared with: another scheme or bucket, relative."""
        root = storage_root(location)
        return sorted(p for p in self.spelled.values() if root is None or storage_root(p) != root)


class ManifestCache:
    """Live entries per manifest, read once however many snapshots share the manifest."""

    def __init__(self, table: Table) -> None:
        self.io = table.io
        self._entries: dict[str, list[tuple[str, str, int]]] = {}

    def entries(self, manifest: ManifestFile) -> list[tuple[str, str, int]]:
        if manifest.manifest_path not in self._entries:
            kind = "data" if manifest.content == ManifestContent.DATA else "delete"
            self._entries[manifest.manifest_path] = [
                (e.data_file.file_path, kind, e.data_file.file_size_in_bytes)
                for e in manifest.fetch_manifest_entry(self.io, discard_deleted=True)
            ]
        return self._entries[manifest.manifest_path]


def reach(table: Table, metadata: TableMetadata, snapshot_ids: Iterable[int], cache: ManifestCache) -> Reach:
    found = Reach()
    for snapshot_id in snapshot_ids:
        snapshot = metadata.snapshot_by_id(snapshot_id)
        if snapshot is None:
            continue
        found.add(snapshot.manifest_list, "manifest-list")
        for manifest in snapshot.manifests(table.io):
            found.add(manifest.manifest_path, "manifest", manifest.manifest_length)
            for path, kind, size in cache.entries(manifest):
                found.add(path, kind, size)
    return found


def reachable(table: Table, cache: ManifestCache | None = None, excluding: Iterable[int] = ()) -> Reach:
    """Everything the table's current metadata reaches: every snapshot (so every tag and branch),
    the current and logged metadata files, and statistics files. `excluding` leaves out snapshots
    that gc is about to remove (those of abandoned audit branches)."""
    metadata = table.metadata
    skip = set(excluding)
    ids = [s.snapshot_id for s in metadata.snapshots if s.snapshot_id not in skip]
    found = reach(table, metadata, ids, cache or ManifestCache(table))
    if table.metadata_location:
        found.add(table.metadata_location, "metadata")
    for entry in metadata.metadata_log:
        found.add(entry.metadata_file, "metadata")
    for stats in [*getattr(metadata, "statistics", []), *getattr(metadata, "partition_statistics", [])]:
        found.add(stats.statistics_path, "statistics")
    return found


def _under(location: str, path: str) -> bool:
    inside = canonical(location)
    return inside is not None and normalize(path).startswith(inside.rstrip("/") + "/")


def refuse_foreign(found: Reach, location: str, identifier: str) -> None:
    """gc compares a listing with the metadata: a file it cannot compare would look like an orphan."""
    if foreign := found.foreign(location):
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise LakehouseError(
            f"cannot gc {identifier}: its metadata names {foreign[0]}{more}, which a listing of {location} "
            "cannot be matched with (another scheme or bucket, or a relative path); nothing was deleted"
        )


def claimed_reach(table: Table, claims: Sequence[Claim], identifier: str) -> Reach:
    """Everything other catalog entries keeping metadata under this table's location reach (another
    profile's table at the same path): never to be deleted. An unreadable one stops the step."""
    from pyiceberg.table import StaticTable

    found = Reach()
    for claim in claims:
        try:
            other = StaticTable.from_metadata(claim.metadata_location, properties=table.io.properties)
            part = reachable(other)
        except Exception as exc:  # pyiceberg/pyarrow/fsspec raise many kinds: stop, delete nothing
            raise LakehouseError(
                f"{identifier} shares {table.location()} with {claim}, whose metadata "
                f"{claim.metadata_location} cannot be read ({type(exc).__name__}); nothing was deleted"
            ) from None
        found.files.update(part.files)
        for key, path in part.spelled.items():
            found.spelled.setdefault(key, path)
    return found


# Hadoop's checksum of `<name>` is `.<name>.crc` beside it; Spark writes one for every file.
def _checksum_of(path: str) -> str | None:
    folder, _, name = path.rpartition("/")
    if name.startswith(".") and name.endswith(".crc") and len(name) > len("..crc"):
        return f"{folder}/{name[1 : -len('.crc')]}"
    return None


def _live(path: str, known: dict[str, Any] | set[str], location: str) -> bool:
    """Reached by the metadata, a checksum of such a file, or a Hadoop table's version hint."""
    key = normalize(path)
    if key in known:
        return True
    if (companion := _checksum_of(key)) is not None and _live(companion, known, location):
        return True
    return key == normalize(location.rstrip("/") + "/metadata/version-hint.text")


# ------------------------------------------------------------------------------------ expire


@dataclass
class ExpirePlan:
    table: str
    older_than: str
    cutoff: str
    retain_last: int
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, tuple[str, int]] = field(default_factory=dict)
    kept_outside: int = 0
    listed: dict[str, str] = field(default_factory=dict)  # normalized -> the listing's path
    refs: list[dict[str, Any]] = field(default_factory=list)  # tags and branches past their max age

    @property
    def snapshot_ids(self) -> list[int]:
        return [s["snapshot_id"] for s in self.snapshots]

    @property
    def ref_names(self) -> list[str]:
        return [r["name"] for r in self.refs]

    def counts(self) -> dict[str, dict[str, int]]:
        return counts_by_kind(self.files)

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "older_than": self.older_than,
            "cutoff": self.cutoff,
            "retain_last": self.retain_last,
            "snapshots": self.snapshots,
            "refs_removed": self.refs,
            "files": len(self.files),
            "bytes": sum(size for _, size in self.files.values()),
            "by_kind": self.counts(),
            "kept_outside_location": self.kept_outside,
        }


@dataclass
class DeleteResult:
    """What a destructive step did (or, in a dry run, would do)."""

    plan: Any
    dry_run: bool
    deleted_files: int = 0
    deleted_bytes: int = 0
    snapshot_id: int | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.plan.to_dict(),
            "dry_run": self.dry_run,
            "deleted_files": self.deleted_files,
            "deleted_bytes": self.deleted_bytes,
            "snapshot_id": self.snapshot_id,
            "seconds": self.seconds,
        }


@dataclass
class ExpireResult(DeleteResult):
    """Also what expire removed: the tags and branches, and the deleted files by kind."""

    removed_refs: list[str] = field(default_factory=list)
    deleted_by_kind: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            **super().to_dict(),
            "removed_refs": self.removed_refs,
            "deleted_by_kind": self.deleted_by_kind,
        }


def counts_by_kind(files: dict[str, tuple[str, int]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for kind, size in files.values():
        slot = out.setdefault(kind, {"files": 0, "bytes": 0})
        slot["files"] += 1
        slot["bytes"] += size
    return out


def expired_refs(metadata: TableMetadata, now_ms: int, identifier: str = "the table") -> dict[str, int]:
    """Tags and branches (never `main`) whose snapshot is older than their max-ref-age-ms, or the
    table's `history.expire.max-ref-age-ms`: Iceberg's expire removes them, and their snapshots then
    expire as any other. Name -> the max age that applied."""
    from pyiceberg.table.refs import MAIN_BRANCH

    from lakehouse.core.config import whole_number

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
    cutoff = _now() - age
    metadata = table.metadata
    aged = expired_refs(metadata, int(_now().timestamp() * 1000), identifier)
    ids = expired_snapshot_ids(metadata, int(cutoff.timestamp() * 1000), retain_last, aged)
    plan = ExpirePlan(identifier, format_duration(age), cutoff.isoformat(timespec="seconds"), retain_last)
    plan.refs = [_ref_row(metadata, name, max_age) for name, max_age in sorted(aged.items())]
    for snapshot_id in ids:
        snapshot = metadata.snapshot_by_id(snapshot_id)
        assert snapshot is not None
        plan.snapshots.append(
            {
                "snapshot_id": snapshot_id,
                "committed_at": iso_ms(snapshot.timestamp_ms),
                "operation": snapshot.summary.operation.value if snapshot.summary else None,
            }
        )
    cache = ManifestCache(table)
    kept = {s.snapshot_id for s in metadata.snapshots} - set(ids)
    plan.files, plan.kept_outside = _doomed(table, metadata, ids, kept, cache)
    known = set(reachable(table, cache).files) | set(claimed_reach(table, claims, identifier).files)
    unreferenced = _unreferenced_metadata(profile, table, cutoff, known)
    plan.files.update({key: ("metadata", info.size) for key, info in unreferenced.items()})
    plan.listed = {key: info.path for key, info in unreferenced.items()}
    _fill_sizes(profile, table, plan.files)
    return plan


def _ref_row(metadata: TableMetadata, name: str, max_age_ms: int) -> dict[str, Any]:
    ref = metadata.refs[name]
    snapshot = metadata.snapshot_by_id(ref.snapshot_id)
    assert snapshot is not None
    return {
        "name": name,
        "type": ref.snapshot_ref_type.value,
        "snapshot_id": ref.snapshot_id,
        "committed_at": iso_ms(snapshot.timestamp_ms),
        "max_ref_age_ms": max_age_ms,
        "expired_at": iso_ms(snapshot.timestamp_ms + max_age_ms),
    }


def _doomed(
    table: Table, metadata: TableMetadata, expired: Iterable[int], kept: Iterable[int], cache: ManifestCache
) -> tuple[dict[str, tuple[str, int]], int]:
    gone = reach(table, metadata, expired, cache).files
    stay = reach(table, metadata, kept, cache).files
    files = {p: v for p, v in gone.items() if p not in stay}
    inside = {p: v for p, v in files.items() if _under(table.location(), p)}
    return inside, len(files) - len(inside)  # never delete files a table merely references from elsewhere


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


def expire(
    profile: Profile, load: Callable[[], Table], plan: ExpirePlan, *, dry_run: bool = False
) -> ExpireResult:
    """Remove the plan's aged tags and branches and its snapshots in one commit, then delete the
    files only those snapshots reached."""
    from pyiceberg.table.update import RemoveSnapshotRefUpdate, RemoveSnapshotsUpdate

    start = time.perf_counter()
    result = ExpireResult(plan, dry_run)
    if dry_run:
        result.removed_refs = plan.ref_names
        _count_deleted(result, plan.files)
        return result
    if not plan.snapshots and not plan.refs:
        return result
    before = load()
    done: list[int] = []
    now_ms = int(_now().timestamp() * 1000)

    def stage(tx: Transaction) -> None:
        metadata = tx.table_metadata
        # a ref is removed only if it still points where the plan saw it and is still past its age
        aged = expired_refs(metadata, now_ms, plan.table)
        planned = {r["name"]: r["snapshot_id"] for r in plan.refs}
        names = [n for n in plan.ref_names if n in aged and metadata.refs[n].snapshot_id == planned[n]]
        protected = {ref.snapshot_id for name, ref in metadata.refs.items() if name not in names}
        ids = [i for i in plan.snapshot_ids if metadata.snapshot_by_id(i) is not None and i not in protected]
        done[:] = ids
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
        if ids:
            properties = dict(metadata.properties)
            tx.set_properties(
                {
                    EXPIRED_PROPERTY: _record_expired(properties, ids),
                    EXPIRED_LOG_PROPERTY: _record_cleared(properties, cleared_log(metadata, ids)),
                }
            )

    committed = commit_with_retry(
        load, stage, RetryPolicy.from_properties(profile.properties), f"expiring snapshots of {plan.table}"
    )
    cache = ManifestCache(before)
    gone = reach(before, before.metadata, done, cache)
    # Decided again against a reload after the commit: a tag, or a rollback that relinked files,
    # committed meanwhile keeps them; a rollback committing later fails (its target is gone).
    after = load()
    stay = reachable(after, cache).files
    doomed = {p: v for p, v in gone.files.items() if p not in stay and _under(after.location(), p)}
    doomed.update({p: v for p, v in plan.files.items() if v[0] == "metadata" and p not in stay})
    doomed = {p: plan.files.get(p, v) for p, v in doomed.items()}  # sized as the plan sized them
    _fill_sizes(profile, after, doomed)  # (the plan's own computation, for any it did not size)
    spelled = {**gone.spelled, **plan.listed}  # delete the file as written, not its comparison key
    delete_files(profile, sorted(spelled.get(p, p) for p in doomed))
    _count_deleted(result, doomed)
    snapshot = committed.current_snapshot()
    result.snapshot_id = snapshot.snapshot_id if snapshot else None
    result.seconds = round(time.perf_counter() - start, 3)
    return result


def _count_deleted(result: ExpireResult, files: dict[str, tuple[str, int]]) -> None:
    """Plan and result count and size files the same way (`_fill_sizes` gave manifest lists theirs)."""
    result.deleted_by_kind = counts_by_kind(files)
    result.deleted_files = len(files)
    result.deleted_bytes = sum(size for _, size in files.values())


# ------------------------------------------------------------------------------------ gc


# `lake run` stages each model's snapshot on this branch; publishing or a failed check removes it.


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


@dataclass
class GcPlan:
    table: str
    location: str
    older_than: str
    cutoff: str
    orphans: list[FileInfo] = field(default_factory=list)
    recent_orphans: int = 0
    reachable_files: int = 0
    abandoned_branches: dict[str, list[int]] = field(default_factory=dict)
    warning: str | None = None  # set when `force` allowed a window below the floor
    shared_with: list[Claim] = field(default_factory=list)  # other catalog entries under the location

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
            "abandoned_audit_branches": self.abandoned_branches,
            "warning": self.warning,
            "shared_with": [str(c) for c in self.shared_with],
        }


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
    cutoff = _now() - age
    # List first, then read the metadata: a file committed in between is then known to be reachable.
    if storage_root(table.location()) is None:
        raise LakehouseError(f"cannot gc {identifier}: cannot list its location {table.location()}")
    listed = list(list_files(profile, table.location()))
    table = table.refresh()
    abandoned = abandoned_audits(table.metadata, int(cutoff.timestamp() * 1000))
    found = reachable(table, excluding=[i for ids in abandoned.values() for i in ids])
    refuse_foreign(found, table.location(), identifier)
    known = {**claimed_reach(table, claims, identifier).files, **found.files}
    plan = GcPlan(identifier, table.location(), format_duration(age), cutoff.isoformat(timespec="seconds"))
    plan.abandoned_branches = abandoned
    plan.warning = warning
    plan.shared_with = list(claims)
    plan.reachable_files = len(known)
    for info in sorted(listed, key=lambda f: f.path):
        if _live(info.path, known, table.location()):
            continue
        if info.modified < cutoff:
            plan.orphans.append(info)
        else:
            plan.recent_orphans += 1
    return plan


def gc(
    profile: Profile,
    load: Callable[[], Table],
    plan: GcPlan,
    *,
    dry_run: bool = False,
    claims: Callable[[], Sequence[Claim]] | None = None,
) -> DeleteResult:
    """Delete the plan's orphans that are still unreachable, by this table's metadata and by every
    catalog entry `claims` reports (re-read now: the plan's if not given)."""
    start = time.perf_counter()
    result = DeleteResult(plan, dry_run)
    if dry_run:
        result.deleted_files = len(plan.orphans)
        result.deleted_bytes = sum(o.size for o in plan.orphans)
        return result
    if plan.abandoned_branches:
        _drop_abandoned(profile, load, plan)
    table = load()
    found = reachable(table)  # checked again right before deleting
    refuse_foreign(found, plan.location, plan.table)
    shared = claimed_reach(table, claims() if claims else plan.shared_with, plan.table)
    known = {**shared.files, **found.files}
    doomed = [o for o in plan.orphans if not _live(o.path, known, table.location())]
    result.deleted_files = delete_files(profile, [o.path for o in doomed])
    result.deleted_bytes = sum(o.size for o in doomed)
    cutoff = datetime.fromisoformat(plan.cutoff)
    abort_multipart_uploads(profile, plan.location.rstrip("/") + "/", initiated_before=cutoff)
    result.seconds = round(time.perf_counter() - start, 3)
    return result


def _drop_abandoned(profile: Profile, load: Callable[[], Table], plan: GcPlan) -> None:
    """Remove abandoned audit branches and the snapshots only they reach, in one commit; their files
    then are orphans like any other leftover of a killed write."""
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

    commit_with_retry(load, stage, RetryPolicy.from_properties(profile.properties), f"gc of {plan.table}")


# ------------------------------------------------------------------------------------ purge


@dataclass
class PurgePlan:
    """What `drop --purge` deletes: the files the table's metadata reaches under its own location.
    Files it references elsewhere (`add_files` of another table's file) and files another catalog
    entry under the same location reaches are kept and listed."""

    table: str
    location: str
    files: list[str] = field(default_factory=list)  # as the metadata spells them
    kept_outside: list[str] = field(default_factory=list)
    kept_shared: list[str] = field(default_factory=list)
    shared_with: list[Claim] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": len(self.files),
            "kept_outside_location": self.kept_outside,
            "kept_shared": self.kept_shared,
            "shared_with": [str(c) for c in self.shared_with],
        }


def plan_purge(table: Table, identifier: str, claims: Sequence[Claim] = ()) -> PurgePlan:
    found = reachable(table)
    shared = claimed_reach(table, claims, identifier).files
    plan = PurgePlan(identifier, table.location(), shared_with=list(claims))
    for key, path in sorted(found.spelled.items()):
        if not _under(table.location(), path):
            plan.kept_outside.append(path)
        elif key in shared:
            plan.kept_shared.append(path)
        else:
            plan.files.append(path)
    return plan


def purge(table: Table, plan: PurgePlan, profile: Profile | None = None) -> int:
    """Delete the plan's files (the table is already dropped): in batches through `storage` given
    the profile, else through the table's FileIO. A file already gone is not an error."""
    from lakehouse.errors import StorageError

    if profile is not None:
        try:
            return delete_files(profile, plan.files)
        except StorageError as exc:
            raise StorageError(f"dropped {plan.table}, but {exc}; delete what is left by hand") from None
    deleted = 0
    for path in plan.files:
        try:
            table.io.delete(path)
            deleted += 1
        except FileNotFoundError:
            pass
        except OSError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise StorageError(f"dropped {plan.table}, but cannot delete {path}: {first}") from None
    return deleted


# ------------------------------------------------------------------------------------ manifests


@dataclass
class ManifestsPlan:
    table: str
    manifests_before: int
    manifests_after: int
    target_bytes: int

    @property
    def needed(self) -> bool:
        return self.manifests_after < self.manifests_before

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "manifests_before": self.manifests_before,
            "manifests_after": self.manifests_after,
            "target_bytes": self.target_bytes,
        }


def _bins(manifests: list[ManifestFile], target: int) -> list[list[ManifestFile]]:
    """Data manifests of one spec packed in order into bins of about `target` bytes."""
    bins: list[list[ManifestFile]] = [[]]
    size = 0
    for manifest in manifests:
        if bins[-1] and size + manifest.manifest_length > target:
            bins.append([])
            size = 0
        bins[-1].append(manifest)
        size += manifest.manifest_length
    return [b for b in bins if b]


def _packing(
    manifests: list[ManifestFile], target: int
) -> tuple[list[ManifestFile], list[list[ManifestFile]]]:
    """(kept as they are, bins to merge): delete manifests and lone manifests are kept."""
    keep: list[ManifestFile] = []
    by_spec: dict[int, list[ManifestFile]] = defaultdict(list)
    for manifest in manifests:
        if manifest.content != ManifestContent.DATA:
            keep.append(manifest)
        else:
            by_spec[manifest.partition_spec_id].append(manifest)
    merge = []
    for spec_manifests in by_spec.values():
        for group in _bins(spec_manifests, target):
            if len(group) == 1:
                keep.append(group[0])
            else:
                merge.append(group)
    return keep, merge


def plan_manifests(table: Table, identifier: str) -> ManifestsPlan:
    from lakehouse.core.config import whole_number

    where = f"table property of {identifier}"
    target = whole_number(
        table.properties, MANIFEST_TARGET_PROPERTY, DEFAULT_MANIFEST_TARGET, where, unit=" of bytes"
    )
    snapshot = table.current_snapshot()
    manifests = snapshot.manifests(table.io) if snapshot else []
    keep, merge = _packing(manifests, target)
    return ManifestsPlan(identifier, len(manifests), len(keep) + len(merge), target)


def rewrite_manifests(
    profile: Profile, load: Callable[[], Table], plan: ManifestsPlan, *, dry_run: bool = False
) -> dict[str, Any]:
    out = {**plan.to_dict(), "dry_run": dry_run, "snapshot_id": None}
    if dry_run or not plan.needed:
        return out
    summary = {"lake.operation": "rewrite-manifests", "lake.manifests-before": str(plan.manifests_before)}

    def stage(tx: Transaction) -> None:
        with RewriteManifests(tx, summary, plan.target_bytes, _packing):
            pass

    committed = commit_with_retry(
        load, stage, RetryPolicy.from_properties(profile.properties), f"rewriting manifests of {plan.table}"
    )
    snapshot = committed.current_snapshot()
    out["snapshot_id"] = snapshot.snapshot_id if snapshot else None
    out["manifests_after"] = len(snapshot.manifests(committed.io)) if snapshot else 0
    return out


# ------------------------------------------------------------------------------------ maintain


@dataclass
class MaintenancePlan:
    """The four steps of `lake maintain`, previewed together and executed in order."""

    table: str
    compaction: CompactionPlan
    manifests: ManifestsPlan
    expire: ExpirePlan
    gc: GcPlan

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "compact": self.compaction.to_dict(),
            "rewrite_manifests": self.manifests.to_dict(),
            "expire": self.expire.to_dict(),
            "gc": self.gc.to_dict(),
        }


@dataclass
class MaintenanceResult:
    plan: MaintenancePlan
    dry_run: bool
    compact: CompactionResult | None = None
    manifests: dict[str, Any] | None = None
    expire: DeleteResult | None = None
    gc: DeleteResult | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.dry_run:
            return {"dry_run": True, **self.plan.to_dict()}
        return {
            "table": self.plan.table,
            "dry_run": False,
            "compact": self.compact.to_dict() if self.compact else None,
            "rewrite_manifests": self.manifests,
            "expire": self.expire.to_dict() if self.expire else None,
            "gc": self.gc.to_dict() if self.gc else None,
        }


def plan_maintenance(
    profile: Profile, table: Table, identifier: str, claims: Sequence[Claim] = ()
) -> MaintenancePlan:
    from lakehouse.ops.compaction import plan_compaction

    return MaintenancePlan(
        identifier,
        plan_compaction(table, identifier),
        plan_manifests(table, identifier),
        plan_expire(profile, table, identifier, claims=claims),
        plan_gc(profile, table, identifier, claims=claims),
    )


def maintain(
    profile: Profile,
    engine: Any,
    load: Callable[[], Table],
    identifier: str,
    *,
    plan: MaintenancePlan | None = None,
    dry_run: bool = False,
    on_progress: Callable[[float], None] | None = None,
    claims: Callable[[], Sequence[Claim]] = tuple,
) -> MaintenanceResult:
    """Compact, rewrite manifests, expire, gc: in that order, so expiry and gc see the new snapshots."""
    from lakehouse.ops.compaction import compact

    plan = plan or plan_maintenance(profile, load(), identifier, claims())
    result = MaintenanceResult(plan, dry_run)
    if dry_run:
        return result
    result.compact = compact(profile, engine, load, plan.compaction, on_progress=on_progress)
    result.manifests = rewrite_manifests(profile, load, plan_manifests(load(), identifier))
    result.expire = expire(profile, load, plan.expire)
    result.gc = gc(profile, load, plan.gc, claims=claims)
    return result
