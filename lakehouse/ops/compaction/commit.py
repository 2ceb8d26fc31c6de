"""Commit a written compaction: remove the inputs (and the delete files that applied to them only) and
add the outputs in one `replace` snapshot.

The commit is retried on top of concurrent appends. Before each attempt, and again against the head
it lands on, the plan's input files and the delete files it removes must all still be live, and no
delete files may have been added to the partitions it rewrites; otherwise it fails, names the change
that got in the way, and removes its files.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pyiceberg.manifest import DataFileContent
from pyiceberg.table import Table, Transaction
from pyiceberg.table.snapshots import Snapshot

from lakehouse.errors import CommitError
from lakehouse.io.cleanup import remove_write
from lakehouse.ops.compaction.plan import CompactionPlan, partition_key
from lakehouse.ops.compaction.write import CompactionWrite
from lakehouse.table.commits import RetryPolicy, commit_with_retry
from lakehouse.table.producers import ReplaceFiles, table_io
from lakehouse.table.snapshots import live_files

if TYPE_CHECKING:
    from lakehouse.core.config import Profile


def commit_compaction(
    profile: Profile, load: Callable[[], Table], plan: CompactionPlan, write: CompactionWrite
) -> Table:
    """Commit a written compaction as one `replace` snapshot; on failure its files are removed."""
    added = write.data_files
    summary = {
        "lake.operation": "compact",
        "lake.write-id": write.write_id,
        "lake.files-before": str(len(plan.input_files)),
        "lake.bytes-before": str(plan.input_bytes),
        "lake.files-after": str(len(added)),
        "lake.rows-before": str(sum(g.input_rows for g in plan.groups)),
        "lake.rows-after": str(write.rows),
        "lake.delete-files-removed": str(len(plan.removed_deletes)),
        "lake.bytes-after": str(write.bytes),
        "lake.target-size": str(plan.target_size),
    }
    if plan.sort_by:
        summary["lake.sort-by"] = ",".join(plan.sort_by)
    try:
        return commit_with_retry(
            load, _stage(plan, write, summary), RetryPolicy.of(profile),
            f"compaction of {plan.table}",
        )  # fmt: skip
    except BaseException:
        table = load()
        if not any(s.summary and s.summary.get("lake.write-id") == write.write_id for s in table.snapshots()):
            remove_write(profile, table, write.write_id, write.paths)  # never remove files that did land
        raise


def _stage(
    plan: CompactionPlan, write: CompactionWrite, summary: dict[str, str]
) -> Callable[[Transaction], None]:
    def check(tx: Transaction, head: Snapshot | None) -> None:
        _conflict(plan, tx, head)

    def stage(tx: Transaction) -> None:
        check(tx, tx.table_metadata.current_snapshot())
        with ReplaceFiles(tx, summary, check) as rewrite:
            for data_file in (*plan.input_files, *plan.removed_deletes):
                rewrite.delete_data_file(data_file)
            for data_file in write.data_files:
                rewrite.append_data_file(data_file)

    return stage


def _conflict(plan: CompactionPlan, tx: Transaction, head: Snapshot | None) -> None:
    """Raise CommitError when an input file is gone from `head` or deletes were added to its partitions."""
    inputs = {f.file_path for f in (*plan.input_files, *plan.removed_deletes)}
    partitions = {partition_key(f) for f in plan.input_files}
    live: set[str] = set()
    new_deletes = 0
    for data_file in live_files(table_io(tx), head):
        live.add(data_file.file_path)
        if data_file.content == DataFileContent.DATA or data_file.file_path in plan.delete_files:
            continue
        if partition_key(data_file) in partitions or not partition_key(data_file)[1]:
            new_deletes += 1
    missing = sorted(inputs - live)
    if not missing and not new_deletes:
        return
    why = (
        f"{len(missing)} of its {len(inputs)} input files were deleted or replaced"
        if missing
        else f"{new_deletes} delete files were added to the partitions it rewrites"
    )
    raise CommitError(
        f"compaction of {plan.table} conflicts with a concurrent change: {why} by {_changes_since(tx, plan.snapshot_id)} "
        f"since it started; the table keeps that change and nothing was compacted; "
        f"run `lake compact {plan.table}` again"
    )


def _changes_since(tx: Transaction, snapshot_id: int | None) -> str:
    newer = []
    snapshot = tx.table_metadata.current_snapshot()
    while snapshot is not None and snapshot.snapshot_id != snapshot_id:
        op = snapshot.summary.operation.value if snapshot.summary else "?"
        newer.append(f"{op} snapshot {snapshot.snapshot_id}")
        parent = snapshot.parent_snapshot_id
        snapshot = tx.table_metadata.snapshot_by_id(parent) if parent is not None else None
    return ", ".join(reversed(newer[-3:])) or "another writer"
