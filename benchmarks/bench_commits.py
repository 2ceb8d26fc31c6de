"""Commit latency (p50, p99) with 1, 8 and 16 concurrent `lake ingest` processes, on SQLite and on
PostgreSQL catalogs (local warehouse), and the failure count, which must be 0.

Writers are real processes (tests/concurrent_writers.py); a commit's latency includes its retries.
PostgreSQL comes from LAKE_TEST_PG_URI, or a throwaway cluster when its binaries are installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.common import ROOT, BenchContext, Figure

sys.path.insert(0, str(ROOT / "tests"))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _run(workdir: Path, catalog: dict[str, str], writers: int, ingests: int) -> tuple[list[float], int]:
    from conftest import events, write_jsonl

    from lakehouse.testing import local_properties, make_lake_env

    root = workdir / f"{catalog['type']}-{writers}"
    env = make_lake_env(root, {**local_properties(root), **catalog})
    env.lake.create("bench.events", "id long, ts timestamptz, country string, amount double, user_id long")
    sources = [write_jsonl(root / "src" / f"s{i}.jsonl", events(20, start=i * 100)) for i in range(4)]
    out = root / "out"
    subprocess.run(
        [sys.executable, str(ROOT / "tests" / "concurrent_writers.py"), str(env.config_path), "bench.events",
         str(out), str(writers), str(ingests), *map(str, sources)],
        capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    records = [r for i in range(writers) for r in json.loads((out / f"worker-{i}.json").read_text())]
    latencies = [r["commit_seconds"] for r in records if r["exit_code"] == 0]
    return latencies, sum(1 for r in records if r["exit_code"] != 0)


def run(ctx: BenchContext) -> list[Figure]:
    import pg

    ingests = max(2, int(4 * ctx.scale))
    cluster = None
    pg_uri = os.environ.get(pg.ENV)
    if not pg_uri and (bindir := pg.pg_bindir()):
        cluster = pg.LocalCluster(bindir)
        pg_uri = cluster.start().admin_uri
    figures: list[Figure] = []
    try:
        catalogs: list[tuple[str, dict[str, str] | None]] = [("sqlite", {"type": "sql"})]
        catalogs.append(("postgres", None))
        for name, props in catalogs:
            for writers in (1, 8, 16):
                if name == "postgres":
                    if not pg_uri:
                        continue
                    server = pg.PgServer(pg_uri)
                    with server.fresh_database() as uri:
                        latencies, failures = _run(
                            ctx.workdir, {"type": "postgres", "uri": uri}, writers, ingests
                        )
                else:
                    latencies, failures = _run(ctx.workdir, props or {}, writers, ingests)
                command = f"{writers} x lake ingest ({ingests} each), {name} catalog"
                p50 = _percentile(latencies, 0.5) if latencies else float("nan")
                p99 = _percentile(latencies, 0.99) if latencies else float("nan")
                figures += [
                    Figure("commits", f"commit p50, {writers} writers, {name}", p50, command=command,
                           note="" if writers > 1 else "single writer: no contention"),
                    Figure("commits", f"commit p99, {writers} writers, {name}", p99, command=command),
                    Figure("commits", f"failed ingests, {writers} writers, {name}", failures, unit="",
                           target="0", command=command),
                ]  # fmt: skip
    finally:
        if cluster is not None:
            cluster.stop()
    return figures
