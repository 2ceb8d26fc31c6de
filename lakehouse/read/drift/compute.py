"""`lake drift`'s statistics, computed inside DuckDB over both sides as they stream by.

Bin edges need a look at the data before the counting pass, and a full pass for them would cost as
much as the counting itself, so they come from a sample (about SAMPLE_ROWS rows of each side, each row
drawn independently; all rows of a smaller side):

1. the sample: the reference's quantiles (the PSI bin edges, `bins` of them) and the pooled quantiles
   of both sides (the KS grid, KS_GRID cells), plus the range the pictures span;
2. one pass over both sides, grouped by side: rows, missing values, mean, std, min, max and DuckDB
   `histogram(x, edges)` over the PSI edges and the KS grid together (one histogram per column);
3. categorical columns: one GROUP BY per column (it reads that column only).

KS is exact up to EXACT_ROWS non-missing values (counts per distinct value, one GROUP BY); above, D
is taken on the pooled grid, which can miss at most about one cell's share (1/KS_GRID) of the values,
and only downwards (so the p-value errs towards "no drift"). PSI bins are the reference sample's
quantiles: with 50k values each bin's share is within about 0.4% of its intended tenth. NaN and
infinities count as missing, like NULL.
"""

from __future__ import annotations

import bisect
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
SAMPLE_ROWS = 50_000
KS_GRID = 100
PICTURE_BINS = 30
EXAMPLES = 20


def compute(
    engine: Engine, found: Sides, thresholds: Thresholds, *, bins: int = 10, top_k: int = 20
) -> tuple[tuple[ColumnDrift, ...], int, int]:
    """Every column's drift, and the row counts of the reference and current sides."""
    cols = found.columns
    select = ", ".join(_value(c, i) for i, c in enumerate(cols)) or "1 AS lake_none"
    ref = f"SELECT 0 AS lake_side, {select} FROM ({found.reference_sql})"
    cur = f"SELECT 1 AS lake_side, {select} FROM ({found.current_sql})"
    both = f"{ref} UNION ALL {cur}"
    # the sample reads only the columns that need edges (the sample operator stops column pruning)
    drawn = ", ".join(_value(c, i) for i, c in enumerate(cols) if c.kind != "categorical") or "1 AS lake_none"
    samples = [
        _sampled(f"SELECT {side} AS lake_side, {drawn} FROM ({sql})", rows)
        for side, sql, rows in ((0, found.reference_sql, found.reference_rows), (1, found.current_sql, found.current_rows))
    ]  # fmt: skip
    edges = _sample_edges(engine, samples[0], samples[1], cols, bins)
    counted = _main_pass(engine, both, cols, edges)
    n_ref, n_cur = (int(counted[s].get("rows") or 0) for s in (0, 1))
    now = datetime.now(UTC)
    out = []
    for i, c in enumerate(cols):
        ref_stats, cur_stats = (_stats(counted[s], i, n, c) for s, n in ((0, n_ref), (1, n_cur)))
        if c.kind == "numeric":
            drift = _numeric(engine, both, i, c, edges, counted, ref_stats, cur_stats)
        elif c.kind == "categorical":
            drift = _categorical(engine, both, i, c, top_k, ref_stats, cur_stats)
        else:
            drift = _temporal(i, c, edges, counted, ref_stats, cur_stats, now)
        out.append(_judge(drift, thresholds))
    return tuple(out), n_ref, n_cur


def _value(c: Column, i: int) -> str:
    q = quote_ident(c.name)
    if c.kind == "numeric":
        return f"CASE WHEN isfinite(CAST({q} AS DOUBLE)) THEN CAST({q} AS DOUBLE) END AS c{i}"
    if c.kind == "categorical":
        return f"CAST({q} AS VARCHAR) AS c{i}"
    return f"{q} AS c{i}, epoch({q}) AS e{i}"


def _sampled(side: str, rows: int | None) -> str:
    if rows is not None and rows <= SAMPLE_ROWS:
        return side
    percent = 100.0 if rows is None else min(100.0, 100.0 * SAMPLE_ROWS / rows)
    return f"SELECT * FROM ({side}) USING SAMPLE {percent:.6f}% (bernoulli)"


