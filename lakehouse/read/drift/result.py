"""What `Lakehouse.drift` returns: per column, how the current side's distribution differs from the
reference side's, and whether that is beyond the thresholds.

The reference is the side drift is measured against (`--from`: a pin, a tag, the training set); the
current side is `--to` (default: the table now) or another table with the same columns.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from lakehouse.read.schemachanges import SchemaChange

ColumnKind = Literal["numeric", "categorical", "temporal"]
__all__ = ["Bin", "ColumnDrift", "DriftResult", "SchemaChange", "Side", "Stats", "Thresholds"]


@dataclass(frozen=True)
class Thresholds:
    """A column drifts when PSI > `psi` or the KS p-value < `ks` (numeric). None turns a test off."""

    psi: float | None = 0.2
    ks: float | None = 0.05


@dataclass(frozen=True)
class Side:
    """One side of the comparison: a table read at one snapshot."""

    table: str
    snapshot_id: int | None  # None: the table has no snapshot (empty)
    ref: str | None  # as the user gave it (`@training.lock`, `tag:v1`, a time...), None for current
    rows: int


@dataclass(frozen=True)
class Stats:
    """One column on one side. Numbers as floats; min/max as text for temporal columns."""

    rows: int
    nulls: int
    null_rate: float
    distinct: int | None = None  # approximate (HyperLogLog)
    mean: float | None = None
    std: float | None = None
    min: float | str | None = None
    max: float | str | None = None


@dataclass(frozen=True)
class Bin:
    """Counts of one bin on both sides. Numeric bins are (lower, upper] (None: unbounded); categorical
    bins have a `label` (a category, `(other)` beyond the top K, `(null)` is never a bin)."""

    label: str
    reference: int
    current: int
    lower: float | None = None
    upper: float | None = None


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    kind: ColumnKind
    type: str  # Iceberg type text, e.g. `double`, `string`, `timestamptz`
    reference: Stats
    current: Stats
    psi: float | None = None
    ks: float | None = None  # two-sample KS statistic D
    ks_pvalue: float | None = None
    # The bins PSI was computed over: reference quantile bins (numeric) or categories (categorical).
    bins: tuple[Bin, ...] = ()
    # Equal-width bins over both sides' range, for pictures (numeric and temporal); may be empty.
    histogram: tuple[Bin, ...] = ()
    new_categories: tuple[str, ...] = ()  # examples, at most 20
    vanished_categories: tuple[str, ...] = ()
    new_category_count: int = 0
    vanished_category_count: int = 0
    # Temporal: how far the newest value of each side is behind the time of the comparison, seconds.
    reference_lag_seconds: float | None = None
    current_lag_seconds: float | None = None
    drifted: bool = False
    reasons: tuple[str, ...] = ()  # e.g. ("psi 0.41 > 0.2", "ks p 1e-9 < 0.05")


@dataclass(frozen=True)
class DriftResult:
    reference: Side
    current: Side
    thresholds: Thresholds
    columns: tuple[ColumnDrift, ...]
    schema_changes: tuple[SchemaChange, ...] = ()
    seconds: float = 0.0
    notes: tuple[str, ...] = field(default=())  # e.g. columns skipped and why

    @property
    def drifted_columns(self) -> list[str]:
        named = [c.column for c in self.columns if c.drifted]
        return named + [s.column for s in self.schema_changes if s.drifts and s.column not in named]

    @property
    def drifted(self) -> bool:
        return bool(self.drifted_columns)

    def message(self) -> str:
        """One line naming what drifted, for CI logs and errors."""
        named = self.drifted_columns
        if not named:
            return "no drift beyond the thresholds"
        return f"drift in {len(named)} column{'s' if len(named) != 1 else ''}: {', '.join(named)}"

    def to_dict(self) -> dict[str, Any]:
        return {"drifted": self.drifted, "drifted_columns": self.drifted_columns, **asdict(self)}
