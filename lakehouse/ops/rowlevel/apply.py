"""Apply a delete or update plan: write its files, then commit them as one `overwrite` snapshot.

Applying never re-plans. The commit is retried on top of concurrent appends (each attempt restages
on the new head); before each attempt the plan's affected files must all still be live and no delete
file may have been added since planning to a partition it changes, otherwise another writer (a
compaction, another delete) got there first: the change fails in one line and removes its files, so
no append is lost and no deleted row comes back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyiceberg.manifest import DataFile, DataFileContent
from pyiceberg.table import Table, Transaction
from pyiceberg.table.snapshots import Operation

from lakehouse.core.hooks import checkpoint
from lakehouse.errors import CommitError, LakehouseError, QueryError
from lakehouse.io.cleanup import remove_write
from lakehouse.io.engine import short_error
from lakehouse.io.writer import new_write_id
from lakehouse.ops.rowlevel.plan import MERGE_ON_READ, ChangePlan
from lakehouse.ops.rowlevel.write import ChangeWrite, write_change
from lakehouse.table.commits import RetryPolicy, commit_with_retry
from lakehouse.table.producers import stage_rewrite, table_io
from lakehouse.table.snapshots import live_entries

if TYPE_CHECKING:
    from lakehouse.core.config import Profile
    from lakehouse.io.engine import Engine


@dataclass(frozen=True)
class ChangeResult:
    plan: ChangePlan
    dry_run: bool
    snapshot_id: int | None = None
    files_removed: int = 0
    files_added: int = 0
    delete_files_added: int = 0
    bytes_written: int = 0
    seconds: float = 0.0

    @property
    def rows_deleted(self) -> int:
        return self.plan.matching_rows if self.plan.kind == "delete" else 0

    @property
    def rows_updated(self) -> int:
        return self.plan.matching_rows if self.plan.kind == "update" else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.plan.table,
            "operation": self.plan.kind,
            "dry_run": self.dry_run,
            "snapshot_id": self.snapshot_id,
            "mode": self.plan.mode,
            "rows_deleted": self.rows_deleted,
            "rows_updated": self.rows_updated,
            "files_removed": self.files_removed,
            "files_added": self.files_added,
            "delete_files_added": self.delete_files_added,
            "bytes_written": self.bytes_written,
            "seconds": self.seconds,
            "plan": self.plan.to_dict(),
        }


def apply_change(
    profile: Profile, engine: Engine, load: Callable[[], Table], plan: ChangePlan, *, dry_run: bool = False
) -> ChangeResult:
    """Write and commit exactly the plan; a plan with no matching row commits nothing."""
    start = time.perf_counter()
    if dry_run or not plan.files:
        return ChangeResult(plan, dry_run)
    table = load()
    write = ChangeWrite(new_write_id())
    try:
        checkpoint("before-write")
        write_change(engine, table, plan, write)
        checkpoint("after-write")
    except BaseException as exc:
        remove_write(profile, table, write.write_id, write.paths)
        if isinstance(exc, Exception) and not isinstance(exc, LakehouseError):  # DuckDB's, on a value
            raise QueryError(
                f"{plan.kind} of {plan.table}: {_what(plan)}: {short_error(exc)}; nothing was changed"
            ) from None
        raise
    removed = [] if plan.mode == MERGE_ON_READ else [*plan.data_files, *plan.obsolete_deletes]
    summary = {
        "lake.operation": plan.kind,
        "lake.write-id": write.write_id,
        "lake.mode": plan.mode,
        f"lake.rows-{plan.kind}d": str(plan.matching_rows),
    }
    try:
        committed = commit_with_retry(
            load,
            _stage(plan, removed, write, summary),
            RetryPolicy.of(profile),
            f"{plan.kind} on {plan.table}",
        )
    except BaseException:
        after = load()
        if not any(s.summary and s.summary.get("lake.write-id") == write.write_id for s in after.snapshots()):
            remove_write(profile, after, write.write_id, write.paths)  # never remove files that did land
        raise
    snapshot = committed.current_snapshot()
    return ChangeResult(
        plan, dry_run, snapshot.snapshot_id if snapshot else None, files_removed=len(plan.files),
        files_added=len(write.data_files), delete_files_added=len(write.delete_files),
        bytes_written=write.bytes, seconds=round(time.perf_counter() - start, 3),
    )  # fmt: skip


def _what(plan: ChangePlan) -> str:
    sets = ", ".join(f"{a.column} = {a.expression}" for a in plan.assignments)
    return f"--set {sets!r} --where {plan.where!r}" if sets else f"--where {plan.where!r}"


def _stage(
    plan: ChangePlan, removed: list[DataFile], write: ChangeWrite, summary: dict[str, str]
) -> Callable[[Transaction], None]:
    rewrite = stage_rewrite(removed, write.data_files + write.delete_files, summary, Operation.OVERWRITE)

    def stage(tx: Transaction) -> None:
        _conflict(plan, tx)
        rewrite(tx)

    return stage


def _conflict(plan: ChangePlan, tx: Transaction) -> None:
    """Raise CommitError when an affected file is gone, or a new delete file may apply to one."""
    live = live_entries(table_io(tx), tx.table_metadata.current_snapshot())
    paths = {f.path for f in plan.files}
    partitions = {_partition(e.data_file) for e in plan.entries}
    known = {e.data_file.file_path for e in plan.delete_entries}
    data = {e.data_file.file_path for e in live if e.data_file.content == DataFileContent.DATA}
    new_deletes = [
        e.data_file
        for e in live
        if e.data_file.content != DataFileContent.DATA
        and e.data_file.file_path not in known
        and (_partition(e.data_file) in partitions or not _partition(e.data_file)[1])
    ]
    if missing := sorted(paths - data):
        why = f"{len(missing)} of the {len(paths)} files it changes were rewritten or removed"
    elif new_deletes:
        why = f"{len(new_deletes)} delete files were added to the partitions it changes"
    else:
        return
    raise CommitError(
        f"{plan.kind} on {plan.table} conflicts with a concurrent change: {why} since snapshot "
        f"{plan.snapshot_id}; nothing was changed; run the {plan.kind} again"
    )


def _partition(data_file: DataFile) -> tuple[int, tuple[Any, ...]]:
    record = data_file.partition
    return data_file.spec_id, tuple(record[i] for i in range(len(record)))
