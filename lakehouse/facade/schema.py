"""Schema, partition-spec, property and name changes (lakehouse.ops.alter): one metadata commit each."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakehouse.facade.base import LakeBase

if TYPE_CHECKING:
    from lakehouse.ops.alter import AlterResult, Change


class SchemaAPI(LakeBase):
    """`alter`: evolve a table's schema or partition spec, set properties, rename it."""

    def alter(self, name: str, change: str | Change, *, dry_run: bool = False, **fields: Any) -> AlterResult:
        """Apply one change as one metadata commit: a `Change`, or its kind and fields; `dry_run`
        checks it and returns the plan (before/after) without committing.

            lake.alter("silver.events", "rename-column", column="name", value="label")
            lake.alter("silver.events", "partition-add", value="day(ts)", dry_run=True)
        """
        from lakehouse.ops.alter import AlterResult, Change, apply_alter, plan_alter
        from lakehouse.table.commits import RetryPolicy

        if isinstance(change, str):
            change = Change(change, **fields)

        plan = plan_alter(self.catalog, name, change)
        if dry_run:
            return AlterResult(plan, True, plan.table)
        return apply_alter(self.catalog, plan, RetryPolicy.of(self.profile), self.table)

    def add_column(
        self, name: str, column: str, type: str, *, doc: str | None = None, after: str | None = None,
        first: bool = False, required: bool = False, dry_run: bool = False,
    ) -> AlterResult:  # fmt: skip
        from lakehouse.ops.alter import Change

        change = Change("add-column", column, type, doc=doc, after=after, first=first, required=required)
        return self.alter(name, change, dry_run=dry_run)

    def rename_column(self, name: str, column: str, new_name: str, *, dry_run: bool = False) -> AlterResult:
        from lakehouse.ops.alter import Change

        return self.alter(name, Change("rename-column", column, new_name), dry_run=dry_run)

    def drop_column(self, name: str, column: str, *, dry_run: bool = False) -> AlterResult:
        from lakehouse.ops.alter import Change

        return self.alter(name, Change("drop-column", column), dry_run=dry_run)

    def evolve_partitions(self, name: str, action: str, terms: str, *, dry_run: bool = False) -> AlterResult:
        """`action` is add, drop or replace; `terms` as `lake create --partition-by` spells them."""
        from lakehouse.ops.alter import Change

        return self.alter(name, Change(f"partition-{action}", value=terms), dry_run=dry_run)
