"""Apply a compaction plan: write its groups, then commit them as one `replace` snapshot.

Applying never re-plans: the groups, directories, sizes and sort order are the plan's, and the commit
checks that the plan's input files are still live (`lakehouse.ops.compaction.commit`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyiceberg.table import Table

from lakehouse.ops.compaction.commit import commit_compaction
from lakehouse.ops.compaction.plan import CompactionPlan
from lakehouse.ops.compaction.write import write_compaction

if TYPE_CHECKING:
    from lakehouse.core.config import Profile
    from lakehouse.io.engine import Engine


@dataclass(frozen=True)
class CompactionResult:
    plan: CompactionPlan
    dry_run: bool
    snapshot_id: int | None = None
    files_before: int = 0
    bytes_before: int = 0
    files_after: int = 0
    bytes_after: int = 0
    rows: int = 0  # live rows written (the rows read, less those the delete files removed)
    rows_before: int = 0  # rows in the input files, deleted ones included
    delete_files_removed: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.plan.table,
            "dry_run": self.dry_run,
            "snapshot_id": self.snapshot_id,
            "files_before": self.files_before,
            "bytes_before": self.bytes_before,
            "files_after": self.files_after,
            "bytes_after": self.bytes_after,
            "rows": self.rows,
            "rows_before": self.rows_before,
            "rows_after": self.rows,
            "delete_files_applied": self.plan.to_dict()["delete_files_applied"],
            "delete_files_removed": self.delete_files_removed,
            "seconds": self.seconds,
            "plan": self.plan.to_dict(),
        }


def compact(
    profile: Profile,
    engine: Engine,
    load: Callable[[], Table],
    plan: CompactionPlan,
    *,
    dry_run: bool = False,
    on_progress: Callable[[float], None] | None = None,
) -> CompactionResult:
    """Execute a plan: write the groups, then commit them as one snapshot. A dry run writes nothing."""
    start = time.perf_counter()
    before = {
        "files_before": len(plan.input_files),
        "bytes_before": plan.input_bytes,
        "rows_before": sum(g.input_rows for g in plan.groups),
        "delete_files_removed": len(plan.removed_deletes),
    }
    if dry_run or plan.empty:
        known = [g.live_rows for g in plan.groups]
        rows = sum(r for r in known if r is not None) if None not in known else 0  # 0: unknown until written
        return CompactionResult(plan, dry_run, files_after=plan.expected_outputs, rows=rows, **before)
    write = write_compaction(profile, engine, load(), plan, on_progress)
    snapshot = commit_compaction(profile, load, plan, write).current_snapshot()
    return CompactionResult(
        plan, dry_run, snapshot.snapshot_id if snapshot else None, files_after=len(write.data_files),
        bytes_after=write.bytes, rows=write.rows, seconds=round(time.perf_counter() - start, 3), **before,
    )  # fmt: skip
