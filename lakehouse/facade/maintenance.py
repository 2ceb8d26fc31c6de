"""Compaction and maintenance: plan and apply (lakehouse.ops)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Unpack

from lakehouse.errors import LakehouseError
from lakehouse.facade.base import LakeBase

if TYPE_CHECKING:
    from pyiceberg.table import Table

    from lakehouse.ops.compaction import CompactionOptions, CompactionPlan, CompactionResult
    from lakehouse.ops.expire import ExpireResult
    from lakehouse.ops.gc import GcResult
    from lakehouse.ops.maintain import MaintenancePlan, MaintenanceResult
    from lakehouse.table.claims import Claim


class MaintenanceAPI(LakeBase):
    """Compact, expire, gc, rewrite manifests, maintain; each plan is frozen data applied as planned."""

    def plan_compaction(self, name: str, **options: Unpack[CompactionOptions]) -> CompactionPlan:
        """What `compact` would rewrite (options: target_size, min_size, max_size, min_input_files,
        where, sort_by, zorder); nothing is written."""
        from lakehouse.ops.compaction import plan_compaction

        return plan_compaction(self.table(name), name, **options)

    def compact(
        self, name: str | CompactionPlan, *, dry_run: bool = False,
        on_progress: Callable[[float], None] | None = None, engine: str = "duckdb",
        spark_master: str | None = None, spark_conf: dict[str, str] | None = None,
        **options: Unpack[CompactionOptions],
    ) -> CompactionResult:  # fmt: skip
        """Rewrite small files into target-sized ones as one `replace` snapshot. Give a table name and
        options to plan and apply at once, or a `CompactionPlan` from `plan_compaction` to apply exactly it.
        `engine="spark"` hands the plan's options to Iceberg's `rewrite_data_files` on a Spark session."""
        from lakehouse.ops.compaction import CompactionPlan, compact

        if isinstance(name, CompactionPlan) and options:
            raise LakehouseError("a compaction plan carries its own options; pass the plan alone")
        plan = name if isinstance(name, CompactionPlan) else self.plan_compaction(name, **options)
        if plan.zorder and engine != "spark":
            raise LakehouseError(
                "--zorder is Spark's rewrite_data_files: add --engine spark (or use --sort-by)"
            )
        if engine == "spark":
            from lakehouse.ops.compaction.spark import compact_on_spark

            needed = not (dry_run or plan.empty)
            with self.spark_sessions(spark_master, spark_conf, needed=needed) as spark:
                return compact_on_spark(spark, lambda: self.table(plan.table), plan, dry_run=dry_run)
        with self.engine(locked=False) as engine_:
            load = lambda: self.table(plan.table)  # noqa: E731
            return compact(self.profile, engine_, load, plan, dry_run=dry_run, on_progress=on_progress)

    def expire(
        self, name: str, *, older_than: str = "5d", retain_last: int = 1, dry_run: bool = False
    ) -> ExpireResult:
        """Expire old snapshots (never a tagged or branch one) and delete the files only they reached."""
        from lakehouse.ops.expire import ExpireResult, apply_expire, plan_expire

        table = self.table(name)
        claims = self._claims(table)  # another profile's table at the same path
        plan = plan_expire(self.profile, table, name, older_than, retain_last, claims=claims)
        if dry_run:
            return ExpireResult.preview(plan)
        return apply_expire(self.profile, lambda: self.table(name), plan)

    def gc(
        self, name: str, *, older_than: str = "3d", dry_run: bool = False, force: bool = False
    ) -> GcResult:
        """Delete files under the table's location that no metadata reaches and are older than the window
        (3 days at least, unless `force`: a shorter window can take the files of a write in flight)."""
        from lakehouse.ops.gc import GcResult, apply_gc, plan_gc

        table = self.table(name)
        plan = plan_gc(self.profile, table, name, older_than, force=force, claims=self._claims(table))
        if dry_run:
            return GcResult.preview(plan)
        return apply_gc(self.profile, lambda: self.table(name), plan, claims=lambda: self._claims(table))

    def _claims(self, table: Table) -> list[Claim]:
        """Other catalog entries keeping files under the table's location (another profile on this
        database, or another table given the same location)."""
        from lakehouse.table.claims import claims

        return claims(self.catalog, ".".join(table.name()), table.location())

    def rewrite_manifests(self, name: str, *, dry_run: bool = False) -> dict[str, Any]:
        """Merge small manifests into few (a `replace` snapshot) so planning stays fast."""
        from lakehouse.ops.manifests import ManifestsResult, apply_manifests, plan_manifests

        plan = plan_manifests(self.table(name), name)
        if dry_run:
            return ManifestsResult(plan, dry_run=True).to_dict()
        return apply_manifests(self.profile, lambda: self.table(name), plan).to_dict()

    def maintain(
        self,
        name: str,
        *,
        plan: MaintenancePlan | None = None,
        dry_run: bool = False,
        on_progress: Callable[[float], None] | None = None,
    ) -> MaintenanceResult:
        """Compact, rewrite manifests, expire and gc with the defaults; `dry_run` returns the preview
        (a `MaintenanceResult` whose `.plan` can be passed back to execute exactly that plan)."""
        from lakehouse.ops.maintain import MaintenanceResult, apply_maintenance, plan_maintenance

        plan = plan or plan_maintenance(self.profile, self.table(name), name, self._claims(self.table(name)))
        if dry_run:
            return MaintenanceResult(plan, dry_run=True)
        with self.engine(locked=False) as engine:
            return apply_maintenance(
                self.profile, engine, lambda: self.table(name), plan, on_progress=on_progress,
                claims=lambda: self._claims(self.table(name)),
            )  # fmt: skip
