"""Issue 13 figures: `Lakehouse.query` engine time against DuckDB `read_parquet` over the same files,
on a local and a moto S3 warehouse, and `lake` start-up from the shell (benchmarks/startup.py).

Engine time: six query shapes over ctx.rows(5_000_000) events partitioned by `day(ts), country`, in
two layouts: as ingested (BATCHES `lake ingest` loads, so several small files per partition) and the
same table after `lake compact` (default options). Each shape runs three ways, round-robin, warm
(best of REPEAT after one warm-up: what a notebook user sees), all on the same kind of connection, a
cursor of the lake's own DuckDB database (`Lakehouse.engine()`), fetched as Arrow the way lake does:
  - lake: `Lakehouse.query(sql)`;
  - baseline: `read_parquet([<the current snapshot's data files>])` as a user would type it; DuckDB
    detects the Hive `key=value/` directories and reads `country` (and `ts_day`) from the path;
  - hive off: the same with `hive_partitioning = false`.
Every result is checked equal across the three before anything is timed.
"""

from __future__ import annotations

import contextlib
import math
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from benchmarks import startup
from benchmarks.common import BenchContext, Figure, best_of_each
from lakehouse.lake import Lakehouse
from lakehouse.testing import local_properties, make_lake_env, s3_properties

TOPIC = "query"
BATCHES = 5  # loads per table: enough small files per partition for `lake compact`'s defaults (min 5)
REPEAT = 5
TARGET = "<= 1.05x (worst <= 1.15x)"
DAY = "2026-06-03"  # inside every data set's range (they start 2026-06-01 and span >= 3 days)

SHAPES = {
    "group-by over all rows": "SELECT country, count(*) AS n, round(sum(amount), 2) AS total, "
    "round(avg(amount), 6) AS mean FROM {e} GROUP BY country ORDER BY country",
    "count(*)": "SELECT count(*) AS n FROM {e}",
    "one-partition filter": "SELECT count(*) AS n, round(sum(amount), 2) AS total FROM {e} WHERE country = 'DE' "
    f"AND ts >= TIMESTAMPTZ '{DAY} 00:00:00+00' AND ts < TIMESTAMPTZ '{DAY} 00:00:00+00' + INTERVAL 1 DAY",
    "selective filter (non-partition column)": "SELECT id, ts, country, amount FROM {e} WHERE user_id = 4242 "
    "ORDER BY id",
    "join to a dimension table": "SELECT c.region, count(*) AS n, round(sum(e.amount), 2) AS total "
    "FROM {e} AS e JOIN {c} AS c ON e.country = c.country GROUP BY c.region ORDER BY c.region",
    "ORDER BY ... LIMIT": "SELECT id, ts, country, amount, user_id, kind FROM {e} ORDER BY amount DESC, id LIMIT 10",
}
EVENTS, COUNTRIES = "bench.events", "bench.countries"
EVENT_COLUMNS = "id long, ts timestamptz, country string, amount double, user_id long, kind string"
ROW_SQL = """SELECT i AS id, TIMESTAMPTZ '2026-06-01 00:00:00+00' + to_seconds((i * 7919) % ({days} * 86400)) AS ts,
       ['US','DE','FR','JP','BR','IN','GB','CA'][1 + (i % 8)] AS country,
       round(((i * 31) % 100000) / 100.0 - 50, 2) AS amount, i % 100000 AS user_id, 'event-' || (i % 37) AS kind
FROM range({start}, {stop}) r(i)"""
DIMENSION_SQL = """SELECT * FROM (VALUES ('US', 'Americas', 'United States'), ('CA', 'Americas', 'Canada'),
       ('BR', 'Americas', 'Brazil'), ('DE', 'Europe', 'Germany'), ('FR', 'Europe', 'France'),
       ('GB', 'Europe', 'United Kingdom'), ('JP', 'Asia', 'Japan'), ('IN', 'Asia', 'India'))
       AS t(country, region, name)"""


