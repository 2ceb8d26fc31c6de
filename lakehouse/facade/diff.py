"""What changed between two snapshots of a table: `diff` and `changes` (lakehouse.read.diff)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakehouse.errors import SnapshotNotFoundError
from lakehouse.facade.base import LakeBase, column_names, snapshot_at

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot

    from lakehouse.read.diff.result import DiffResult


class DiffAPI(LakeBase):
    """Rows added, removed and changed between two snapshots (anything `--as-of` takes)."""

    def _between(self, name: str, from_: str | int, to: str | int | None) -> tuple[Table, Snapshot, Snapshot]:
        table = self.table(name)
        before = snapshot_at(table, name, from_)
        after = snapshot_at(table, name, to)
        if before is None or after is None:
            raise SnapshotNotFoundError(f"{name} has no snapshots yet; write to it first")
        return table, before, after

    def diff(
        self, table: str, from_: str | int, to: str | int | None = None, *,
        key: list[str] | str | None = None, columns: list[str] | str | None = None, limit: int | None = None,
    ) -> DiffResult:  # fmt: skip
        """The net change of `table` from snapshot `from_` to `to` (default: the current one).

        Data files common to both snapshots (with the same delete files) are not read; the others are
        compared by content, so a compaction in between changes nothing. With `key`, a key removed once
        and added once is a changed row. `limit` caps the rows returned per kind (the counts are exact).
        """
        from lakehouse.read.diff.compare import diff

        iceberg, before, after = self._between(table, from_, to)
        with self.engine(locked=True, extensions=()) as engine:
            return diff(
                iceberg, table, engine, before, after,
                refs=(str(from_), None if to is None else str(to)),
                key=column_names(key), columns=column_names(columns) or None, limit=limit, latest=to is None,
            )  # fmt: skip

    def changes(self, table: str, from_: str | int, to: str | int | None = None, as_: str = "arrow") -> Any:
        """The rows removed (`change_type` 'delete') and added ('insert') from `from_` to `to`, in `to`'s
        schema: what `SELECT * FROM changes(table, 'FROM', 'TO')` returns. `as_` as for `read`."""
        from lakehouse.read.diff.compare import changes_sql
        from lakehouse.read.outputs import check_output, convert

        check_output(as_)
        iceberg, before, after = self._between(table, from_, to)
        with self.engine(locked=True, extensions=()) as engine:
            return convert(engine.arrow(changes_sql(iceberg, engine, before, after, to is None)), as_)