def _sample_edges(
    engine: Engine, ref: str, cur: str, cols: tuple[Column, ...], bins: int
) -> dict[str, list[float]]:
    """Per column: `psi{i}` (the reference's quantiles), `ks{i}` (pooled quantiles), `pic{i}` (range)."""
    wanted = [(i, c) for i, c in enumerate(cols) if c.kind != "categorical"]
    if not wanted:
        return {}
    deciles = [k / bins for k in range(1, bins)]
    grid = [k / KS_GRID for k in range(1, KS_GRID)]
    parts = []
    for i, c in wanted:
        v = f"c{i}" if c.kind == "numeric" else f"e{i}"
        if c.kind == "numeric":
            parts.append(f"approx_quantile({v}, {deciles}) FILTER (lake_side = 0) AS psi{i}")
        parts.append(f"approx_quantile({v}, {grid}) AS ks{i}")  # its ends span the pictures
    sample = f"{ref} UNION ALL {cur}"
    names = [p.rsplit(" AS ", 1)[1] for p in parts]
    row = dict(zip(names, engine.one(f"SELECT {', '.join(parts)} FROM ({sample})") or (), strict=True))
    plan: dict[str, list[float]] = {}
    for i, c in wanted:
        pooled = sorted({float(v) for v in row[f"ks{i}"] or []})
        if c.kind == "numeric":
            plan[f"psi{i}"] = sorted({float(v) for v in row[f"psi{i}"] or []})
            plan[f"ks{i}"] = sorted(set(pooled) | set(plan[f"psi{i}"]))
        if len(pooled) > 1 and pooled[-1] > pooled[0]:  # the central 98% of both sides
            step = (pooled[-1] - pooled[0]) / PICTURE_BINS
            plan[f"pic{i}"] = [pooled[0] + step * k for k in range(0, PICTURE_BINS + 1)]
    return plan


def _main_pass(
    engine: Engine, both: str, cols: tuple[Column, ...], edges: dict[str, list[float]]
) -> dict[int, dict[str, Any]]:
    parts = ["count(*) AS rows"]
    for i, c in enumerate(cols):
        parts.append(f"count(c{i}) AS n{i}")
        if c.kind == "numeric":
            parts += [
                f"avg(c{i}) AS mean{i}",
                f"stddev_samp(c{i}) AS std{i}",
                f"min(c{i}) AS min{i}",
                f"max(c{i}) AS max{i}",
            ]
            if edges.get(f"ks{i}"):
                parts.append(f"histogram(c{i}, {_list(edges[f'ks{i}'])}) AS h{i}")
        elif c.kind == "categorical":
            parts.append(f"approx_count_distinct(c{i}) AS d{i}")
        else:
            parts += [
                f"CAST(min(c{i}) AS VARCHAR) AS min{i}",
                f"CAST(max(c{i}) AS VARCHAR) AS max{i}",
                f"max(e{i}) AS emax{i}",
            ]
            if edges.get(f"pic{i}"):
                parts.append(f"histogram(CAST(e{i} AS DOUBLE), {_list(edges[f'pic{i}'])}) AS h{i}")
    names = ["lake_side", *(p.rsplit(" AS ", 1)[1] for p in parts)]
    rows = engine.rows(f"SELECT lake_side, {', '.join(parts)} FROM ({both}) GROUP BY lake_side")
    found = {int(r[0]): dict(zip(names, r, strict=True)) for r in rows}
    return {s: found.get(s, {}) for s in (0, 1)}


def _list(values: list[float]) -> str:
    return "[" + ", ".join(repr(v) for v in values) + "]::DOUBLE[]"


def _aligned(sent: list[float], *hists: Any) -> tuple[list[float], list[list[int]]]:
    """Counts per bin (-inf, e1], (e1, e2], ..., (ek, inf) from DuckDB's histogram maps, and the edges
    as DuckDB used them: its parser may read a decimal literal one ulp away from Python's double, so
    each boundary it returns is matched to the nearest edge sent, and reported as DuckDB counted."""
    keys = list(sent)
    out = []
    for hist in hists:
        counts = [0] * (len(sent) + 1)
        for key, count in (hist or {}).items():
            k = float(key)
            if math.isinf(k):
                counts[-1] += int(count)
                continue
            j = bisect.bisect_left(sent, k)
            if j == len(sent) or (j > 0 and k - sent[j - 1] < sent[j] - k):
                j -= 1
            counts[j] += int(count)
            keys[j] = k
        out.append(counts)
    return keys, out


def _merge(fine: list[float], counts: list[int], coarse: list[float]) -> list[int]:
    """Counts of the fine bins summed into the coarse ones (every coarse edge is a fine edge)."""
    out = [0] * (len(coarse) + 1)
    k = 0
    for edge, count in zip([*fine, math.inf], counts, strict=True):
        while k < len(coarse) and edge > coarse[k]:
            k += 1
        out[k] += count
    return out


