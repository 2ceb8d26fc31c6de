"""Concurrent writers: 16 separate `lake ingest` processes on one table lose no row and no snapshot,
on SQLite and PostgreSQL catalogs and on local and moto S3 warehouses; a lost commit race is retried
without re-reading the source."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import catalog_props, events, write_jsonl

from lakehouse.testing import LakeEnv, local_properties, make_lake_env, s3_properties

HERE = Path(__file__).resolve().parent
WORKERS = 16
INGESTS = 2
LAKE = str(Path(sys.executable).with_name("lake"))
SCHEMA = "id long, ts timestamptz, country string, amount double, user_id long"


def hook_env(hook_dir: Path, phases: str) -> dict[str, str]:
    return {**os.environ, "LAKE_TEST_HOOK": phases, "LAKE_TEST_HOOK_DIR": str(hook_dir)}


def wait_for(path: Path, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    """Block until a hook file appears (the process reached its phase) or the process ended."""
    import time

    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"process ended before {path.name}: {err.decode()[-3000:]}")
        assert time.monotonic() < deadline, f"{path.name} not reached in {timeout}s"
        time.sleep(0.01)


def held(env: LakeEnv, hooks: Path, phase: str, *args: str) -> subprocess.Popen[bytes]:
    """A real `lake` process that stops at `phase` (lakehouse/core/hooks.py) until `release`."""
    hooks.mkdir()
    proc = subprocess.Popen(
        [LAKE, *env.cli_args(), *args], env=hook_env(hooks, phase),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    wait_for(hooks / f"{phase}.reached", proc)
    return proc


def release(proc: subprocess.Popen[bytes], hooks: Path, phase: str) -> tuple[int, str]:
    """Let a `held` process go on; its exit code and stderr."""
    (hooks / f"{phase}.go").write_text("")
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err.decode()


def check_linear_history(env: LakeEnv, table_name: str, expected_snapshots: int) -> list[int]:
    """One snapshot per ingest, each the parent of the next: returns the ids oldest first."""
    table = env.lake.table(table_name)
    snapshots = {s.snapshot_id: s for s in table.snapshots()}
    assert len(snapshots) == expected_snapshots
    chain = []
    current = table.current_snapshot()
    while current is not None:
        chain.append(current.snapshot_id)
        current = snapshots.get(current.parent_snapshot_id) if current.parent_snapshot_id else None
    assert len(chain) == expected_snapshots, "history is not one linear chain"
    return chain[::-1]


# 16 writers on SQLite + local files and on PostgreSQL + moto S3; the two mixed setups get 8 writers,
# to keep the suite's time on a 2-core machine (a 16-writer run there costs about a minute each).
@pytest.mark.slow
@pytest.mark.parametrize(
    ("catalog_kind", "warehouse", "workers"),
    [
        ("sqlite", "local", WORKERS),
        ("postgres", "s3", WORKERS),
        ("sqlite", "s3", 8),
        ("postgres", "local", 8),
    ],
)
def test_concurrent_ingest_processes_lose_nothing(
    catalog_kind: str, warehouse: str, workers: int, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if warehouse == "s3":
        props = s3_properties(request.getfixturevalue("moto_s3").endpoint, tmp_path)
    else:
        props = local_properties(tmp_path)
    props.update(catalog_props(catalog_kind, request, tmp_path))
    env = make_lake_env(tmp_path, props)
    env.lake.create("bronze.events", SCHEMA, partition_by="day(ts)")
    # Distinct ids everywhere: source i holds 3 + i rows starting at i * 100.
    sources = [write_jsonl(tmp_path / "src" / f"s{i}.jsonl", events(3 + i, start=i * 100)) for i in range(5)]
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, str(HERE / "concurrent_writers.py"), str(env.config_path), "bronze.events",
         str(out), str(workers), str(INGESTS), *map(str, sources)],
        capture_output=True, text=True, timeout=280,
    )  # fmt: skip
    records = [r for i in range(workers) for r in json.loads((out / f"worker-{i}.json").read_text())]
    failed = [r["stderr"] for r in records if r["exit_code"] != 0]
    assert proc.returncode == 0 and not failed, failed[:3] or proc.stderr[-3000:]
    assert len(records) == workers * INGESTS

    expected_rows = sum(r["result"]["rows"] for r in records)
    assert expected_rows == sum(3 + int(Path(r["source"]).stem[1:]) for r in records)
    counted = env.lake.query("SELECT count(*) AS n, sum(id) AS s FROM bronze.events").to_pylist()[0]
    assert counted["n"] == expected_rows
    expected_sum = sum(sum(e["id"] for e in events(3 + int(Path(r["source"]).stem[1:]),
                                                     start=int(Path(r["source"]).stem[1:]) * 100))
                       for r in records)  # fmt: skip
    assert counted["s"] == expected_sum

    chain = check_linear_history(env, "bronze.events", workers * INGESTS)
    assert sorted(chain) == sorted(int(r["result"]["snapshot_id"]) for r in records)
    table = env.lake.table("bronze.events")
    write_ids = {table.snapshot_by_id(s).summary["lake.write-id"] for s in chain}
    assert len(write_ids) == workers * INGESTS


def test_retried_commit_does_not_reread_the_source(local_lake: LakeEnv, tmp_path: Path) -> None:
    """Writer A writes its files, stages its commit and stops; writer B commits; A's compare-and-swap
    then loses, and its retry must commit A's already-written files: every row, one snapshot, no re-read."""
    env = local_lake
    env.lake.create("bronze.events", SCHEMA)
    src_a = write_jsonl(tmp_path / "a.jsonl", events(700, start=0))
    src_b = write_jsonl(tmp_path / "b.jsonl", events(30, start=10_000))
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    proc = subprocess.Popen(
        [LAKE, *env.cli_args(), "ingest", "bronze.events", str(src_a),
         "--json", "-q"],
        env=hook_env(hooks, "before-commit"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_for(hooks / "before-commit.reached", proc)
        # A's data files exist now; the source is no longer needed. Prove it: remove it.
        src_a.unlink()
        env.lake.ingest("bronze.events", str(src_b))
        (hooks / "before-commit.go").touch()
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()[-3000:]
    result = json.loads(out)
    assert result["rows"] == 700
    chain = check_linear_history(env, "bronze.events", 2)
    assert chain[-1] == int(result["snapshot_id"])  # A committed after B, on top of it
    ids = sorted(env.lake.read("bronze.events", ["id"])["id"].to_pylist())
    assert ids == list(range(700)) + list(range(10_000, 10_030))
    # A wrote its files exactly once: every file in the table's data directory is committed.
    committed = {f["path"] for f in env.lake.files("bronze.events")}
    on_disk = {
        str(p) for p in Path(env.lake.table("bronze.events").location()[7:], "data").rglob("*.parquet")
    }
    assert {p.removeprefix("file://") for p in committed} == on_disk
