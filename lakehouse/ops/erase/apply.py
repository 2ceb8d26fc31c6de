"""Apply an erasure plan: write each affected file again without the matching rows, re-create every
kept snapshot that reached one and move its tags and branches, remove the old snapshots, all in ONE
commit; then delete every file that only the old snapshots reached, and any unreferenced Parquet file
under the data folder that still holds a matching row (a failed write's leftovers)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyiceberg.manifest import DataFile, ManifestEntry
from pyiceberg.schema import Schema
from pyiceberg.table import Table, Transaction
from pyiceberg.table.metadata import TableMetadata

from lakehouse.core.schemas import quote_ident, quote_literal
from lakehouse.errors import CommitError
from lakehouse.io.cleanup import remove_write
from lakehouse.io.paths import normalize
from lakehouse.io.projection import file_schema, select_list
from lakehouse.io.storage import delete_files, list_files
from lakehouse.io.writer import copy_to_partition, data_location, new_write_id
from lakehouse.ops.erase.plan import (
    ERASED_AT_PROPERTY,
    ERASED_FROM_PROPERTY,
    ERASED_PROPERTY,
    ErasePlan,
    Rewrite,
    positions_sql,
)
from lakehouse.ops.reach import reachable
from lakehouse.table.commits import RetryPolicy, commit_with_retry
from lakehouse.table.pins import ERASURES_PROPERTY, record_erasures
from lakehouse.table.producers import (
    ClearSnapshotLogUpdate,
    apply_updates,
    point_branch,
    point_ref,
    remove_ref,
    stage_erase,
    understands_custom_updates,
)
from lakehouse.table.snapshots import EXPIRED_PROPERTY

if TYPE_CHECKING:
    from lakehouse.core.config import Profile
    from lakehouse.io.engine import Engine


@dataclass
class EraseResult:
    plan: ErasePlan
    dry_run: bool
    rewritten: dict[int, int] = field(default_factory=dict)  # old snapshot id -> new
    removed: list[int] = field(default_factory=list)
    written_files: int = 0
    written_bytes: int = 0
    deleted_files: int = 0
    deleted_bytes: int = 0
    orphans_deleted: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.plan.to_dict(),
            "dry_run": self.dry_run,
            "rewritten": {str(k): str(v) for k, v in self.rewritten.items()},
            "removed_snapshots": [str(i) for i in self.removed],
            "written_files": self.written_files,
            "written_bytes": self.written_bytes,
            "deleted_files": self.deleted_files,
            "deleted_bytes": self.deleted_bytes,
            "orphans_deleted": self.orphans_deleted,
            "seconds": self.seconds,
        }


def _source_entries(table: Table, plan: ErasePlan) -> dict[str, ManifestEntry]:
    """Path -> a live manifest entry of each erased file (its DataFile and data sequence number)."""
    wanted = {f.path for f in plan.files}
    found: dict[str, ManifestEntry] = {}
    for s in plan.snapshots:
        snapshot = table.metadata.snapshot_by_id(s.snapshot_id)
        if snapshot is None:
            continue
        for manifest in snapshot.manifests(table.io):
            for e in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
                if e.data_file.file_path in wanted:
                    found.setdefault(e.data_file.file_path, e)
        if len(found) == len(wanted):
            break
    return found


def schema_view(table: Table, schema_id: int, rename: bool = False) -> Table:
    """`table` as if `schema_id` were its current schema (its top-level columns renamed `lake_old_<id>`
    with `rename`), so files are read and written in the schema of the snapshot they belong to."""
    schema = table.schemas()[schema_id]
    if rename:
        fields = [f.model_copy(update={"name": f"lake_old_{f.field_id}"}) for f in schema.fields]
        schema = Schema(*fields, schema_id=schema_id, identifier_field_ids=[])
    schemas = [schema if s.schema_id == schema_id else s for s in table.metadata.schemas]
    metadata = table.metadata.model_copy(update={"current_schema_id": schema_id, "schemas": schemas})
    return Table(table.name(), metadata, table.metadata_location or "", table.io, table.catalog)


def rewrite_select(table: Table, rewrite: Rewrite, data_file: DataFile, predicate: str) -> str:
    """The file's rows in the snapshot's schema (by field id), without the deleted positions and
    without the matching rows; the predicate sees the current column names, as when planned. A row
    whose predicate is NULL does not match and stays."""
    found, _ = file_schema(table, data_file)
    old = schema_view(table, rewrite.schema_id, rename=True)
    source = (
        f"SELECT {select_list(table, data_file, found)}, {select_list(old, data_file, found)} FROM "
        f"read_parquet([{quote_literal(data_file.file_path)}], hive_partitioning = false, "
        f"file_row_number = true) WHERE NOT list_contains({positions_sql(rewrite.positions)}, file_row_number)"
    )
    columns = ", ".join(
        f"lake_old_{f.field_id} AS {quote_ident(f.name)}" for f in table.schemas()[rewrite.schema_id].fields
    )
    return f"SELECT {columns} FROM ({source}) AS lake_rows WHERE ({predicate}) IS NOT TRUE"


def write_rewrites(
    engine: Engine, table: Table, plan: ErasePlan, entries: dict[str, ManifestEntry], write_id: str
) -> tuple[dict[Rewrite, list[DataFile]], list[str]]:
    """Each rewrite's new file (none when no row is left), and every path written (for cleanup)."""
    out: dict[Rewrite, list[DataFile]] = {}
    paths: list[str] = []
    for index, rewrite in enumerate(plan.rewrites):
        source = entries[rewrite.source].data_file
        directory, name = source.file_path.rsplit("/", 1)[0], f"{write_id}-{index:05d}"
        paths.append(f"{directory}/{name}-0.parquet")  # DuckDB writes it even with no rows
        view = schema_view(table, rewrite.schema_id)
        written = copy_to_partition(
            engine, view, rewrite_select(table, rewrite, source, plan.predicate), directory=directory,
            partition=source.partition, spec_id=source.spec_id, file_name=name, metadata=view.metadata,
        )  # fmt: skip
        out[rewrite] = written.data_files
    return out, paths


