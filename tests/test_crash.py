"""`kill -9` of real `lake ingest` / `lake compact` / `lake run` processes at exact phases (tests:
lakehouse/core/hooks.py checkpoints, and a held S3 PUT in our fault proxy for "while writing"). Every table
is always at its old or its new snapshot and reads correctly; `lake gc` removes what the killed process
left behind once it is older than gc's window, and never a file the table uses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import cli_json, events, write_jsonl, write_project
from faultproxy import Fault, FaultProxy
from test_concurrency import hook_env, wait_for

from lakehouse.io.storage import list_files
from lakehouse.testing import LakeEnv, MotoS3, make_lake_env, s3_properties

LAKE = str(Path(sys.executable).with_name("lake"))
SEED_ROWS, NEW_ROWS = 40, 25


def seeded(env: LakeEnv, tmp_path: Path) -> tuple[int, Path]:
    seed = write_jsonl(tmp_path / "seed.jsonl", events(SEED_ROWS))
    env.lake.ingest("bronze.events", str(seed), create=True, partition_by="day(ts)")
    new = write_jsonl(tmp_path / "new.jsonl", events(NEW_ROWS, start=5000))
    return env.lake.table("bronze.events").current_snapshot().snapshot_id, new


def start(env: LakeEnv, hooks: Path, phase: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [LAKE, *env.cli_args(), *args],
        env=hook_env(hooks, phase),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )


def kill9(proc: subprocess.Popen[bytes]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def table_files(env: LakeEnv, name: str = "bronze.events") -> set[str]:
    """Every file under the table's location (data and metadata)."""
    return {f.path.removeprefix("file://") for f in list_files(env.profile, env.lake.table(name).location())}


def state(env: LakeEnv, name: str = "bronze.events") -> tuple[int, int, int]:
    """(current snapshot id, row count, sum of ids), read through DuckDB's iceberg_scan."""
    snapshot = env.lake.table(name).current_snapshot().snapshot_id
    row = env.lake.query(f"SELECT count(*) AS n, sum(id) AS s FROM {name}").to_pylist()[0]
    return snapshot, row["n"], row["s"]


def age(paths: set[str], seconds: float = 7200) -> None:
    """Make local leftovers look `seconds` old, as if gc ran later (no sleeping in tests)."""
    then = time.time() - seconds
    for p in paths:
        os.utime(p, (then, then))


def gc(env: LakeEnv, run_cli, *args: str, name: str = "bronze.events") -> None:
    result = run_cli(env, "gc", name, *args, "--json")
    assert result.exit_code == 0, result.output


def assert_gc_cleans(env: LakeEnv, run_cli, before_kill: set[str], name: str = "bronze.events") -> None:
    """Leftovers survive gc's default window, and go once older than it; the table still reads."""
    expected_state = state(env, name)
    live = table_files(env, name)
    gc(env, run_cli, name=name)  # default window (3 days): a write in flight could own these files
    assert table_files(env, name) == live
    leftovers = live - before_kill
    age(live)
    gc(env, run_cli, "--older-than", "1h", "--force", name=name)
    after = table_files(env, name)
    assert not (after & leftovers - _referenced(env, name)), "gc left the killed write's files"
    assert state(env, name) == expected_state


def _referenced(env: LakeEnv, name: str = "bronze.events") -> set[str]:
    """Files the current metadata still needs: metadata log, manifest lists, manifests, data files."""
    table = env.lake.table(name)
    refs = {table.metadata_location}
    refs |= {e.metadata_file for e in table.metadata.metadata_log}
    for snapshot in table.snapshots():
        refs.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            refs.add(manifest.manifest_path)
            refs |= {
                e.data_file.file_path for e in manifest.fetch_manifest_entry(table.io, discard_deleted=False)
            }
    return {r.removeprefix("file://") for r in refs}


