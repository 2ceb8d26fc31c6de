"""Ctrl-C: exit 130 and one line saying what was committed, never a traceback or DuckDB's
`RuntimeError: Query interrupted`, and the table as it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import events, snapshot_count, write_jsonl

from lakehouse.testing import LakeEnv

LAKE = [sys.executable, "-m", "lakehouse.cli"]
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}


def interrupted(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


def test_ctrl_c_stops_a_query_running_inside_duckdb(local_lake: LakeEnv) -> None:
    # one aggregate that runs for minutes inside a single DuckDB call: Python alone would not see Ctrl-C
    sql = "SELECT sum(a.range * b.range) FROM range(1000000000) a, range(100) b"
    proc = subprocess.Popen(
        [*LAKE, *local_lake.cli_args(), "query", sql], env=ENV, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(3)  # started, imported, and inside the query
    assert proc.poll() is None
    code, err = interrupted(proc)
    assert code == 130, err
    assert err == "interrupted; nothing was committed\n"


def test_ctrl_c_during_an_ingest_commits_nothing(local_lake: LakeEnv, tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a.jsonl", events(50))
    local_lake.lake.ingest("bronze.events", str(tmp_path / "a.jsonl"), create=True)
    before = snapshot_count(local_lake, "bronze.events")
    write_jsonl(tmp_path / "b.jsonl", events(50, start=50))
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    proc = subprocess.Popen(
        [*LAKE, *local_lake.cli_args(), "ingest", "bronze.events", str(tmp_path / "b.jsonl")],
        env={**ENV, "LAKE_TEST_HOOK": "after-write", "LAKE_TEST_HOOK_DIR": str(hooks)},
        text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not (hooks / "after-write.reached").exists():  # data files written, nothing committed
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    code, err = interrupted(proc)
    assert code == 130, err
    assert err == "interrupted; nothing was committed\n"
    assert snapshot_count(local_lake, "bronze.events") == before
    assert local_lake.lake.table("bronze.events").scan().to_arrow().num_rows == 50


def test_ctrl_c_during_a_run_names_the_models_published(local_lake: LakeEnv, tmp_path: Path) -> None:
    from conftest import write_project

    write_jsonl(tmp_path / "a.jsonl", events(50))
    local_lake.lake.ingest("bronze.events", str(tmp_path / "a.jsonl"), create=True)
    project = write_project(
        tmp_path,
        {
            "silver.first": "SELECT id, country FROM bronze.events",
            "gold.second": "SELECT country, count(*) AS n FROM silver.first GROUP BY 1",
        },
    )
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    proc = subprocess.Popen(
        [*LAKE, *local_lake.cli_args(), "run", "--project", str(project)],
        env={**ENV, "LAKE_TEST_HOOK": "after-publish", "LAKE_TEST_HOOK_DIR": str(hooks)},
        text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not (hooks / "after-publish.reached").exists():  # silver.first is on main, gold.second not built
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    # the run's models build on worker threads: Ctrl-C reaches the main thread, which stops scheduling
    # and waits for the worker, here held at the checkpoint until released
    proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    (hooks / "after-publish.go").write_text("")
    code, err = proc.wait(timeout=60), proc.communicate()[1]
    published = local_lake.lake.table("silver.first").current_snapshot()
    assert code == 130, err
    assert err.splitlines()[-1] == f"interrupted; committed silver.first (snapshot {published.snapshot_id})"
    assert "Traceback" not in err
    assert "gold.second" not in local_lake.lake.tables("gold")
