"""`lake drift`'s statistics, computed inside DuckDB over both sides as they stream by.

Two scans of the numeric and temporal columns and one per categorical column (which reads that column
only), whatever the table's size:

1. counts, nulls, mean, std, min and max per side, the reference's quantiles (the PSI bin edges) and
   the pooled quantiles (the KS grid), approximate (t-digest) so that no column is sorted;
2. DuckDB `histogram(x, edges)` per side: the PSI bins, the KS grid and equal-width bins for pictures.

KS is exact below EXACT_ROWS non-missing values (counts per distinct value, from one GROUP BY);
above, D is taken on the pooled quantile grid, which can miss at most the share of one grid cell
(about 1/KS_GRID of the values) either way. NaN and infinities are treated as missing, like NULL.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from lakehouse.core.schemas import quote_ident
from lakehouse.io.engine import Engine
from lakehouse.read.drift import stats
from lakehouse.read.drift.result import Bin, ColumnDrift, Stats, Thresholds
from lakehouse.read.drift.sides import Column, Sides

EXACT_ROWS = 1_000_000
KS_GRID = 1000
PICTURE_BINS = 30
EXAMPLES = 20


def compute(
    engine: Engine, found: Sides, thresholds: Thresholds, *, bins: int = 10, top_k: int = 20
) -> tuple[tuple[ColumnDrift, ...], int, int]:
    """Every column's drift, and the row counts of the reference and current sides."""
    cols = found.columns
    select = ", ".join(_value(c, i) for i, c in enumerate(cols)) or "1 AS lake_none"
    both = (
        f"SELECT 0 AS lake_side, {select} FROM ({found.reference_sql}) "
        f"UNION ALL SELECT 1 AS lake_side, {select} FROM ({found.current_sql})"
    )
    first = _first_pass(engine, both, cols, bins)
    n_ref, n_cur = int(first["rows0"] or 0), int(first["rows1"] or 0)
    plan = _edges(first, cols, n_ref, n_cur)
    second = _second_pass(engine, both, cols, plan)
    now = datetime.now(UTC)
    out = []
    for i, c in enumerate(cols):
        ref_stats, cur_stats = (_stats(first, i, s, n, c) for s, n in ((0, n_ref), (1, n_cur)))
        if c.kind == "numeric":
            drift = _numeric(engine, both, i, c, plan, second, ref_stats, cur_stats)
        elif c.kind == "categorical":
            drift = _categorical(engine, both, i, c, top_k, ref_stats, cur_stats)
        else:
            drift = _temporal(i, c, plan, second, ref_stats, cur_stats, first, now)
        out.append(_judge(drift, thresholds))
    return tuple(out), n_ref, n_cur


def _value(c: Column, i: int) -> str:
    q = quote_ident(c.name)
    if c.kind == "numeric":
        return f"CASE WHEN isfinite(CAST({q} AS DOUBLE)) THEN CAST({q} AS DOUBLE) END AS c{i}"
    if c.kind == "categorical":
        return f"CAST({q} AS VARCHAR) AS c{i}"
    return f"{q} AS c{i}, epoch({q}) AS e{i}"


def _first_pass(engine: Engine, both: str, cols: tuple[Column, ...], bins: int) -> dict[str, Any]:
    parts = ["count(*) FILTER (lake_side = 0) AS rows0", "count(*) FILTER (lake_side = 1) AS rows1"]
    deciles = [k / bins for k in range(1, bins)]
    grid = [k / KS_GRID for k in range(1, KS_GRID)]
    for i, c in enumerate(cols):
        for s in (0, 1):
            f = f"FILTER (lake_side = {s})"
            parts += [f"count(c{i}) {f} AS n{i}_{s}", f"approx_count_distinct(c{i}) {f} AS d{i}_{s}"]
            if c.kind == "numeric":
                parts += [f"avg(c{i}) {f} AS mean{i}_{s}", f"stddev_samp(c{i}) {f} AS std{i}_{s}"]
                parts += [f"min(c{i}) {f} AS min{i}_{s}", f"max(c{i}) {f} AS max{i}_{s}"]
            if c.kind == "temporal":
                parts += [
                    f"CAST(min(c{i}) {f} AS VARCHAR) AS min{i}_{s}",
                    f"CAST(max(c{i}) {f} AS VARCHAR) AS max{i}_{s}",
                ]
                parts += [f"max(e{i}) {f} AS emax{i}_{s}"]
        if c.kind == "numeric":
            parts += [f"approx_quantile(c{i}, {deciles}) FILTER (lake_side = 0) AS q{i}"]
            parts += [f"approx_quantile(c{i}, {grid}) AS g{i}", f"min(c{i}) AS lo{i}", f"max(c{i}) AS hi{i}"]
        if c.kind == "temporal":
            parts += [f"min(e{i}) AS lo{i}", f"max(e{i}) AS hi{i}"]
    names = [p.rsplit(" AS ", 1)[1] for p in parts]
    row = engine.one(f"SELECT {', '.join(parts)} FROM ({both})") or ()
    return dict(zip(names, row, strict=True))