@pytest.mark.parametrize("phase", ["before-write", "after-write", "before-commit", "after-commit"])
def test_kill_ingest_at_each_phase(local_lake: LakeEnv, run_cli, tmp_path: Path, phase: str) -> None:
    env = local_lake
    old_snapshot, new = seeded(env, tmp_path)
    old_state = state(env)
    before = table_files(env)
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    proc = start(env, hooks, phase, "ingest", "bronze.events", str(new), "-q")
    wait_for(hooks / f"{phase}.reached", proc)
    kill9(proc)
    snapshot, rows, ids = state(env)
    if phase == "after-commit":
        assert rows == SEED_ROWS + NEW_ROWS and snapshot != old_snapshot
        assert env.lake.table("bronze.events").current_snapshot().parent_snapshot_id == old_snapshot
    else:
        assert (snapshot, rows, ids) == old_state
    if phase == "before-write":
        assert table_files(env) == before
    if phase in ("after-write", "before-commit"):
        assert table_files(env) - before, "the killed write left nothing: the kill landed too early"
    assert_gc_cleans(env, run_cli, before)
    # and the table takes the next write as usual
    assert run_cli(env, "ingest", "bronze.events", str(new), "-q").exit_code == 0
    assert state(env)[1] == rows + NEW_ROWS


