"""Erasure that reaches history (lakehouse.ops.erase)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakehouse.facade.base import LakeBase

if TYPE_CHECKING:
    from lakehouse.ops.erase import EraseResult
    from lakehouse.ops.erase.plan import ErasePlan


class EraseAPI(LakeBase):
    def erase(
        self, name: str, where: str, *, dry_run: bool = False, older_than: str = "5d", retain_last: int = 1,
        plan: ErasePlan | None = None,
    ) -> EraseResult:  # fmt: skip
        """Remove the rows matching `where` (a DuckDB SQL predicate) from the table and from every
        snapshot still reachable: each tag, each branch, and each snapshot `expire(older_than,
        retain_last)` would keep is re-created without them and its refs move, in one commit; the old
        snapshots are removed and every file only they reached is deleted. Summaries record the
        erasure id and the predicate's SHA-256, never the values. `plan` (a dry run's `result.plan`)
        applies exactly that plan."""
        from lakehouse.ops.erase import EraseResult, apply_erase, plan_erase

        with self.engine() as engine:  # locked: the predicate reaches no file outside the warehouse
            if plan is None:
                plan = plan_erase(engine, self.table(name), name, where, older_than, retain_last)
            if dry_run:
                return EraseResult(plan, dry_run=True, removed=[s.snapshot_id for s in plan.snapshots])
            return apply_erase(self.profile, engine, lambda: self.table(name), plan)
