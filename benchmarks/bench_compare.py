"""Issue 15 figures: `lake diff` after a small append reads only the appended files, and `lake drift`
over 10M rows x 10 columns costs about one scan of both sides.

The table (10M rows, 10 columns: ids, a timestamp, five numeric features, two categories and a label)
is ingested, then 10k rows of a shifted day are appended; drift compares it with a second 10M-row
table whose features shifted (training data against serving logs, `--against`). Baselines are measured in the same run with
standalone DuckDB over the same Parquet files: for diff, a scan of the whole table's columns; for drift,
`lake query` selecting the same columns of both snapshots into Arrow (what a tool that compares two
dataframes reads first), and, as a floor, DuckDB's min and max of every column over both snapshots'
files (which reads every value and keeps nothing).
Local-file warehouse: the figures measure lake, not the object store.
"""

from __future__ import annotations

import duckdb

from benchmarks.common import BenchContext, Figure, best_of
from lakehouse.testing import local_properties, make_lake_env

TABLE = "bench.features"
SERVING = "bench.serving"
COMMAND = "LAKE_BENCH_ONLY=compare make bench"
COLUMNS = ["id", "user_id", "ts", "amount", "score", "age", "clicks", "country", "device", "label"]
ROWS_SQL = """SELECT i + {start} AS id, (i * 7919) % 200000 AS user_id,
       TIMESTAMPTZ '2026-06-01 00:00:00+00' + to_seconds(CAST((i * 104729) % (30 * 86400) AS BIGINT)) AS ts,
       round(exp(3 + sqrt(-2 * ln(greatest(random(), 1e-12))) * cos(2 * pi() * random())) * {scale}, 2) AS amount,
       random() + {shift} AS score, CAST(18 + (i * 31) % 60 AS INTEGER) AS age,
       CAST(floor(-ln(greatest(random(), 1e-12)) * {clicks}) AS INTEGER) AS clicks,
       (['US', 'DE', 'FR', 'JP', 'BR', 'IN', 'GB'])[1 + CAST(floor(random() * {countries}) AS INTEGER)] AS country,
       (['ios', 'android', 'web'])[1 + (i % 3)] AS device, CAST(random() < {positive} AS INTEGER) AS label
FROM range({rows}) r(i)"""


def _local(path: str) -> str:
    return path.removeprefix("file://")


def _scan_sql(files: list[str]) -> str:
    listed = ", ".join(f"'{_local(f)}'" for f in files)
    aggregates = ", ".join(f"CAST(min({c}) AS VARCHAR), CAST(max({c}) AS VARCHAR)" for c in COLUMNS)
    return f"SELECT {aggregates} FROM read_parquet([{listed}])"


def run(ctx: BenchContext) -> list[Figure]:
    rows = ctx.rows(10_000_000)
    extra = max(1000, rows // 1000)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    base, day, serving = (
        ctx.workdir / "base.parquet",
        ctx.workdir / "day.parquet",
        ctx.workdir / "serving.parquet",
    )
    normal = dict(start=0, scale=1.0, shift=0.0, clicks=3, countries=7, positive=0.1, rows=rows)
    shifted = dict(start=rows, scale=4.0, shift=0.5, clicks=6, countries=3, positive=0.3, rows=extra)
    later = dict(start=0, scale=1.5, shift=0.2, clicks=4, countries=5, positive=0.1, rows=rows)
    for path, params in ((base, normal), (day, shifted), (serving, later)):
        con.execute(f"COPY ({ROWS_SQL.format(**params)}) TO '{path}' (FORMAT parquet, COMPRESSION zstd)")
    env = make_lake_env(ctx.workdir / "lake", local_properties(ctx.workdir / "lake"))
    lake = env.lake
    first = lake.ingest(TABLE, str(base), create=True).snapshot_id
    lake.ingest(TABLE, str(day), mode="append")
    lake.ingest(SERVING, str(serving), create=True)
    ref = str(first)

    diffs = []

    def diff() -> None:
        diffs.append(lake.diff(TABLE, ref, limit=20))

    diff_s = best_of(diff, 3)
    got = diffs[-1]
    assert got.rows_added == extra and got.rows_removed == 0, (got.rows_added, got.rows_removed)
    files_now = [f["path"] for f in lake.files(TABLE)]
    files_serving = [f["path"] for f in lake.files(SERVING)]
    table_scan_s = best_of(lambda: con.execute(_scan_sql(files_now)).fetchall(), 3)

    results = []

    def drift() -> None:
        results.append(lake.drift(TABLE, None, against=SERVING))

    drift_s = best_of(drift, 2)
    drifted = results[-1]
    # 10k shifted rows among 10M: KS finds the score shift, and the untouched device column stays put
    assert "score" in drifted.drifted_columns and "device" not in drifted.drifted_columns, (
        drifted.drifted_columns
    )
    both_s = best_of(
        lambda: (
            con.execute(_scan_sql(files_serving)).fetchall(),
            con.execute(_scan_sql(files_now)).fetchall(),
        ),
        3,
    )
    listed = ", ".join(COLUMNS)
    select_s = best_of(
        lambda: (
            lake.query(f"SELECT {listed} FROM {TABLE}", as_of=ref),
            lake.query(f"SELECT {listed} FROM {TABLE}"),
        ),
        2,
    )
    con.close()
    size = f"{rows / 1e6:g}M rows + {extra:,}, {got.table_bytes / 1e6:.0f} MB"
    return [
        Figure(
            "compare", f"diff after a {extra:,}-row append: bytes read / table bytes ({size})",
            got.bytes_read / 1e6, got.table_bytes / 1e6, "MB", "only the appended files", COMMAND,
            f"lake diff {TABLE} --from <snapshot before the append>: {got.files_read} file(s) read",
        ),
        Figure(
            "compare", f"diff after a {extra:,}-row append, time ({size})", diff_s, table_scan_s, "s",
            "far below one scan of the table", COMMAND,
            "baseline: DuckDB min/max of every column over the table's files",
        ),
        Figure(
            "compare", f"drift over {rows / 1e6:g}M rows x {len(COLUMNS)} columns, against another {rows / 1e6:g}M", drift_s, select_s, "s",
            "about one scan of both sides", COMMAND,
            f"lake drift {TABLE} --against {SERVING} ({', '.join(drifted.drifted_columns)} drifted); "
            "baseline: lake query of the same columns of both tables into Arrow; "
            "second: DuckDB min/max of every column over both tables' files",
            alt=both_s, alt_label="DuckDB min/max scan",
        ),
    ]  # fmt: skip