def test_kill_ingest_while_writing_to_s3(moto_s3: MotoS3, run_cli, tmp_path: Path) -> None:
    """The kill lands while DuckDB's PUT of a data file is in flight (held by the proxy)."""
    with FaultProxy(moto_s3.endpoint) as proxy:
        env = make_lake_env(tmp_path, s3_properties(proxy.endpoint, tmp_path))
        old_snapshot, new = seeded(env, tmp_path)
        old_state = state(env)
        proxy.add(Fault("PUT", r"/data/", action="hold", times=1))
        proc = subprocess.Popen(
            [LAKE, *env.cli_args(), "ingest", "bronze.events", str(new), "-q"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert proxy.held.wait(timeout=120), "the ingest never wrote a data file"
        kill9(proc)
        proxy.release()  # the held PUT now lands: an orphan written after its writer died
        assert state(env) == old_state
        assert env.lake.table("bronze.events").current_snapshot().snapshot_id == old_snapshot
        committed = {f["path"] for f in env.lake.files("bronze.events")}
        deadline = time.monotonic() + 30
        while not (
            {f.path for f in list_files(env.profile, env.lake.table("bronze.events").location() + "/data")}
            - committed
        ):
            assert time.monotonic() < deadline, "the held PUT never reached moto"
            time.sleep(0.05)
        gc(env, run_cli)  # default window: too young to touch
        data = {f.path for f in list_files(env.profile, env.lake.table("bronze.events").location() + "/data")}
        assert data - committed
        result = cli_json(run_cli(env, "gc", "bronze.events", "--older-than", "0s", "--force", "--json"))
        assert result is not None
        data = {f.path for f in list_files(env.profile, env.lake.table("bronze.events").location() + "/data")}
        assert data == committed
        assert state(env) == old_state


def data_files(paths: set[str]) -> set[str]:
    return {p for p in paths if "/data/" in p}


@pytest.mark.parametrize("phase", ["before-write", "after-write", "before-commit", "after-commit"])
def test_kill_compact_at_each_phase(local_lake: LakeEnv, run_cli, tmp_path: Path, phase: str) -> None:
    """`after-write` in compaction is after its first file group: with three groups (one per day
    partition), the kill lands while it is still writing."""
    env = local_lake
    seeded(env, tmp_path)
    for n in range(5):
        src = write_jsonl(tmp_path / f"small{n}.jsonl", events(10, start=10_000 + n * 10))
        env.lake.ingest("bronze.events", str(src))
    groups = len(env.lake.plan_compaction("bronze.events", min_input_files=2).groups)
    assert groups >= 2
    old_snapshot, rows, ids = state(env)
    before = table_files(env)
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    proc = start(env, hooks, phase, "compact", "bronze.events", "--min-input-files", "2")
    wait_for(hooks / f"{phase}.reached", proc)
    kill9(proc)
    snapshot, rows_after, ids_after = state(env)
    assert (rows_after, ids_after) == (rows, ids)  # compaction never changes rows
    table = env.lake.table("bronze.events")
    written = data_files(table_files(env) - before)
    if phase == "after-commit":
        assert snapshot != old_snapshot and table.current_snapshot().summary.operation.value == "replace"
    else:
        assert snapshot == old_snapshot
    if phase == "before-write":
        assert table_files(env) == before
    elif phase == "after-write":
        assert 0 < len(written) < groups, f"expected a partial write: {len(written)} files of {groups} groups"
    else:
        assert len(written) >= groups, "compaction had not written every group before its commit"
    assert_gc_cleans(env, run_cli, before)


RUN_MODELS = {
    "silver.crash_events": "{{ config(checks=[{'unique': 'id'}]) }}\n"
    "SELECT id, ts, country, amount FROM bronze.events\n",
    "gold.crash_merged": "{{ config(materialized='incremental', unique_key='id') }}\n"
    "SELECT id, country, amount * 2 AS amount FROM silver.crash_events\n",
}


@pytest.mark.parametrize(
    "phase", ["before-write", "after-write", "before-commit", "after-commit", "after-publish"]
)
def test_kill_run_at_each_phase(local_lake: LakeEnv, run_cli, tmp_path: Path, phase: str) -> None:
    """A two-model project (a `table` model, then an incremental merge on it), built once, then run
    again over new bronze rows and killed at `phase` of its first model. `before-commit`/`after-commit`
    surround staging the snapshot on the audit branch; `after-publish` is after `main` moved."""
    env = local_lake
    _, new = seeded(env, tmp_path)
    project = write_project(tmp_path, RUN_MODELS)
    first, second = RUN_MODELS
    built = env.lake.run(project)
    assert built.ok, built.failure_message()
    old = {m: state(env, m) for m in RUN_MODELS}
    assert {m: old[m][1] for m in RUN_MODELS} == {first: SEED_ROWS, second: SEED_ROWS}
    env.lake.ingest("bronze.events", str(new))
    before = {m: table_files(env, m) for m in RUN_MODELS}
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    proc = start(env, hooks, phase, "run", "--project", str(project))
    wait_for(hooks / f"{phase}.reached", proc)
    kill9(proc)

    # main: the first model published only at after-publish; the second model never started
    for m in RUN_MODELS:
        snapshot, rows, ids = state(env, m)
        if m == first and phase == "after-publish":
            head = env.lake.table(m).current_snapshot()
            assert rows == SEED_ROWS + NEW_ROWS and head.parent_snapshot_id == old[m][0]
            assert head.summary["lake.model"] == m
        else:
            assert (snapshot, rows, ids) == old[m], m
    assert table_files(env, second) == before[second]
    # The audit branch: a run killed after staging (before publishing) leaves `lake-audit-<run id>`
    # on the first model, at a complete staged snapshot whose parent is main; `main` never saw it.
    table = env.lake.table(first)
    branches = {r: ref.snapshot_id for r, ref in table.metadata.refs.items() if r != "main"}
    staged_files: set[str] = set()
    if phase == "after-commit":
        ((branch, staged_id),) = branches.items()
        assert branch.startswith("lake-audit-")
        staged = table.snapshot_by_id(staged_id)
        assert (
            staged.parent_snapshot_id == old[first][0] and table.current_snapshot().snapshot_id != staged_id
        )
        assert staged.summary["lake.rows"] == str(SEED_ROWS + NEW_ROWS)
        branch_rows = env.lake.query(f"SELECT count(*) AS n FROM {first}", as_of={first: str(staged_id)})
        assert branch_rows.to_pylist()[0]["n"] == SEED_ROWS + NEW_ROWS  # the staged snapshot reads whole
        staged_files = {
            e.data_file.file_path.removeprefix("file://")
            for mf in staged.manifests(table.io)
            for e in mf.fetch_manifest_entry(table.io, discard_deleted=True)
        }
        assert staged_files - before[first]
    else:
        assert not branches, branches  # publishing removes the branch in the same commit
    assert not [r for r in env.lake.table(second).metadata.refs if r != "main"]
    if phase == "before-write":
        assert table_files(env, first) == before[first]
    if phase in ("after-write", "before-commit"):
        assert data_files(table_files(env, first) - before[first]), "the kill landed before any write"

    for m in RUN_MODELS:
        assert_gc_cleans(env, run_cli, before[m], m)
    # Within gc's window the leftover audit branch keeps its staged files (a run may be auditing)...
    assert staged_files <= table_files(env, first)
    if phase == "after-commit":
        # ...and once the branch is older than the window, gc drops it and deletes what only it reached.
        gc(env, run_cli, "--older-than", "0s", "--force", name=first)
        assert [r for r in env.lake.table(first).metadata.refs] == ["main"]
        assert not staged_files & table_files(env, first)
        assert state(env, first) == old[first]
    # and the next run builds both models as usual
    rerun = env.lake.run(project)
    assert rerun.ok, rerun.failure_message()
    assert {m: state(env, m)[1] for m in RUN_MODELS} == {m: SEED_ROWS + NEW_ROWS for m in RUN_MODELS}