def _stage(
    plan: ErasePlan,
    entries: dict[str, ManifestEntry],
    written: dict[Rewrite, list[DataFile]],
    result: EraseResult,
    write_id: str,
) -> Callable[[Transaction], None]:
    scrub = [f.path for f in plan.files]
    branch = f"lake-erase-{plan.erasure_id}"

    def stage(tx: Transaction) -> None:
        metadata = tx.table_metadata
        now = {name: ref.snapshot_id for name, ref in metadata.refs.items()}
        if now != dict(plan.refs):
            moved = sorted(set(now.items()) ^ set(plan.refs.items()))[0][0]
            raise CommitError(
                f"{plan.table} changed since the erasure was planned ({moved!r} moved); nothing was "
                "erased; run it again"
            )
        result.rewritten.clear()
        ids = [s.snapshot_id for s in plan.snapshots]
        for s in plan.snapshots:
            if not s.recreate:
                continue
            point_branch(tx, branch, s.snapshot_id)
            added = [f for r in s.rewrites for f in written[r]]
            keep = {
                f.file_path: entries[r.source].sequence_number or 0 for r in s.rewrites for f in written[r]
            }
            summary = {
                ERASED_PROPERTY: f"{plan.erasure_id} {plan.predicate_sha256}",
                ERASED_AT_PROPERTY: plan.planned_at,
                ERASED_FROM_PROPERTY: str(s.snapshot_id),
                "lake.write-id": write_id,
            }
            deleted = [entries[p].data_file for p in s.files]
            parent = _parent(metadata, s.snapshot_id, result.rewritten, set(ids))
            stage_erase(branch, deleted, added, summary, keep, scrub, s.schema_id, parent)(tx)
            new_id = tx.table_metadata.refs[branch].snapshot_id
            result.rewritten[s.snapshot_id] = new_id
            for name in s.refs:
                point_ref(tx, name, new_id, metadata.refs[name])
        if result.rewritten:
            remove_ref(tx, branch)
        from pyiceberg.table.update import RemoveSnapshotsUpdate

        updates: list[Any] = []
        if understands_custom_updates(tx):
            updates.append(ClearSnapshotLogUpdate(snapshot_ids=ids))  # type: ignore[call-arg]
        updates.append(RemoveSnapshotsUpdate(snapshot_ids=ids))  # type: ignore[call-arg]
        apply_updates(tx, updates)
        properties = dict(metadata.properties)
        known = [x for x in properties.get(EXPIRED_PROPERTY, "").split(",") if x]
        tx.set_properties(
            {
                EXPIRED_PROPERTY: ",".join([*known, *(str(i) for i in ids if str(i) not in known)][-1000:]),
                ERASURES_PROPERTY: record_erasures(
                    properties, result.rewritten, plan.erasure_id, plan.planned_at[:10]
                ),
            }
        )
        result.removed = ids

    return stage


