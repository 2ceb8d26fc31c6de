"""Issue 16 figures: where Spark overtakes DuckDB (the crossover), on this machine.

The example project's silver and gold models (the ASOF model stays on DuckDB and is left out) are built
from scratch by `lake run --engine spark` (local Spark, `make spark`) and by `lake run` on DuckDB, from
the same bronze tables, at growing sizes; both times include everything the user waits for (Spark's
session start, the audit checks, the commits). Then a compaction of many small files by each engine.
From the two lines (fixed cost + cost per million events) the crossover size is estimated; on one
2-core machine Spark's per-row cost is not lower, so there is none: Spark pays off when the work is
spread over a cluster's cores, which this benchmark cannot show.
"""

from __future__ import annotations

import time

from benchmarks.common import ROOT, BenchContext, Figure

TOPIC = "spark"
COMMAND = "LAKE_BENCH_ONLY=spark make bench"
MODELS = ["silver.events", "silver.labels", "gold.user_features"]
SIZES = (100_000, 500_000, 2_000_000)


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn()
    if hasattr(result, "ok") and not result.ok:
        raise RuntimeError(result.failure_message())
    return time.perf_counter() - start


def _fit(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least squares `seconds = fixed + per_million * millions`."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    slope = sum((x - mx) * (y - my) for x, y in points) / max(sum((x - mx) ** 2 for x, _ in points), 1e-12)
    return my - slope * mx, slope


def run(ctx: BenchContext) -> list[Figure]:
    from lakehouse.dev import datagen
    from lakehouse.testing import local_properties, make_lake_env

    project = ROOT / "sql"
    figures: list[Figure] = []
    spark_points: list[tuple[float, float]] = []
    duck_points: list[tuple[float, float]] = []
    for size in sorted({ctx.rows(s) for s in SIZES}):
        env = make_lake_env(ctx.workdir / f"lake-{size}", local_properties(ctx.workdir / f"lake-{size}"))
        lake = env.lake
        feed = datagen.events(size, days=60, seed=1)
        labels = datagen.labels(feed, max(1000, size // 50))
        src = ctx.workdir / f"src-{size}"
        lake.ingest("bronze.events", str(datagen.write_parquet(feed, src / "events.parquet")), create=True)
        lake.ingest("bronze.labels", str(datagen.write_parquet(labels, src / "labels.parquet")), create=True)
        del feed
        duck_s = _timed(lambda: lake.run(project, MODELS, full_refresh=True, threads=1))  # noqa: B023
        spark_s = _timed(lambda: lake.run(project, MODELS, full_refresh=True, threads=1, engine="spark"))  # noqa: B023
        millions = size / 1e6
        duck_points.append((millions, duck_s))
        spark_points.append((millions, spark_s))
        figures.append(
            Figure(
                TOPIC,
                f"lake run --engine spark, silver + gold from {size:,} events",
                spark_s,
                duck_s,
                "s",
                "the crossover",
                COMMAND,
                "baseline: lake run on DuckDB, same models and inputs",
            )  # fmt: skip
        )
    fixed_s, per_s = _fit(spark_points)
    fixed_d, per_d = _fit(duck_points)
    crossover = (fixed_s - fixed_d) / (per_d - per_s) if per_d > per_s else None
    figures.append(
        Figure(
            TOPIC,
            "Spark's fixed cost per run (fit: session start, planning, commits)",
            fixed_s,
            fixed_d,
            "s",
            "",
            COMMAND,
            f"per million events: Spark {per_s:.2f} s, DuckDB {per_d:.2f} s; crossover: "
            + (
                f"about {crossover:.1f}M events"
                if crossover
                else "none on this machine (Spark's per-row cost is higher on 2 local cores)"
            ),
        )  # fmt: skip
    )
    figures.append(_compaction(ctx))
    return figures


def _compaction(ctx: BenchContext) -> Figure:
    from lakehouse.dev import datagen
    from lakehouse.testing import local_properties, make_lake_env

    files = 100
    per_file = ctx.rows(20_000)
    times = {}
    for engine in ("duckdb", "spark"):
        root = ctx.workdir / f"compact-{engine}"
        lake = make_lake_env(root, local_properties(root)).lake
        for i in range(files):
            rows = datagen.events(per_file, days=1, seed=i, start_id=i * per_file)
            lake.ingest(
                "bronze.events", str(datagen.write_parquet(rows, root / f"e{i}.parquet")), create=i == 0
            )
        times[engine] = _timed(lambda: lake.compact("bronze.events", engine=engine))  # noqa: B023
    return Figure(
        TOPIC, f"compact {files} files x {per_file:,} rows --engine spark", times["spark"], times["duckdb"], "s",
        "", COMMAND, "baseline: lake compact on DuckDB; Spark's time includes its session start",
    )  # fmt: skip
