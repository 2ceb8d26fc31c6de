"""Data-aware `lake run`: a model whose SQL, config() and input snapshots are those of its table's last
build is up to date: not rebuilt, no new snapshot, and the plan says so. A change rebuilds exactly the
models downstream of it."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import cli_json, snapshot_count, write_project
from test_runner import REPO_SQL, current, load_bronze

from lakehouse.dev import datagen
from lakehouse.testing import LakeEnv

END = datetime.now(UTC).replace(microsecond=0)
MODELS = ["silver.events", "gold.user_features", "silver.labels", "gold.training_set"]


@pytest.fixture
def built(local_lake: LakeEnv) -> LakeEnv:
    feed = datagen.events(1500, days=5, end=END, seed=11)
    load_bronze(local_lake, feed, datagen.labels(feed, 150))
    result = local_lake.lake.run(REPO_SQL)
    assert result.ok, result.failure_message()
    assert {m.status for m in result.models} == {"ok"}
    return local_lake


def _statuses(result) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {m.model: m.status for m in result.models}


def test_second_run_is_up_to_date_and_publishes_nothing(built: LakeEnv, run_cli) -> None:
    env = built
    counts = {m: snapshot_count(env, m) for m in MODELS}
    heads = {m: current(env, m) for m in MODELS}

    plan = cli_json(run_cli(env, "run", "--project", str(REPO_SQL), "--dry-run", "--json"))
    assert [(m["model"], m["up_to_date"], m["reason"]) for m in plan["models"]] == [
        (m, True, "up to date") for m in MODELS
    ]
    text = run_cli(env, "run", "--project", str(REPO_SQL), "--dry-run")
    assert "4 model(s), 0 to build, 4 up to date" in text.stdout
    assert f"silver.events: up to date at snapshot {heads['silver.events']}" in text.stdout

    result = run_cli(env, "run", "--project", str(REPO_SQL))
    assert result.exit_code == 0, result.output
    for m in MODELS:
        assert re.search(rf"OK   {m} \.+ \[\w+, up to date, snapshot {heads[m]}\]", result.stderr)
    assert "0 model(s) built, 4 up to date" in result.stdout
    assert {m: snapshot_count(env, m) for m in MODELS} == counts
    doc = cli_json(run_cli(env, "run", "--project", str(REPO_SQL), "--json"))
    assert [(m["model"], m["status"], m["snapshot_id"], m["checks"]) for m in doc["models"]] == [
        (m, "up_to_date", str(heads[m]), [])
        for m in MODELS  # checks are not re-run: the data did not change
    ]


def test_new_input_rebuilds_exactly_its_downstream_models(built: LakeEnv) -> None:
    env = built
    labels_before = current(env, "bronze.labels")
    events_side = {m: snapshot_count(env, m) for m in ("silver.events", "gold.user_features")}
    more = datagen.labels(datagen.events(300, days=2, end=END, seed=12, start_id=50_000), 40)
    load_bronze_labels = datagen.write_jsonl(more, env.root / "feed" / "labels-more.jsonl")
    env.lake.ingest("bronze.labels", str(load_bronze_labels))

    plan = env.lake.plan_run(REPO_SQL)
    reasons = {s.model: s.reason for s in plan.steps}
    assert reasons == {
        "silver.events": "up to date",
        "gold.user_features": "up to date",
        "silver.labels": f"bronze.labels changed (snapshot {labels_before} -> {current(env, 'bronze.labels')})",
        "gold.training_set": "upstream silver.labels is built in this run",
    }
    result = env.lake.run(plan=plan)
    assert result.ok, result.failure_message()
    assert _statuses(result) == {
        "silver.events": "up_to_date",
        "gold.user_features": "up_to_date",
        "silver.labels": "ok",
        "gold.training_set": "ok",
    }
    assert {m: snapshot_count(env, m) for m in events_side} == events_side
    # the rebuilt gold model recorded the unchanged features snapshot it read, so the next run is a no-op
    inputs = json.loads(env.lake.table("gold.training_set").current_snapshot().summary["lake.inputs"])
    assert int(inputs["gold.user_features"]) == current(env, "gold.user_features")
    assert set(_statuses(env.lake.run(REPO_SQL)).values()) == {"up_to_date"}


def test_full_refresh_and_config_changes_rebuild(built: LakeEnv, tmp_path: Path) -> None:
    env = built
    full = env.lake.run(REPO_SQL, full_refresh=True)
    assert set(_statuses(full).values()) == {"ok"}
    assert {s.reason for s in env.lake.plan_run(REPO_SQL, full_refresh=True).steps} == {"--full-refresh"}
    # a changed config() (a new check) rebuilds that model and what reads it, nothing else
    project = tmp_path / "sql"
    import shutil

    shutil.copytree(REPO_SQL, project)
    path = project / "silver" / "labels.sql"
    path.write_text(path.read_text().replace("checks=[{", "checks=[{'row_count': {'min': 1}}, {"))
    plan = env.lake.plan_run(project)
    assert {s.model: s.reason for s in plan.steps if not s.up_to_date} == {
        "silver.labels": "its config() changed",
        "gold.training_set": "upstream silver.labels is built in this run",
    }
    # and a changed SQL text likewise
    path.write_text(path.read_text().replace("WHERE user_id", "WHERE label >= 0 AND user_id"))
    assert env.lake.plan_run(project).steps[2].reason == "its SQL changed"


def _small(env: LakeEnv, tmp_path: Path, start: int = 0, model: str = "SELECT * FROM bronze.events") -> Path:
    from conftest import events, write_jsonl

    rows = write_jsonl(tmp_path / f"e{start}.jsonl", events(300, start=start))
    env.lake.ingest("bronze.events", str(rows), create=True)
    return write_project(tmp_path, {"silver.all": model})


def test_compaction_keeps_a_model_up_to_date_other_writes_do_not(local_lake: LakeEnv, tmp_path: Path) -> None:
    env = local_lake
    model = "{{ config(materialized='incremental', watermark='id') }} SELECT * FROM bronze.events"
    project = _small(env, tmp_path, model=model)
    assert env.lake.run(project).ok
    _small(env, tmp_path, start=300, model=model)
    assert env.lake.run(project).models[0].strategy == "watermark"  # a second file, for compaction
    env.lake.compact("silver.all", min_input_files=2)
    assert env.lake.table("silver.all").current_snapshot().summary.operation.value == "replace"
    assert env.lake.plan_run(project).steps[0].up_to_date  # same rows, reorganised files
    # a write that is not a run of the model: it must be rebuilt to be what its SQL says
    env.lake.delete("silver.all", "id < 10")
    step = env.lake.plan_run(project).steps[0]
    assert (step.up_to_date, step.reason) == (False, "its table was not last written by lake run")
    assert env.lake.run(project, full_refresh=True).ok
    assert env.lake.read("silver.all").num_rows == 600


def test_an_input_schema_change_rebuilds(local_lake: LakeEnv, tmp_path: Path) -> None:
    """A rename makes no snapshot, yet `SELECT *` returns other column names: the model is rebuilt."""
    env = local_lake
    project = _small(env, tmp_path)
    assert env.lake.run(project).ok
    env.lake.rename_column("bronze.events", "amount", "value")
    step = env.lake.plan_run(project).steps[0]
    assert (step.up_to_date, step.reason) == (False, "the schema of bronze.events changed")