def _parent(
    metadata: TableMetadata, snapshot_id: int, rewritten: dict[int, int], removed: set[int]
) -> int | None:
    """The re-created snapshot's parent: the old parent's re-created snapshot, the old parent if it
    stays, or none (it is removed without a replacement, outside the retention window)."""
    snapshot = metadata.snapshot_by_id(snapshot_id)
    parent = snapshot.parent_snapshot_id if snapshot else None
    if parent in rewritten:
        return rewritten[parent]
    return None if parent is None or parent in removed else parent


def apply_erase(profile: Profile, engine: Engine, load: Callable[[], Table], plan: ErasePlan) -> EraseResult:
    start = time.perf_counter()
    result = EraseResult(plan, dry_run=False)
    if not plan.snapshots:
        return result
    table = load()
    write_id = new_write_id()
    entries = _source_entries(table, plan)
    written: dict[Rewrite, list[DataFile]] = {}
    paths: list[str] = []
    try:
        written, paths = write_rewrites(engine, table, plan, entries, write_id)
        commit_with_retry(load, _stage(plan, entries, written, result, write_id), RetryPolicy.of(profile),
                          f"erasing rows from {plan.table}")  # fmt: skip
    except BaseException:
        remove_write(profile, table, write_id, paths)
        raise
    kept = {f.file_path for files in written.values() for f in files}
    delete_files(profile, [p for p in paths if p not in kept])  # files of rewrites that kept no row
    result.written_files = len(kept)
    result.written_bytes = sum(f.file_size_in_bytes for files in written.values() for f in files)
    after = load()
    stay = reachable(after).files
    doomed = {p: v for p, v in plan.doomed.items() if p not in stay}
    delete_files(profile, sorted(plan.spelled.get(p, p) for p in doomed))
    result.deleted_files = len(doomed)
    result.deleted_bytes = sum(size for _, size in doomed.values())
    result.orphans_deleted = _erase_orphans(profile, engine, after, set(stay), plan.predicate)
    result.seconds = round(time.perf_counter() - start, 3)
    return result


def _erase_orphans(
    profile: Profile, engine: Engine, table: Table, stay: set[str], predicate: str
) -> list[str]:
    """Unreferenced Parquet files under the data folder holding a matching row (a failed write's
    files, which `lake gc` would only remove after its window): deleted now. A file whose columns the
    predicate cannot bind is not ours to judge and stays."""
    found = []
    for info in list_files(profile, data_location(table)):
        if not info.path.endswith(".parquet") or normalize(info.path) in stay:
            continue
        sql = (
            f"SELECT count(*) FROM read_parquet([{quote_literal(info.path)}], hive_partitioning = false) "
            f"WHERE ({predicate})"
        )
        try:
            if engine.value(sql):
                found.append(info.path)
        except Exception:  # noqa: S112 - another layout or a file being written: not a match we can prove
            continue
    delete_files(profile, found)
    return found