def run(ctx: BenchContext) -> list[Figure]:
    figures = engine_figures(ctx, "local", ctx.rows(5_000_000), days=30, repeat=REPEAT)
    # moto serves S3 from a separate process (so it does not share our GIL); it answers a GET in a few
    # milliseconds, so the S3 table is smaller and spans fewer days (fewer partitions and files).
    with moto_server() as endpoint:
        figures += engine_figures(ctx, "moto S3", ctx.rows(1_000_000), days=7, repeat=3, endpoint=endpoint)
    return figures + startup.figures(ctx, TOPIC)


def engine_figures(
    ctx: BenchContext, storage: str, rows: int, *, days: int, repeat: int, endpoint: str | None = None
) -> list[Figure]:
    root = ctx.workdir / storage.replace(" ", "_")
    root.mkdir()
    props = s3_properties(endpoint, root) if endpoint else local_properties(root)
    lake = make_lake_env(root, props).lake
    sources = generate(root / "source", rows, days)
    lake.create(EVENTS, EVENT_COLUMNS, partition_by="day(ts), country")
    start = time.perf_counter()
    for path in sources:
        lake.ingest(EVENTS, str(path))
    print(
        f"   ({storage}: {BATCHES} ingests of {rows:,} rows in {time.perf_counter() - start:.1f} s)",
        flush=True,
    )
    lake.create(COUNTRIES, "country string, region string, name string")
    lake.ingest(COUNTRIES, str(sources[0].parent / "countries.parquet"))
    scale = f"{rows:,} rows, {days} days x 8 countries, {BATCHES} loads"
    figures = layout_figures(lake, storage, "as ingested", repeat, scale)
    start = time.perf_counter()
    result = lake.compact(EVENTS)
    compact_note = f"`lake compact` {result.files_before} -> {result.files_after} files in {time.perf_counter() - start:.1f} s"
    figures += layout_figures(lake, storage, "compacted", repeat, f"{scale}; {compact_note}")
    return figures


def layout_figures(lake: Lakehouse, storage: str, layout: str, repeat: int, scale: str) -> list[Figure]:
    events, countries = data_files(lake, EVENTS), data_files(lake, COUNTRIES)
    hive = {"e": parquet(events), "c": parquet(countries)}
    flat = {
        "e": parquet(events, "hive_partitioning = false"),
        "c": parquet(countries, "hive_partitioning = false"),
    }
    detected = "on" if hive_detected(lake, hive["e"]) else "NOT DETECTED"
    settings = engine_settings(lake) if lake.profile.is_s3 else ""
    figures: list[Figure] = []
    paths: dict[str, str] = {}
    start = time.perf_counter()
    for label, template in SHAPES.items():
        sql = template.format(e=EVENTS, c=COUNTRIES)
        variants = {"lake": lambda s=sql: lake.query(s), "hive": baseline(lake, template.format(**hive)),
                    "flat": baseline(lake, template.format(**flat))}  # fmt: skip
        results = {name: rows_of(fn()) for name, fn in variants.items()}
        for name in ("hive", "flat"):
            if not same(results["lake"], results[name]):
                raise AssertionError(f"{storage} {layout} {label}: lake and read_parquet ({name}) disagree")
        best = best_of_each(variants, repeat, warmup=0)  # the check above was the warm-up
        paths[label] = read_path(lake, sql)
        figures.append(Figure(TOPIC, f"{storage}, {layout} ({len(events)} files): {label}", best["lake"],
                              best["hive"], target=TARGET, command=f'lake.query("{sql}")',
                              alt=best["flat"], alt_label="read_parquet, hive off"))  # fmt: skip
    figures[0].note = (
        f"{scale}; {len(events)} data files; baseline: read_parquet over them, Hive detection {detected}; "
        f"best of {repeat} warm, round-robin{settings}"
    )
    if len(set(paths.values())) == 1:  # one read path for all six shapes: say it once
        figures[0].note += (
            f"; read path (all six): {paths[next(iter(SHAPES))]}" if any(paths.values()) else ""
        )
    else:
        for figure, path in zip(figures, paths.values(), strict=True):
            figure.note = "; ".join(n for n in (figure.note, f"read path: {path}" if path else "") if n)
    print(f"   ({storage}, {layout}: six shapes measured in {time.perf_counter() - start:.1f} s)", flush=True)
    return figures


