"""Snapshots, tags, rollback and pins (lakehouse.table.history, .rollback, .pinning)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from lakehouse.errors import LakehouseError
from lakehouse.facade.base import LakeBase
from lakehouse.read.plan import AsOf, ReadPlan
from lakehouse.table.pins import PinFile, write_pins

if TYPE_CHECKING:
    from lakehouse.table.pinning import PinReport
    from lakehouse.table.rollback import RollbackPlan


class HistoryAPI(LakeBase):
    """Snapshot history, refs, rollback and pin files."""

    def snapshots(self, name: str) -> list[dict[str, Any]]:
        """Every snapshot of a table, oldest first, with its operation, row counts and refs."""
        from lakehouse.table.timeline import list_snapshots

        return list_snapshots(self.reader.meta(name))

    def tags(self, name: str) -> list[dict[str, Any]]:
        """The table's tags and branches (including `main`)."""
        from lakehouse.table import history

        return history.list_refs(self.table(name))

    def tag(
        self, name: str, tag: str, as_of: str | int | None = None, *,
        retain_days: float | None = None, branch: bool = False, delete: bool = False,
    ) -> dict[str, Any]:  # fmt: skip
        """Tag (or branch) the current snapshot, or the one `as_of` names; `delete=True` removes it."""
        from lakehouse.table import history

        table = self.table(name)
        if delete:
            return history.delete_ref(table, name, tag)
        snapshot = ReadPlan.at(name, as_of).require(table, name)
        return history.create_ref(table, name, tag, snapshot, retain_days=retain_days, branch=branch)

    def plan_rollback(self, name: str, to: str | int) -> RollbackPlan:
        """What `rollback` would commit (`--dry-run` prints it); nothing is written."""
        from lakehouse.table.rollback import plan_rollback

        table = self.table(name)
        return plan_rollback(table, name, ReadPlan.at(name, to).require(table, name))

    def rollback(self, name: str, to: str | int | RollbackPlan) -> dict[str, Any]:
        """Make snapshot `to` current again as a new snapshot with its files; deletes nothing."""
        from lakehouse.table.commits import RetryPolicy
        from lakehouse.table.rollback import execute_rollback

        plan = self.plan_rollback(name, to) if isinstance(to, (str, int)) else to
        policy = RetryPolicy.of(self.profile)
        return {**plan.to_dict(), "snapshot_id": execute_rollback(plan, lambda: self.table(name), policy)}

    def pin(
        self,
        names: list[str] | str,
        output: str | os.PathLike[str],
        as_of: AsOf = None,
        *,
        tag: str | None = None,
    ) -> PinFile:
        """Record each table's snapshot (current, or `as_of`) in a lock file; `tag` also tags each one."""
        from lakehouse.table.pinning import pin_tables

        names = [names] if isinstance(names, str) else list(names)
        if not names:
            raise LakehouseError("name at least one table to pin")
        chosen = ReadPlan.parse(as_of).require  # each table's snapshot: current, or as_of's
        pins = pin_tables(names, self.table, chosen, tag, self.profile.name, self.profile.warehouse)
        return write_pins(output, pins)

    def verify_pins(self, path: str | os.PathLike[str], *, check_files: bool = True) -> PinReport:
        """Check that every pinned snapshot still exists, matches its fingerprint and has its files."""
        from lakehouse.table.pinning import verify_pins

        return verify_pins(path, self.table, self.profile.warehouse, check_files)
