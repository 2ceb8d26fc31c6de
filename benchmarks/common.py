"""Shared benchmark plumbing: a figure type, timing, peak memory, and lakes to measure on.

Each `benchmarks/bench_<topic>.py` exposes `run(ctx: BenchContext) -> list[Figure]`. Figures are
ratios against a baseline measured in the same run, because these machines are noisy.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Figure:
    topic: str
    name: str
    value: float
    baseline: float | None = None
    unit: str = "s"
    target: str = ""
    command: str = ""
    note: str = ""
    # A second baseline measured in the same run (e.g. read_parquet without Hive detection), shown in
    # its own column so a figure carries both comparisons; `alt_label` names it in the header.
    alt: float | None = None
    alt_label: str = ""

    @property
    def ratio(self) -> float | None:
        return None if not self.baseline else self.value / self.baseline

    @property
    def alt_ratio(self) -> float | None:
        return None if not self.alt else self.value / self.alt


@dataclass
class BenchContext:
    workdir: Path
    scale: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)

    def rows(self, n: int) -> int:
        """Scale a row count by LAKE_BENCH_SCALE (1.0 = the sizes the issues name)."""
        return max(1000, int(n * self.scale))


def best_of(fn: Callable[[], Any], repeat: int = 3) -> float:
    """Minimum wall time over `repeat` runs: the least noisy estimate on a shared machine."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def best_of_each(fns: dict[str, Callable[[], Any]], repeat: int = 5, warmup: int = 1) -> dict[str, float]:
    """`best_of` for several variants measured round-robin after `warmup` untimed calls each, so a
    burst of load on a shared machine hits every variant alike instead of whichever ran then."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    best = {name: float("inf") for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            best[name] = min(best[name], best_of(fn, 1))
    return best


def run_timed(args: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Run a command in a child process; return (seconds, peak RSS in bytes of that child)."""
    start = time.perf_counter()
    proc = subprocess.run(args, env={**os.environ, **(env or {})}, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {proc.stderr[-2000:]}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return seconds, usage.ru_maxrss * 1024


_HWM_MARKER = "LAKE-BENCH-VMHWM-KB"
_HWM_TRAILER = f"""
with open("/proc/self/status") as _status:
    print("{_HWM_MARKER}", next(l.split()[1] for l in _status if l.startswith("VmHWM:")))
"""


def peak_rss_of(code: str, env: dict[str, str] | None = None) -> tuple[float, int]:
    """Run Python `code` in a fresh interpreter; (seconds, its own peak RSS in bytes).

    The peak is the child's VmHWM read at its end. Not ru_maxrss: Linux carries that across
    fork+exec, so it would include the (large) benchmark parent's memory at fork time.
    """
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code + _HWM_TRAILER],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed: {proc.stderr[-2000:]}")
    kb = next(int(line.split()[1]) for line in proc.stdout.splitlines() if line.startswith(_HWM_MARKER))
    return seconds, kb * 1024
