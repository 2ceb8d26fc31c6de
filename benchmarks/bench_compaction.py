"""Issue 4 figures: compaction throughput vs DuckDB COPY, the small-file penalty before/after
compaction, planning after many appends, and peak memory compacting one large partition.

Small files are made with DuckDB (zstd Parquet, one COPY per file) and registered with pyiceberg's
`add_files` in one commit; the many-commit table for planning is built with real appends.
Everything runs on a local-file warehouse so the figures measure lake, not the object store.
`LAKE_BENCH_SCALE=0.1` runs at a tenth of the sizes (and of the append counts).
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pyarrow as pa

from benchmarks.common import BenchContext, Figure, best_of, peak_rss_of
from lakehouse.testing import local_properties, make_lake_env

SCHEMA = "id long, ts timestamptz, country string, amount double, user_id long, payload string"
ROW_SQL = """SELECT i AS id, TIMESTAMPTZ '2026-06-01 00:00:00+00' + to_seconds((i * 7919) % (30 * 86400)) AS ts,
       ['US','DE','FR','JP','BR','IN','GB','CA'][1 + (i % 8)] AS country,
       round(((i * 31) % 100000) / 100.0 - 50, 2) AS amount, i % 100000 AS user_id,
       md5(i::VARCHAR) AS payload
