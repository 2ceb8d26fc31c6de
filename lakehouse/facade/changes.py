"""Row-level changes: delete and update rows matching an SQL predicate (lakehouse.ops.rowlevel)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, overload

from lakehouse.facade.erase import EraseAPI

if TYPE_CHECKING:
    from lakehouse.ops.erase import EraseResult
    from lakehouse.ops.rowlevel import ChangePlan, ChangeResult


class ChangesAPI(EraseAPI):
    """Delete and update rows; each change is one `overwrite` snapshot, planned first."""

    def plan_change(self, name: str, where: str, set: str | None = None) -> ChangePlan:
        """The files a delete (no `set`) or update would rewrite, with matching row counts; nothing is written."""
        from lakehouse.ops.rowlevel import plan_change

        with self.engine() as engine:
            return plan_change(
                engine, self.table(name), name, "update" if set is not None else "delete", where, set
            )

    @overload
    def delete(
        self, name: str, where: str, *, dry_run: bool = False, erase_history: Literal[False] = False
    ) -> ChangeResult: ...
    @overload
    def delete(
        self, name: str, where: str, *, dry_run: bool = False, erase_history: Literal[True]
    ) -> EraseResult: ...
    def delete(
        self, name: str, where: str, *, dry_run: bool = False, erase_history: bool = False
    ) -> ChangeResult | EraseResult:
        """Delete the rows where the DuckDB SQL predicate `where` is true, as one snapshot
        (copy-on-write, or positional delete files when write.delete.mode=merge-on-read).
        `erase_history=True` removes them from every reachable snapshot too (see `erase`)."""
        if erase_history:
            return self.erase(name, where, dry_run=dry_run)
        return self._change(self.plan_change(name, where), dry_run)

    def update(self, name: str, set: str, where: str, *, dry_run: bool = False) -> ChangeResult:
        """Set columns (`"col = expr, ..."`) on the rows where `where` is true, as one snapshot."""
        return self._change(self.plan_change(name, where, set), dry_run)

    def _change(self, plan: ChangePlan, dry_run: bool) -> ChangeResult:
        from lakehouse.ops.rowlevel import apply_change

        with self.engine(locked=False) as engine:
            return apply_change(self.profile, engine, lambda: self.table(plan.table), plan, dry_run=dry_run)
