"""`lake` start-up from the shell (part of the `query` topic): each command end to end in a fresh
process, against `python -c "import duckdb; duckdb.sql('select 1').fetchall()"` run in alternation
with it (pairs, best of each), on a local SQLite lake holding one small table.

The `lake` console script of this interpreter's venv is what a user runs; it imports the `lakehouse`
that PYTHONPATH (or the venv's install) provides.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from benchmarks.common import BenchContext, Figure, run_timed
from lakehouse.testing import local_properties, make_lake_env

TABLE = "bench.small"
DUCKDB = "import duckdb; duckdb.sql('select 1').fetchall()"
PAIRS = 7
# (figure name, lake arguments, pairs, target)
COMMANDS = [
    ("small query", ["query", f"SELECT count(*) FROM {TABLE}"], PAIRS, "<= 4x and <= 0.4 s"),
    ("--help", ["--help"], PAIRS, "<= 0.1 s"),
    ("tables", ["tables"], 3, ""),
    ("describe", ["describe", TABLE], 3, ""),
    ("snapshots", ["snapshots", TABLE], 3, ""),
    ("files", ["files", TABLE], 3, ""),
]


def lake_command() -> list[str]:
    script = Path(sys.executable).with_name("lake")
    return [str(script)] if script.exists() else [sys.executable, "-m", "lakehouse.cli"]


def figures(ctx: BenchContext, topic: str) -> list[Figure]:
    root = ctx.workdir / "startup"
    env = make_lake_env(root, local_properties(root))
    source = root / "small.jsonl"
    source.write_text("".join(f'{{"id": {i}, "name": "n{i}"}}\n' for i in range(100)))
    env.lake.create(TABLE, "id long, name string")
    env.lake.ingest(TABLE, str(source))
    vars = {"LAKE_CONFIG": str(env.config_path), "LAKE_PROFILE": env.profile.name}
    lake = lake_command()
    duck = [sys.executable, "-c", DUCKDB]
    out = []
    start = time.perf_counter()
    for _name, args, pairs, target in COMMANDS:
        run_timed(lake + args, vars)  # warm the page cache and .pyc files once, untimed
        lake_s = duck_s = float("inf")
        for _ in range(pairs):
            lake_s = min(lake_s, run_timed(lake + args, vars)[0])
            duck_s = min(duck_s, run_timed(duck)[0])
        shown = " ".join(a if " " not in a else f'"{a}"' for a in args)
        out.append(Figure(topic, f"start-up, lake {shown}", lake_s, duck_s, target=target,
                          command=f"lake {shown}  # fresh process, local SQLite lake",
                          note=f"best of {pairs} pairs" if out else f"a fresh process end to end, best of "
                          f"{pairs} pairs, each with the baseline python -c \"{DUCKDB}\""))  # fmt: skip
    print(f"   (start-up figures in {time.perf_counter() - start:.1f} s)", flush=True)
    return out
