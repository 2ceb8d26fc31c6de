"""Issue 12 figures: deleting one user's rows (a GDPR request) from a 10M-row table partitioned by
`day(ts)` rewrites only the files that hold them.

Each user is active on one day, as in a sessionised event feed, so partition pruning and column
statistics narrow the delete to that day's files. The baseline is DuckDB's own `COPY` of the same
files without the user's rows, measured in the same run. Local-file warehouse: the figures measure
lake, not the object store.
"""

from __future__ import annotations

import time

import duckdb

from benchmarks.common import BenchContext, Figure
from lakehouse.testing import local_properties, make_lake_env

USERS = 100_000
DAYS = 30
ROWS_SQL = f"""SELECT i AS id, i % {USERS} AS user_id,
       TIMESTAMPTZ '2026-06-01 00:00:00+00' + to_days(CAST((i % {USERS}) % {DAYS} AS INTEGER))
           + to_seconds((i * 7919) % 86400) AS ts,
       round(((i * 31) % 100000) / 100.0, 2) AS amount, md5(i::VARCHAR) AS email
FROM range({{rows}}) r(i)"""
TABLE = "bench.events"
USER = 4242
COMMAND = "LAKE_BENCH_ONLY=changes make bench"


def local(path: str) -> str:
    return path.removeprefix("file://")


def run(ctx: BenchContext) -> list[Figure]:
    rows = ctx.rows(10_000_000)
    source = ctx.workdir / "events.parquet"
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    con.execute(f"COPY ({ROWS_SQL.format(rows=rows)}) TO '{source}' (FORMAT parquet, COMPRESSION zstd)")
    env = make_lake_env(ctx.workdir / "lake", local_properties(ctx.workdir / "lake"))
    lake = env.lake
    lake.ingest(TABLE, str(source), create=True, partition_by="day(ts)")

    where = f"user_id = {USER}"
    plan = lake.plan_change(TABLE, where)
    expected = con.execute(f"SELECT count(*) FROM '{source}' WHERE {where}").fetchone()[0]  # type: ignore[index]
    assert plan.matching_rows == expected and plan.pruned, plan.to_dict()
    start = time.perf_counter()
    result = lake.delete(TABLE, where)
    lake_s = time.perf_counter() - start
    assert result.snapshot_id is not None
    left = lake.query(f"SELECT count(*) AS n, count(*) FILTER (WHERE {where}) AS user FROM {TABLE}")
    assert left.column("n")[0].as_py() == rows - expected and left.column("user")[0].as_py() == 0

    files = ", ".join(f"'{local(f.path)}'" for f in plan.files)
    start = time.perf_counter()
    con.execute(
        f"COPY (SELECT * FROM read_parquet([{files}]) WHERE NOT ({where})) "
        f"TO '{ctx.workdir / 'copy.parquet'}' (FORMAT parquet, COMPRESSION zstd)"
    )
    copy_s = time.perf_counter() - start
    con.close()

    size = f"{rows / 1e6:g}M rows, {plan.table_files} files, {plan.table_bytes / 1e6:.0f} MB"
    return [
        Figure(
            "changes", f"delete one user's rows ({size})", lake_s, copy_s, "s",
            "a small multiple of COPY of the same files", COMMAND,
            f"lake delete {TABLE} --where \"{where}\" vs DuckDB COPY of the files it rewrote",
        ),
        Figure(
            "changes", "data files rewritten / files in the table", len(plan.files), plan.table_files,
            "files", "only the files holding the user's rows", COMMAND,
        ),
        Figure(
            "changes", "bytes rewritten / bytes in the table", plan.rewrite_bytes / 1e6,
            plan.table_bytes / 1e6, "MB", "only the files holding the user's rows", COMMAND,
        ),
    ]  # fmt: skip
