"""Issue 2 figure: ingest vs DuckDB COPY writing the same partitioned Parquet.

Data: ctx.rows(5_000_000) events over 30 days x 8 countries, as Parquet sources; the lake table is
partitioned by `day(ts), country` on a local-file warehouse (DuckDB does the I/O in both cases).
Query speed is the `query` topic (bench_query.py): six shapes, two layouts, local and S3, against
read_parquet with and without Hive partition detection, and `lake` start-up from the shell.
"""

from __future__ import annotations

import shutil
import time

import duckdb

from benchmarks.common import BenchContext, Figure, best_of
from lakehouse.testing import local_properties, make_lake_env


def generate(ctx: BenchContext, rows: int) -> str:
    src = ctx.workdir / "source"
    src.mkdir()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        f"""COPY (SELECT i AS id, TIMESTAMPTZ '2026-06-01 00:00:00+00' + to_seconds((i * 7919) % (30 * 86400)) AS ts,
                   ['US','DE','FR','JP','BR','IN','GB','CA'][1 + (i % 8)] AS country,
                   round(((i * 31) % 100000) / 100.0 - 50, 2) AS amount, i % 100000 AS user_id,
                   'event-' || (i % 37) AS kind
            FROM range({rows}) r(i))
           TO '{src}' (FORMAT parquet, FILE_SIZE_BYTES '64MB', COMPRESSION zstd)"""
    )
    return str(src)


def run(ctx: BenchContext) -> list[Figure]:
    rows = ctx.rows(5_000_000)
    source = generate(ctx, rows)
    env = make_lake_env(ctx.workdir / "lake", local_properties(ctx.workdir / "lake"))
    lake = env.lake
    figures: list[Figure] = []

    # ---- ingest: lake ingest vs DuckDB COPY writing the same partitioned zstd Parquet
    lake.create("bench.events", "id long, ts timestamptz, country string, amount double, user_id long, kind string",
                partition_by="day(ts), country")  # fmt: skip
    start = time.perf_counter()
    result = lake.ingest("bench.events", source)
    ingest_s = time.perf_counter() - start
    assert result.rows == rows

    def duck_copy() -> None:
        out = ctx.workdir / "copy_out"
        shutil.rmtree(out, ignore_errors=True)
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        con.execute(
            f"COPY (SELECT *, strftime(ts, '%Y-%m-%d') AS ts_day FROM read_parquet('{source}/*.parquet')) TO '{out}' "
            "(FORMAT parquet, PARTITION_BY (ts_day, country), WRITE_PARTITION_COLUMNS true, COMPRESSION zstd)"
        )

    copy_s = best_of(duck_copy, 2)
    figures.append(Figure("foundation", f"ingest {rows:,} rows (Parquet source, day(ts), country)", ingest_s, copy_s,
                          target="<= 1.5x", command="make bench  # bench_foundation.run",
                          note=f"{result.files} files, {result.bytes / 1e6:.0f} MB written; baseline: DuckDB COPY ... PARTITION_BY"))  # fmt: skip

    return figures
