"""The statistics `lake drift` reports, from counts DuckDB computed: PSI over bins and the two-sample
Kolmogorov-Smirnov test.

- PSI = sum over bins of (c - r) * ln(c / r), with r and c the reference's and the current side's share
  of their non-missing values in the bin. A bin empty on one side gets the share EPSILON instead of 0
  (ln 0 is undefined), as the credit-scoring literature does. Common reading: < 0.1 no shift, 0.1-0.2
  moderate, > 0.2 significant.
- KS: D = max |F_ref(x) - F_cur(x)| over the two empirical CDFs. The p-value is the asymptotic
  Kolmogorov distribution at sqrt(n*m/(n+m)) * D (what scipy.stats.ks_2samp(method='asymp') returns).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

EPSILON = 1e-4


def psi(reference: Sequence[int], current: Sequence[int], epsilon: float = EPSILON) -> float | None:
    """PSI of two count vectors over the same bins; None when a side has no value at all."""
    total_r, total_c = sum(reference), sum(current)
    if not total_r or not total_c:
        return None
    out = 0.0
    for r, c in zip(reference, current, strict=True):
        pr = max(r / total_r, epsilon)
        pc = max(c / total_c, epsilon)
        out += (pc - pr) * math.log(pc / pr)
    return out


def ks_statistic(reference: Sequence[int], current: Sequence[int]) -> float | None:
    """D from counts per ordered bin (or per distinct value, which makes it exact)."""
    total_r, total_c = sum(reference), sum(current)
    if not total_r or not total_c:
        return None
    d = cum_r = cum_c = 0.0
    for r, c in zip(reference, current, strict=True):
        cum_r += r
        cum_c += c
        d = max(d, abs(cum_r / total_r - cum_c / total_c))
    return d


def ks_pvalue(d: float, n: int, m: int) -> float:
    """P(D >= d) under the null, asymptotically: Q(lambda) = 2 sum_k (-1)^(k-1) exp(-2 k^2 lambda^2)."""
    if n <= 0 or m <= 0:
        return 1.0
    lam = math.sqrt(n * m / (n + m)) * d
    if lam < 0.2:  # the series converges slowly here and the sum is 1 to double precision
        return 1.0
    total = 0.0
    for k in range(1, 200):
        term = 2 * (-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam)
        total += term
        if abs(term) < 1e-16:
            break
    return min(1.0, max(0.0, total))
