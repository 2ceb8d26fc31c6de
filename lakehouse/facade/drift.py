"""Has the distribution shifted? `drift` between two snapshots, or two tables (lakehouse.read.drift)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from lakehouse.facade.base import LakeBase, column_names, snapshot_at
from lakehouse.read.drift.result import DriftResult, Side, Thresholds

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot


class DriftAPI(LakeBase):
    """Column-by-column distribution drift: PSI, KS, null rates, categories, freshness, schema."""

    def drift(
        self, table: str, from_: str | int | None, to: str | int | None = None, *,
        against: str | None = None, columns: list[str] | str | None = None,
        thresholds: Thresholds | None = None, bins: int = 10, top_k: int = 20,
    ) -> DriftResult:  # fmt: skip
        """Compare `table` at `from_` (the reference: a pin `@file.lock`, a tag, a snapshot id, a time;
        None for the current snapshot) with `against` (default: the same table) at `to` (default: its
        current snapshot). Computed inside DuckDB in a few streaming scans, so any size works.

        A column drifts when its PSI is above `thresholds.psi` (0.2) or its KS p-value below
        `thresholds.ks` (0.05); a dropped or retyped column is drift too."""
        from lakehouse.read.drift.compute import compute
        from lakehouse.read.drift.sides import sides

        start = time.perf_counter()
        if bins < 2 or top_k < 1:
            from lakehouse.errors import LakehouseError

            raise LakehouseError(f"bins must be 2 or more and top_k 1 or more, not {bins} and {top_k}")
        thresholds = thresholds or Thresholds()
        other = against or table
        reference = self._side(table, from_)
        current = self._side(other, to)
        names = column_names(columns)
        found = sides(reference, current, other.lower() == table.lower(), names or None, to is None)
        with self.engine(locked=True, extensions=()) as engine:
            cols, n_ref, n_cur = compute(engine, found, thresholds, bins=bins, top_k=top_k)
        return DriftResult(
            reference=Side(table, _id(reference[1]), None if from_ is None else str(from_), n_ref),
            current=Side(other, _id(current[1]), None if to is None else str(to), n_cur),
            thresholds=thresholds, columns=cols,
            schema_changes=found.schema_changes, seconds=time.perf_counter() - start, notes=found.notes,
        )  # fmt: skip

    def _side(self, name: str, ref: str | int | None) -> tuple[Table, Snapshot | None]:
        table = self.table(name)
        return table, snapshot_at(table, name, ref)


def _id(snapshot: Snapshot | None) -> int | None:
    return None if snapshot is None else snapshot.snapshot_id
