"""A model's write on Spark: the same strategies as on DuckDB (`lakehouse.elt.strategies`), written by
Spark's Iceberg writer onto the run's audit branch, with lake's provenance keys in the snapshot summary.

- overwrite: the branch's every row is replaced by the model's output;
- watermark: only rows newer than the table's `max(watermark)` at the snapshot the run started from;
- merge: Spark's `MERGE INTO` on `unique_key` (copy-on-write, Iceberg's default), updating matched rows
  and inserting the rest, as lake's own merge does;
- snapshot: the changed input read by Iceberg's incremental append scan (only appends lie between,
  `lakehouse.elt.plan.at_run` sends anything else to DuckDB), then merged on unique_key or appended.

The model's output is computed once (Spark caches it) to count its rows for `lake.rows` before the
commit that records them. Auditing and publishing stay lake's (`lakehouse.elt.publish`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from lakehouse.core.schemas import quote_ident
from lakehouse.elt.plan import Step
from lakehouse.elt.spark.transpile import to_spark

if TYPE_CHECKING:
    from lakehouse.io.spark.session import SparkSession


def _q(name: str) -> str:
    """A Spark SQL identifier (backticks; double quotes are strings in Spark)."""
    return "`" + name.replace("`", "``") + "`"


def spark_write(
    spark: SparkSession,
    step: Step,
    branch: str,
    parent_id: int | None,
    snapshot_ids: Mapping[str, int | None],
    summary: Mapping[str, str],
) -> dict[str, str]:
    """Write `step` onto `branch` (which points at `parent_id`); returns the summary keys it recorded."""
    name = step.model
    pins = {**snapshot_ids, name: parent_id}
    sql = step.sql
    if step.strategy == "watermark":
        wm = quote_ident(step.watermark or "")
        newest = f"(SELECT max({wm}) FROM {name})"
        sql = f"SELECT * FROM ({sql}) AS lake_model WHERE {newest} IS NULL OR {wm} > {newest}"
    views: dict[str, str] = {}
    view = "lake_model_" + name.replace(".", "_")  # models of one run share the session, side by side
    target = f"{spark.table(name)}.`branch_{branch}`"
    recorded = dict(summary)
    try:
        if step.strategy == "snapshot" and step.increment is not None:
            for read in step.increment.changed:  # one append range (at_run made sure)
                views[read.table] = f"lake_new_{name}_{read.table}".replace(".", "_")
                spark.appended(views[read.table], read.table, int(read.from_id or 0), int(read.to_id or 0))
        rows = spark.cache(view, to_spark(sql, spark.catalog, pins, views))
        recorded["lake.rows"] = str(rows)
        if step.strategy == "merge" or (step.strategy == "snapshot" and step.unique_key):
            current = (
                f"{spark.table(name)} VERSION AS OF {parent_id}"
                if parent_id is not None
                else spark.table(name)
            )
            on = " AND ".join(f"t.{_q(k)} = s.{_q(k)}" for k in step.unique_key)
            updated = spark.sql(
                f"SELECT count(*) AS n FROM {view} AS s LEFT SEMI JOIN {current} AS t ON {on}",
                collect=True,
            )[0]["n"]
            recorded["lake.rows-updated"] = str(updated)
            recorded["lake.rows-inserted"] = str(rows - int(updated))
            spark.sql(
                f"MERGE INTO {target} AS t USING {view} AS s ON {on} "
                "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *",
                properties=recorded,
            )
        else:
            spark.write(view, target, overwrite=step.strategy == "overwrite", properties=recorded)
    finally:
        for temp in (view, *views.values()):
            spark.uncache(temp)
    return recorded