def _edges(first: dict[str, Any], cols: tuple[Column, ...], n_ref: int, n_cur: int) -> dict[str, list[float]]:
    """Per column: `psi{i}` (reference quantiles), `ks{i}` (pooled grid, when KS is binned), `pic{i}`."""
    plan: dict[str, list[float]] = {}
    for i, c in enumerate(cols):
        lo, hi = first.get(f"lo{i}"), first.get(f"hi{i}")
        if c.kind == "numeric":
            plan[f"psi{i}"] = sorted({float(v) for v in first[f"q{i}"] or []})
            values = (first[f"n{i}_0"] or 0) + (first[f"n{i}_1"] or 0)
            if values > EXACT_ROWS:
                plan[f"ks{i}"] = sorted({float(v) for v in first[f"g{i}"] or []})
        if lo is not None and hi is not None and hi > lo:
            step = (float(hi) - float(lo)) / PICTURE_BINS
            plan[f"pic{i}"] = [float(lo) + step * k for k in range(1, PICTURE_BINS)]
    return plan


def _second_pass(
    engine: Engine, both: str, cols: tuple[Column, ...], plan: dict[str, list[float]]
) -> dict[str, Any]:
    parts = []
    for i, c in enumerate(cols):
        source = f"e{i}" if c.kind == "temporal" else f"c{i}"
        for key in (f"psi{i}", f"ks{i}", f"pic{i}"):
            edges = plan.get(key)
            if edges:
                listed = "[" + ", ".join(repr(e) for e in edges) + "]::DOUBLE[]"
                parts += [
                    f"histogram(CAST({source} AS DOUBLE), {listed}) FILTER (lake_side = {s}) AS {key}_{s}"
                    for s in (0, 1)
                ]
    if not parts:
        return {}
    names = [p.rsplit(" AS ", 1)[1] for p in parts]
    row = engine.one(f"SELECT {', '.join(parts)} FROM ({both})") or ()
    return dict(zip(names, row, strict=True))


def _counts(hist: Any, edges: list[float]) -> list[int]:
    """Counts per bin (-inf, e1], (e1, e2], ..., (ek, inf) from DuckDB's histogram map."""
    got = {float(k): int(v) for k, v in (hist or {}).items()}
    return [got.get(e, 0) for e in edges] + [got.get(math.inf, 0)]


def _bins(edges: list[float], ref: list[int], cur: list[int]) -> tuple[Bin, ...]:
    bounds = [None, *edges, None]
    out = []
    for k, (r, c) in enumerate(zip(ref, cur, strict=True)):
        lower, upper = bounds[k], bounds[k + 1]
        label = (
            f"({'-inf' if lower is None else f'{lower:.6g}'}, {'inf' if upper is None else f'{upper:.6g}'}]"
        )
        out.append(Bin(label, r, c, lower, upper))
    return tuple(out)


def _stats(first: dict[str, Any], i: int, s: int, rows: int, c: Column) -> Stats:
    n = int(first.get(f"n{i}_{s}") or 0)
    nulls = rows - n
    return Stats(
        rows=rows, nulls=nulls, null_rate=nulls / rows if rows else 0.0,
        distinct=first.get(f"d{i}_{s}"), mean=_float(first.get(f"mean{i}_{s}")),
        std=_float(first.get(f"std{i}_{s}")),
        min=first.get(f"min{i}_{s}") if c.kind != "numeric" else _float(first.get(f"min{i}_{s}")),
        max=first.get(f"max{i}_{s}") if c.kind != "numeric" else _float(first.get(f"max{i}_{s}")),
    )  # fmt: skip


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _picture(i: int, plan: dict[str, list[float]], second: dict[str, Any]) -> tuple[Bin, ...]:
    edges = plan.get(f"pic{i}")
    if not edges:
        return ()
    return _bins(edges, _counts(second.get(f"pic{i}_0"), edges), _counts(second.get(f"pic{i}_1"), edges))


