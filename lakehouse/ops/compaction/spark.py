"""`lake compact --engine spark`: the same plan's options, executed by Iceberg's `rewrite_data_files`.

Spark picks its own file groups from the options lake planned with (target, min and max file size,
min-input-files, `--where`, `--sort-by`, or Spark's `--zorder`), so a table too big for one machine compacts on a cluster. The snapshot records lake's summary keys (`lake.operation=compact`,
the input counts lake planned, the target) plus `lake.engine=spark`; Spark adds its own counts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from lakehouse.errors import LakehouseError
from lakehouse.ops.compaction.apply import CompactionResult
from lakehouse.ops.compaction.plan import CompactionPlan

if TYPE_CHECKING:
    from pyiceberg.table import Table

    from lakehouse.io.spark.session import SparkSession


def spark_options(plan: CompactionPlan) -> dict[str, str]:
    """The plan's sizes as `rewrite_data_files` options (Iceberg's names)."""
    return {
        "target-file-size-bytes": str(plan.target_size),
        "min-file-size-bytes": str(plan.min_size),
        "max-file-size-bytes": str(plan.max_size),
        "min-input-files": str(plan.min_input_files),
        "partial-progress.enabled": "false",  # one snapshot, as lake's own compaction makes
    }


def spark_where(where: str | None) -> str | None:
    """`--where` is DuckDB SQL; Spark gets the same predicate in its own dialect."""
    if not where:
        return None
    from sqlglot import transpile

    return transpile(where, read="duckdb", write="spark")[0]


def compact_on_spark(
    spark: Callable[[], SparkSession],
    load: Callable[[], Table],
    plan: CompactionPlan,
    *,
    dry_run: bool = False,
) -> CompactionResult:
    """Run `rewrite_data_files` with the plan's options on the session `spark()` gives; a dry run (or
    an empty plan) starts no Spark."""
    start = time.perf_counter()
    before = {
        "files_before": len(plan.input_files),
        "bytes_before": plan.input_bytes,
        "rows_before": sum(g.input_rows for g in plan.groups),
    }
    if dry_run or plan.empty:
        return CompactionResult(plan, dry_run, files_after=plan.expected_outputs, **before)
    summary = {
        "lake.operation": "compact",
        "lake.engine": "spark",
        "lake.files-before": str(before["files_before"]),
        "lake.bytes-before": str(before["bytes_before"]),
        "lake.rows-before": str(before["rows_before"]),
        "lake.target-size": str(plan.target_size),
    }
    sort: list[tuple[str, bool]] | None = None
    if plan.sort_by:
        summary["lake.sort-by"] = ",".join(plan.sort_by)
        sort = [(c.partition(" ")[0], c.upper().endswith(" DESC")) for c in plan.sort_by]  # "ts DESC"
    if plan.zorder:
        summary["lake.zorder"] = ",".join(plan.zorder)
    head = load().metadata.current_snapshot_id
    if head != plan.snapshot_id:
        raise LakehouseError(f"{plan.table} changed since the compaction was planned; plan again")
    session = spark()
    done = session.rewrite_data_files(
        session.table(plan.table).replace("`", ""), spark_options(plan),
        where=spark_where(plan.where), sort=sort, zorder=list(plan.zorder) or None, properties=summary,
    )  # fmt: skip
    table = load()
    snapshot = table.current_snapshot()
    landed = snapshot is not None and snapshot.snapshot_id != head
    spark_summary = snapshot.summary if landed and snapshot and snapshot.summary else None
    return CompactionResult(
        plan, dry_run, snapshot.snapshot_id if landed and snapshot else None,
        files_before=done.get("rewritten_files", 0), bytes_before=done.get("rewritten_bytes", 0),
        files_after=done.get("added_files", 0),
        bytes_after=int(spark_summary.get("added-files-size", 0)) if spark_summary else 0,
        rows=int(spark_summary.get("added-records", 0)) if spark_summary else 0,
        rows_before=before["rows_before"], seconds=round(time.perf_counter() - start, 3),
    )  # fmt: skip