def _bins(edges: list[float], ref: list[int], cur: list[int]) -> tuple[Bin, ...]:
    bounds: list[float | None] = [None, *edges, None]
    out = []
    for k, (r, c) in enumerate(zip(ref, cur, strict=True)):
        lower, upper = bounds[k], bounds[k + 1]
        label = (
            f"({'-inf' if lower is None else f'{lower:.6g}'}, {'inf' if upper is None else f'{upper:.6g}'}]"
        )
        out.append(Bin(label, r, c, lower, upper))
    return tuple(out)


def _picture(fine: list[float], ref: list[int], cur: list[int], span: list[float] | None) -> tuple[Bin, ...]:
    """Equal-width bins over the sample's central 98% for pictures: each fine bin's count goes to the
    picture bin holding its upper edge (values beyond the span land in the outermost bins)."""
    if not span:
        return ()
    inner = span[1:-1]
    r, c = _merge(fine, ref, inner), _merge(fine, cur, inner)
    return tuple(
        Bin(f"({lo:.6g}, {hi:.6g}]", a, b, lo, hi)
        for lo, hi, a, b in zip(span[:-1], span[1:], r, c, strict=True)
    )


def _stats(row: dict[str, Any], i: int, rows: int, c: Column) -> Stats:
    n = int(row.get(f"n{i}") or 0)
    nulls = rows - n
    numeric = c.kind == "numeric"
    return Stats(
        rows=rows, nulls=nulls, null_rate=nulls / rows if rows else 0.0, distinct=row.get(f"d{i}"),
        mean=_float(row.get(f"mean{i}")), std=_float(row.get(f"std{i}")),
        min=_float(row.get(f"min{i}")) if numeric else row.get(f"min{i}"),
        max=_float(row.get(f"max{i}")) if numeric else row.get(f"max{i}"),
    )  # fmt: skip


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _numeric(
    engine: Engine, both: str, i: int, c: Column, edges: dict[str, list[float]], counted: dict[int, dict[str, Any]],
    ref: Stats, cur: Stats,
) -> ColumnDrift:  # fmt: skip
    sent = edges.get(f"ks{i}", [])
    fine, (fr, fc) = _aligned(sent, *(counted[s].get(f"h{i}") for s in (0, 1)))
    coarse = [fine[bisect.bisect_left(sent, e)] for e in edges.get(f"psi{i}", [])]  # psi edges are in sent
    r, k = _merge(fine, fr, coarse), _merge(fine, fc, coarse)
    n, m = ref.rows - ref.nulls, cur.rows - cur.nulls
    if n + m <= EXACT_ROWS:  # exact: the counts of every distinct value, in order
        rows = engine.rows(
            f"SELECT count(*) FILTER (lake_side = 0), count(*) FILTER (lake_side = 1) FROM ({both}) "
            f"WHERE c{i} IS NOT NULL GROUP BY c{i} ORDER BY c{i}"
        )
        d = stats.ks_statistic([int(a) for a, _ in rows], [int(b) for _, b in rows])
    else:
        d = stats.ks_statistic(fr, fc)
    return ColumnDrift(
        c.name, "numeric", c.type, ref, cur, psi=stats.psi(r, k), ks=d,
        ks_pvalue=None if d is None else stats.ks_pvalue(d, n, m), bins=_bins(coarse, r, k),
        histogram=_picture(fine, fr, fc, edges.get(f"pic{i}")),
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
    i: int, c: Column, edges: dict[str, list[float]], counted: dict[int, dict[str, Any]], ref: Stats,
    cur: Stats, now: datetime,
) -> ColumnDrift:  # fmt: skip
    def lag(s: int) -> float | None:
        newest = counted[s].get(f"emax{i}")
        return None if newest is None else now.timestamp() - float(newest)

    picture: tuple[Bin, ...] = ()
    if edges.get(f"pic{i}"):
        span, (r, k) = _aligned(edges[f"pic{i}"], *(counted[s].get(f"h{i}") for s in (0, 1)))
        # the values below the span's first edge and above its last join the outermost bins
        r = [r[0] + r[1], *r[2:-2], r[-2] + r[-1]]
        k = [k[0] + k[1], *k[2:-2], k[-2] + k[-1]]
        picture = tuple(
            Bin(f"({lo:.0f}, {hi:.0f}]", a, b, lo, hi)
            for lo, hi, a, b in zip(span[:-1], span[1:], r, k, strict=True)
        )
    return ColumnDrift(
        c.name, "temporal", c.type, ref, cur, histogram=picture,
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
