"""Issue 4's done-when at full size: 400 real appends of about 1.5 GB in total, then `lake compact`
with the default target (512 MB). Reports the share of data files inside 128 MB–1 GB on disk, that
rows and a content checksum are unchanged, that a pin taken before still reads the same rows, and
the compaction's time and peak memory (in a child process).

Unpartitioned local-file warehouse; `LAKE_BENCH_SCALE=0.1` makes 150 MB (then with a 16 MB target).
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

from benchmarks.bench_compaction import ROW_BYTES, ROW_SQL, SCHEMA
from benchmarks.common import BenchContext, Figure, peak_rss_of
from lakehouse.testing import local_properties, make_lake_env

CHECKSUM = "SELECT count(*) AS n, sum(hash(id, ts, country, amount, user_id, payload)) AS h FROM {t}"
APPENDS = 400
MB = 1024 * 1024


def run(ctx: BenchContext) -> list[Figure]:
    total_bytes = 1.5e9 * ctx.scale
    rows = int(total_bytes / ROW_BYTES)
    per = rows // APPENDS
    src = ctx.workdir / "appends"
    src.mkdir()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for n in range(APPENDS):
        sql = ROW_SQL.format(start=n * per, stop=(n + 1) * per)
        con.execute(f"COPY ({sql}) TO '{src / f'a-{n:03d}.parquet'}' (FORMAT parquet, COMPRESSION zstd)")
    con.close()

    env = make_lake_env(ctx.workdir / "lake", local_properties(ctx.workdir / "lake"))
    lake = env.lake
    small_target = ctx.scale < 1
    props = {"lake.compact.allow-any-target": "true"} if small_target else {}
    lake.create("bench.appends", SCHEMA, properties=props)
    start = time.perf_counter()
    for n in range(APPENDS):
        lake.ingest("bench.appends", str(src / f"a-{n:03d}.parquet"))
    append_s = time.perf_counter() - start
    before_files = lake.files("bench.appends")
    before = lake.query(CHECKSUM.format(t="bench.appends")).to_pylist()[0]
    lock = ctx.workdir / "before.lock"
    lake.pin(["bench.appends"], lock)

    target = "16MB" if small_target else None
    code = (
        "from lakehouse.lake import connect\n"
        f"lake = connect({env.profile.name!r}, {str(env.config_path)!r})\n"
        f"lake.compact('bench.appends', target_size={target!r})\n"
    )
    compact_s, rss = peak_rss_of(code)
    after_files = lake.files("bench.appends")
    after = lake.query(CHECKSUM.format(t="bench.appends")).to_pylist()[0]
    pinned = lake.query(CHECKSUM.format(t="bench.appends"), pins=str(lock)).to_pylist()[0]
    low, high = (int(16 * MB * 0.75), int(16 * MB * 1.8)) if small_target else (128 * MB, 1024 * MB)
    inside = sum(1 for f in after_files if low <= f["bytes"] <= high)
    share = inside / len(after_files)
    data_mb = sum(f["bytes"] for f in before_files) / 1e6
    assert after == before == pinned, (before, after, pinned)
    sizes = ", ".join(f"{f['bytes'] / MB:.0f}" for f in after_files)
    return [
        Figure("compaction_400", f"data files inside {low // MB}-{high // MB} MB after compaction", share * 100, None,
               "%", ">= 90%", "lake compact bench.appends  # default target 512 MB",
               f"{len(before_files)} files ({data_mb:.0f} MB) from {APPENDS} appends -> {len(after_files)} files "
               f"of {sizes} MiB; rows {after['n']:,}, checksum and the pre-compaction pin unchanged"),
        Figure("compaction_400", "compaction time", compact_s, None, "s", "", "lake compact bench.appends",
               f"{data_mb / compact_s:.0f} MB/s; {APPENDS} appends took {append_s:.0f} s"),
        Figure("compaction_400", "peak RSS of the compaction process", rss / 1e6, None, "MB", "bounded by the group",
               "lake compact bench.appends", "whole process, including interpreter and imports"),
    ]  # fmt: skip


if __name__ == "__main__":  # pragma: no cover - manual run
    import tempfile

    print(run(BenchContext(Path(tempfile.mkdtemp()), 0.02)))
