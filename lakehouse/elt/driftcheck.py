"""The `drift` check: a model's staged output against a reference snapshot of the same table, so
write-audit-publish can stop a table whose distribution jumped.

    {'drift': {'column': 'amount', 'against': 'tag:train-2026-01', 'psi_max': 0.2}, 'severity': 'warn'}
    {'drift': {'column': 'amount', 'against': '@training.lock', 'ks_pvalue_min': 0.05}}

Like every check it is one SQL query returning the offending row (the column, its PSI and KS p-value)
when the column drifted. The statistics are those of `lake drift` (lakehouse/read/drift/stats.py):
PSI over the reference's deciles (approximate quantiles) or its top 20 categories plus "(other)", empty
bins at 1e-4; KS exact, p-value from the asymptotic Kolmogorov distribution. NaN and infinities count as
missing. `against` is anything `--as-of` takes; `tag:NAME` names a tag.
"""

from __future__ import annotations

from typing import Any

from lakehouse.core.schemas import quote_ident, quote_literal
from lakehouse.read.drift.stats import EPSILON

DECILES = [k / 10 for k in range(1, 10)]
TOP_K = 20
_NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "U")


def is_numeric(duckdb_type: str) -> bool:
    return duckdb_type.upper().startswith(_NUMERIC_TYPES)


def reference(against: Any) -> str:
    text = str(against).strip()
    return text[4:] if text.lower().startswith("tag:") else text


def drift_sql(table: str, p: dict[str, Any]) -> str:
    """The offending row when the column drifted; `p['numeric']` is set by the runner from the type."""
    col = quote_ident(p["column"])
    ref = quote_literal(reference(p["against"]))
    numeric = bool(p.get("numeric"))
    value = (
        f"CASE WHEN isfinite(CAST({col} AS DOUBLE)) THEN CAST({col} AS DOUBLE) END"
        if numeric
        else f"CAST({col} AS VARCHAR)"
    )
    both = (
        f"SELECT 0 AS side, {value} AS v FROM {table} FOR VERSION AS OF {ref} "
        f"UNION ALL SELECT 1 AS side, {value} AS v FROM {table}"
    )
    if numeric:
        bins = f"""lake_edges AS (SELECT list_sort(list_distinct(approx_quantile(v, {DECILES}))) AS e
                FROM lake_both WHERE side = 0),
            lake_bins AS (SELECT side, len(list_filter((SELECT e FROM lake_edges), lambda x: x < v)) AS bin
                FROM lake_both WHERE v IS NOT NULL),
            lake_counts AS (SELECT bin, count(*) FILTER (side = 0) AS r, count(*) FILTER (side = 1) AS c
                FROM lake_bins GROUP BY bin),"""
    else:
        bins = f"""lake_values AS (SELECT v, count(*) FILTER (side = 0) AS r, count(*) FILTER (side = 1) AS c
                FROM lake_both WHERE v IS NOT NULL GROUP BY v),
            lake_top AS (SELECT v FROM lake_values WHERE r > 0 ORDER BY r DESC, v LIMIT {TOP_K}),
            lake_counts AS (SELECT CASE WHEN v IN (SELECT v FROM lake_top) THEN v END AS bin,
                sum(r) AS r, sum(c) AS c FROM lake_values GROUP BY 1),"""
    ks = "NULL"
    if numeric:
        ks = "(SELECT p FROM lake_ks)"
        bins += """
            lake_cdf AS (SELECT v, sum(count(*) FILTER (side = 0)) OVER w AS cr, sum(count(*) FILTER (side = 1)) OVER w AS cc
                FROM lake_both WHERE v IS NOT NULL GROUP BY v WINDOW w AS (ORDER BY v ROWS UNBOUNDED PRECEDING)),
            lake_d AS (SELECT max(abs(cr / n - cc / m)) AS d, any_value(n) AS n, any_value(m) AS m FROM lake_cdf,
                (SELECT max(cr) AS n, max(cc) AS m FROM lake_cdf) WHERE n > 0 AND m > 0),
            lake_lam AS (SELECT sqrt(n * m / (n + m)) * d AS lam FROM lake_d),
            lake_ks AS (SELECT CASE WHEN lam < 0.2 THEN 1.0 ELSE least(1.0, greatest(0.0, 2 * (
                SELECT sum(CASE WHEN k % 2 = 1 THEN 1 ELSE -1 END * exp(-2 * k * k * lam * lam))
                FROM range(1, 101) AS lake_k(k)))) END AS p FROM lake_lam),"""
    limits = []
    if p.get("psi_max") is not None:
        limits.append(f"psi > {float(p['psi_max'])!r}")
    if numeric and p.get("ks_pvalue_min") is not None:
        limits.append(f"ks_pvalue < {float(p['ks_pvalue_min'])!r}")
    return f"""WITH lake_both AS ({both}),
            {bins}
            lake_psi AS (SELECT sum((pc - pr) * ln(pc / pr)) AS psi FROM (
                SELECT greatest(r / sum(r) OVER (), {EPSILON}) AS pr, greatest(c / sum(c) OVER (), {EPSILON}) AS pc
                FROM lake_counts) WHERE (SELECT sum(r) FROM lake_counts) > 0 AND (SELECT sum(c) FROM lake_counts) > 0)
        SELECT {quote_literal(p["column"])} AS "column", {ref} AS against, psi, ks_pvalue FROM (
            SELECT (SELECT psi FROM lake_psi) AS psi, {ks} AS ks_pvalue)
        WHERE {" OR ".join(limits) or "false"}"""
