"""Snapshot-incremental `lake run` after a small append, against a full refresh of the same model.

The example's silver.events (`incremental_strategy='snapshot'`, merged on event_id) over a bronze table
of ROWS events in several ingests; then a small append of new events, a fifth of them late (older
than everything in silver). Measured, interleaved, best of REPEAT: the incremental run and
`--full-refresh`, in the same process on the same tables. Bytes read upstream are the data files the
run's recorded range names (`lake.increment`), against all of bronze.events's data files, which a full
refresh reads. The merge still looks up the new keys in silver's files (the key column only), which
the time includes.
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime, timedelta

from benchmarks.common import ROOT, BenchContext, Figure

TOPIC = "incremental"
REPEAT = 2
BATCHES = 8
SMALL = 1_000
COMMAND = "LAKE_BENCH_ONLY=incremental make bench"


def run(ctx: BenchContext) -> list[Figure]:
    import pyarrow as pa

    from lakehouse.dev import datagen
    from lakehouse.testing import local_properties, make_lake_env

    rows = ctx.rows(4_000_000)
    env = make_lake_env(ctx.workdir, local_properties(ctx.workdir))
    lake = env.lake
    end = datetime(2026, 11, 1, tzinfo=UTC)
    per = rows // BATCHES
    for i in range(BATCHES):  # one ingest per "day" of arrivals: several snapshots, several files
        feed = datagen.events(per, days=60, end=end, seed=i, start_id=i * per)
        path = datagen.write_parquet(feed, ctx.workdir / "src" / f"events-{i}.parquet")
        lake.ingest("bronze.events", str(path), create=i == 0)
    project = ctx.workdir / "project"
    (project / "silver").mkdir(parents=True)
    shutil.copy(ROOT / "sql" / "silver" / "events.sql", project / "silver" / "events.sql")
    (project / "sources.yml").write_text("sources: {bronze.events: {}}\n")
    result = lake.run(project)
    if not result.ok:
        raise RuntimeError(result.failure_message())

    inc_s, full_s = float("inf"), float("inf")
    read_bytes, table_bytes, files = 0, 0, 0
    for i in range(REPEAT):
        small = datagen.events(
            SMALL, days=1, end=end + timedelta(days=i + 1), seed=100 + i, start_id=rows * 2 + i * SMALL
        )
        stamps, ids = small["ts"].to_pylist(), small["event_id"].to_pylist()
        late = {
            eid: (end - timedelta(days=90, seconds=k)).isoformat() for k, eid in enumerate(ids[: SMALL // 5])
        }
        stamps = [late.get(eid, ts) for eid, ts in zip(ids, stamps, strict=True)]  # re-deliveries alike
        small = small.set_column(2, "ts", pa.array(stamps, pa.string()))
        lake.ingest(
            "bronze.events", str(datagen.write_parquet(small, ctx.workdir / "src" / f"small-{i}.parquet"))
        )
        start = time.perf_counter()
        result = lake.run(project)
        inc_s = min(inc_s, time.perf_counter() - start)
        if not result.ok or result.models[0].strategy != "snapshot":
            raise RuntimeError(result.failure_message() or f"not incremental: {result.models[0]}")
        summary = lake.table("silver.events").current_snapshot().summary  # type: ignore[union-attr]
        increment = json.loads(summary["lake.increment"])["bronze.events"]
        read_bytes, files = increment["bytes"], increment["files"]
        bronze = lake.table("bronze.events")
        table_bytes = sum(t.file.file_size_in_bytes for t in bronze.scan().plan_files())
        start = time.perf_counter()
        if not lake.run(project, full_refresh=True).ok:
            raise RuntimeError("full refresh failed")
        full_s = min(full_s, time.perf_counter() - start)
    note = (
        f"silver.events over {rows:,} events in {BATCHES} ingests; then {SMALL:,} new events "
        f"({SMALL // 5} late) in one file"
    )
    return [
        Figure(
            TOPIC, f"incremental run after a {SMALL:,}-row append vs --full-refresh", inc_s, full_s,
            command=COMMAND, note=note,
        ),
        Figure(
            TOPIC, f"bytes read upstream ({files} file) vs bronze.events's data files", read_bytes / 1e3,
            table_bytes / 1e3, unit="KB", command=COMMAND,
            note=f"{note}: {read_bytes / table_bytes:.3%} of the table's bytes",
        ),
    ]  # fmt: skip