def generate(directory: Path, rows: int, days: int) -> list[Path]:
    """BATCHES Parquet files of events, each spread over every day and country (as loads arrive)."""
    directory.mkdir(parents=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    per = -(-rows // BATCHES)
    paths = []
    for n in range(BATCHES):
        path = directory / f"batch-{n}.parquet"
        sql = ROW_SQL.format(days=days, start=n * per, stop=min(rows, (n + 1) * per))
        con.execute(f"COPY ({sql}) TO '{path}' (FORMAT parquet, COMPRESSION zstd)")
        paths.append(path)
    con.execute(f"COPY ({DIMENSION_SQL}) TO '{directory / 'countries.parquet'}' (FORMAT parquet)")
    con.close()
    return paths


def data_files(lake: Lakehouse, name: str) -> list[str]:
    """The current snapshot's data files, as pyiceberg plans them (a reader that is not ours)."""
    tasks = list(lake.table(name).scan().plan_files())
    if any(task.delete_files for task in tasks):
        raise AssertionError(f"{name} has delete files: read_parquet over its data files is no baseline")
    return [task.file.file_path.removeprefix("file://") for task in tasks]


def parquet(paths: list[str], options: str = "") -> str:
    listing = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
    return f"read_parquet([{listing}]{', ' + options if options else ''})"


def baseline(lake: Lakehouse, sql: str) -> Any:
    """Run `sql` as lake runs a query: a fresh cursor of the lake's database, streamed as Arrow batches."""

    def fn() -> Any:
        with lake.engine() as engine:
            return engine.reader(sql, 65536).read_all()

    return fn


def rows_of(result: Any) -> list[dict[str, Any]]:
    """Rows of an Arrow table, or of anything with `read_all()` (should `query` ever stream)."""
    table = result.read_all() if hasattr(result, "read_all") else result
    return list(table.to_pylist())


def engine_settings(lake: Lakehouse) -> str:
    """The settings that decide S3 read_parquet's cost: without DuckDB's HTTP metadata cache every
    query sends one HEAD per file, while iceberg_scan takes file sizes from the manifests."""
    with lake.engine() as engine:
        cache = engine.setting("enable_http_metadata_cache").lower()
    heads = ", so read_parquet sends a HEAD per file per query" if cache in ("false", "0") else ""
    return f"; lake's engine has enable_http_metadata_cache = {cache}{heads}"


def hive_detected(lake: Lakehouse, scan: str) -> bool:
    """Whether DuckDB detected Hive partitions in `scan` (it then adds the `ts_day` path column)."""
    with lake.engine() as engine:
        return "ts_day" in [name for name, _ in engine.columns(f"SELECT * FROM {scan}")]


def read_path(lake: Lakehouse, sql: str) -> str:
    """Which scan lake chose, when it says so (a `scan`/`path` attribute on the result or its reads);
    else what its planned SQL calls. Never fails: the read path is being rebuilt."""
    found: list[str] = []
    try:
        result = lake.query_reader(sql)
        try:
            for obj in (result, *getattr(result, "reads", ())):
                for attr in ("scan", "path"):
                    value = getattr(obj, attr, None)
                    if value is not None and not callable(value):
                        who = getattr(obj, "identifier", None)
                        shown = str(getattr(value, "value", value))  # an Enum's value, or a str
                        found.append(f"{who} {shown}" if who else shown)
        finally:
            result.close()
        if not found:
            planned = lake.plan_query(sql)[0].lower()
            found = [f for f in ("iceberg_scan", "read_parquet") if f"{f}(" in planned]
            return f"{' + '.join(found)} (in the planned SQL)" if found else ""
    except Exception as exc:  # noqa: BLE001 - a missing or changed API must not stop the benchmark
        return f"unknown ({type(exc).__name__})"
    return ", ".join(dict.fromkeys(found))


def same(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    """Equal rows, floats to 1e-9 relative (sums may add in a different order)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        for key, value in x.items():
            other = y.get(key)
            if isinstance(value, float) and isinstance(other, float):
                if not math.isclose(value, other, rel_tol=1e-9, abs_tol=1e-9):
                    return False
            elif value != other:
                return False
    return True


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto's S3 server in a child process of ours on a free port; stopped (by its pid) on exit."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto server did not start on port {port}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