def _numeric(
    engine: Engine, both: str, i: int, c: Column, plan: dict[str, list[float]], second: dict[str, Any],
    ref: Stats, cur: Stats,
) -> ColumnDrift:  # fmt: skip
    edges = plan[f"psi{i}"]
    r, k = _counts(second.get(f"psi{i}_0"), edges), _counts(second.get(f"psi{i}_1"), edges)
    if f"ks{i}" in plan:
        grid = plan[f"ks{i}"]
        d = stats.ks_statistic(_counts(second.get(f"ks{i}_0"), grid), _counts(second.get(f"ks{i}_1"), grid))
    else:  # exact: the counts of every distinct value, in order
        rows = engine.rows(
            f"SELECT count(*) FILTER (lake_side = 0), count(*) FILTER (lake_side = 1) FROM ({both}) "
            f"WHERE c{i} IS NOT NULL GROUP BY c{i} ORDER BY c{i}"
        )
        d = stats.ks_statistic([int(a) for a, _ in rows], [int(b) for _, b in rows])
    n, m = ref.rows - ref.nulls, cur.rows - cur.nulls
    return ColumnDrift(
        c.name, "numeric", c.type, ref, cur, psi=stats.psi(r, k), ks=d,
        ks_pvalue=None if d is None else stats.ks_pvalue(d, n, m), bins=_bins(edges, r, k),
        histogram=_picture(i, plan, second),
    )  # fmt: skip


def _categorical(
    engine: Engine, both: str, i: int, c: Column, top_k: int, ref: Stats, cur: Stats
) -> ColumnDrift:
    rows = engine.rows(
        f"""WITH g AS MATERIALIZED (
            SELECT c{i} AS v, count(*) FILTER (lake_side = 0) AS r, count(*) FILTER (lake_side = 1) AS c
            FROM ({both}) WHERE c{i} IS NOT NULL GROUP BY c{i}),
        top AS (SELECT v FROM g WHERE r > 0 ORDER BY r DESC, v LIMIT {int(top_k)})
        SELECT 'top', v, r, c FROM g WHERE v IN (SELECT v FROM top)
        UNION ALL SELECT 'other', NULL, coalesce(sum(r), 0), coalesce(sum(c), 0) FROM g WHERE v NOT IN (SELECT v FROM top)
        UNION ALL SELECT 'counts', NULL, count(*) FILTER (WHERE r = 0), count(*) FILTER (WHERE c = 0) FROM g
        UNION ALL (SELECT 'new', v, r, c FROM g WHERE r = 0 ORDER BY c DESC, v LIMIT {EXAMPLES})
        UNION ALL (SELECT 'vanished', v, r, c FROM g WHERE c = 0 ORDER BY r DESC, v LIMIT {EXAMPLES})"""
    )
    top = sorted(((str(v), int(r), int(k)) for t, v, r, k in rows if t == "top"), key=lambda x: (-x[1], x[0]))
    other = next(((int(r), int(k)) for t, _, r, k in rows if t == "other"), (0, 0))
    new_count, vanished_count = next(((int(r), int(k)) for t, _, r, k in rows if t == "counts"), (0, 0))
    bins = [Bin(v, r, k) for v, r, k in top]
    if other != (0, 0):
        bins.append(Bin("(other)", *other))
    return ColumnDrift(
        c.name, "categorical", c.type, ref, cur,
        psi=stats.psi([b.reference for b in bins], [b.current for b in bins]), bins=tuple(bins),
        new_categories=tuple(str(v) for t, v, _, _ in rows if t == "new"),
        vanished_categories=tuple(str(v) for t, v, _, _ in rows if t == "vanished"),
        new_category_count=new_count, vanished_category_count=vanished_count,
    )  # fmt: skip


def _temporal(
    i: int, c: Column, plan: dict[str, list[float]], second: dict[str, Any], ref: Stats, cur: Stats,
    first: dict[str, Any], now: datetime,
) -> ColumnDrift:  # fmt: skip
    def lag(s: int) -> float | None:
        newest = first.get(f"emax{i}_{s}")
        return None if newest is None else now.timestamp() - float(newest)

    return ColumnDrift(
        c.name, "temporal", c.type, ref, cur, histogram=_picture(i, plan, second),
        reference_lag_seconds=lag(0), current_lag_seconds=lag(1),
    )  # fmt: skip


def _judge(col: ColumnDrift, t: Thresholds) -> ColumnDrift:
    reasons = []
    if t.psi is not None and col.psi is not None and col.psi > t.psi:
        reasons.append(f"psi {col.psi:.3g} > {t.psi:g}")
    if t.ks is not None and col.ks_pvalue is not None and col.ks_pvalue < t.ks:
        reasons.append(f"ks p {col.ks_pvalue:.3g} < {t.ks:g}")
    if not reasons:
        return col
    return replace(col, drifted=True, reasons=tuple(reasons))