FROM range({start}, {stop}) r(i)"""
QUERY = "SELECT country, count(*) AS n, round(sum(amount), 2) AS total, count(DISTINCT user_id) AS users FROM {t} GROUP BY 1"
ROW_BYTES = 28  # about this many zstd bytes per row on disk (the md5 payload dominates)


def small_files(directory: Path, rows: int, files: int) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    per = max(1, rows // files)
    paths = []
    for n in range(files):
        path = directory / f"small-{n:05d}.parquet"
        sql = ROW_SQL.format(start=n * per, stop=(n + 1) * per)
        con.execute(f"COPY ({sql}) TO '{path}' (FORMAT parquet, COMPRESSION zstd)")
        paths.append(str(path))
    con.close()
    return paths


def table_of_small_files(lake, name: str, directory: Path, rows: int, files: int, props: dict) -> list[str]:
    lake.create(name, SCHEMA, properties=props)
    table = lake.table(name)
    paths = small_files(Path(table.location().removeprefix("file://")) / "data" / directory.name, rows, files)
    table.add_files(paths)
    return paths


def mb(paths: list[str]) -> float:
    return sum(Path(p).stat().st_size for p in paths) / 1e6


def run(ctx: BenchContext) -> list[Figure]:
    figures: list[Figure] = []
    env = make_lake_env(ctx.workdir / "lake", local_properties(ctx.workdir / "lake"))
    lake = env.lake
    small = ctx.scale < 1
    any_target = {"lake.compact.allow-any-target": "true"} if small else {}
    target = "512MB" if not small else f"{max(1, int(512 * ctx.scale))}MB"

    # ---- 1. throughput: lake compact vs DuckDB COPY of the same files, MB of input per second
    rows = ctx.rows(40_000_000)
    paths = table_of_small_files(lake, "bench.tp", ctx.workdir / "tp", rows, 200, any_target)
    size = mb(paths)
    start = time.perf_counter()
    result = lake.compact("bench.tp", target_size=target, min_input_files=2)
    lake_s = time.perf_counter() - start
    assert result.rows == rows and result.snapshot_id is not None
    con = duckdb.connect()
    listing = ", ".join(f"'{p}'" for p in paths)
    start = time.perf_counter()
    con.execute(
        f"COPY (SELECT * FROM read_parquet([{listing}])) TO '{ctx.workdir / 'copy.parquet'}' "
        "(FORMAT parquet, COMPRESSION zstd)"
    )
    copy_s = time.perf_counter() - start
    figures.append(Figure("compaction", "compaction throughput", size / lake_s, size / copy_s, "MB/s",
                          ">= 0.5x DuckDB COPY", "lake compact bench.tp",
                          f"{size:.0f} MB in 200 files -> {result.files_after} files"))  # fmt: skip

    # ---- 2. small-file penalty: 400 small files, before/after compaction vs properly sized files
    rows = ctx.rows(20_000_000)
    table_of_small_files(lake, "bench.small", ctx.workdir / "sm", rows, 400, any_target)
    lake.create("bench.sized", SCHEMA)
    sized_src = small_files(ctx.workdir / "sized", rows, 1)
    lake.ingest("bench.sized", sized_src)

    def q(name: str) -> float:
        return best_of(lambda: lake.query(QUERY.format(t=name)), 5)

    sized_s, before_s = q("bench.sized"), q("bench.small")
    compacted = lake.compact("bench.small", target_size=target)
    after_s = q("bench.small")
    figures.append(Figure("compaction", "query after compaction (400 small files)", after_s, sized_s, "s",
                          "<= 1.2x properly sized files", "lake compact bench.small",
                          f"before compaction {before_s:.3f} s = {before_s / sized_s:.2f}x sized; "
                          f"after {after_s / sized_s:.2f}x; {compacted.files_after} files after compaction"))  # fmt: skip
    figures.append(Figure("compaction", "query before compaction (400 small files)", before_s, sized_s, "s",
                          "", "lake query", "the penalty compaction removes"))  # fmt: skip

    # ---- 3. planning after many appends (manifest merging on, as for tables lake creates) vs fresh
    appends = max(50, int(1000 * ctx.scale))
    lake.create("bench.many", SCHEMA)
    lake.create("bench.fresh", SCHEMA)
    many = lake.table("bench.many")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    batches = []
    for n in range(appends):
        batch = con.execute(ROW_SQL.format(start=n * 100, stop=(n + 1) * 100)).arrow()
        batch = pa.Table.from_batches(batch) if isinstance(batch, pa.RecordBatchReader) else batch
        batch = batch.cast(many.schema().as_arrow())
        many.append(batch)
        many = lake.table("bench.many")
        batches.append(batch)
    # the same data files, registered in one commit: what a freshly loaded table plans over
    live = [
        e.data_file
        for m in many.current_snapshot().manifests(many.io)
        for e in m.fetch_manifest_entry(many.io)
    ]
    with lake.table("bench.fresh").transaction() as tx, tx.update_snapshot().fast_append() as append:
        for data_file in live:
            append.append_data_file(data_file)

    def plan(name: str) -> float:
        table = lake.table(name)
        return best_of(lambda: list(table.scan().plan_files()), 5)

    many_s, fresh_s = plan("bench.many"), plan("bench.fresh")
    manifests = len(lake.table("bench.many").current_snapshot().manifests(many.io))
    figures.append(Figure("compaction", f"planning after {appends} appends (merging on)", many_s, fresh_s, "s",
                          "<= 1.5x a fresh table", "pyiceberg scan().plan_files()",
                          f"{manifests} manifests after the appends"))  # fmt: skip
    lake.create("bench.fast", SCHEMA, properties={"commit.manifest-merge.enabled": "false"})
    fast = lake.table("bench.fast")
    for batch in batches:
        fast.append(batch)
        fast = lake.table("bench.fast")
    fast_before = plan("bench.fast")
    lake.rewrite_manifests("bench.fast")
    fast_after = plan("bench.fast")
    figures.append(Figure("compaction", f"planning after {appends} fast appends + rewrite-manifests", fast_after,
                          fresh_s, "s", "<= 1.5x a fresh table", "lake rewrite-manifests bench.fast",
                          f"before rewrite-manifests {fast_before:.4f} s = {fast_before / fresh_s:.1f}x fresh"))  # fmt: skip

    # ---- 4. peak RSS of compacting one 2 GB partition, in a child process
    big_rows = int(2e9 * ctx.scale / ROW_BYTES)
    paths = table_of_small_files(lake, "bench.big", ctx.workdir / "big", big_rows, 100, any_target)
    size = mb(paths)
    code = (
        "from lakehouse.lake import connect\n"
        f"lake = connect({env.profile.name!r}, {str(env.config_path)!r})\n"
        f"r = lake.compact('bench.big', target_size={target!r}, min_input_files=2)\n"
        f"assert r.rows == {big_rows // 100 * 100}, r.rows\n"
    )
    seconds, rss = peak_rss_of(code)
    figures.append(Figure("compaction", f"peak RSS compacting a {size / 1000:.2f} GB partition", rss / 1e6, None,
                          "MB", "< 1000 MB at 2 GB", "lake compact bench.big",
                          f"{seconds:.1f} s in a child process"))  # fmt: skip
    return figures
