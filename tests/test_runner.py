"""lake run end to end on real lakes: write-audit-publish, provenance, incremental == full refresh."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from conftest import snapshot_count, write_project

from lakehouse.dev import datagen
from lakehouse.elt.provenance import leaves

REPO_SQL = Path(__file__).resolve().parent.parent / "sql"
END = datetime.now(UTC).replace(microsecond=0)


def load_bronze(env, feed: pa.Table, labels: pa.Table | None = None, tag: str = "0") -> None:
    src = datagen.write_jsonl(feed, env.root / "feed" / f"events-{tag}.jsonl")
    env.lake.ingest("bronze.events", str(src), create=True)
    if labels is not None:
        lsrc = datagen.write_jsonl(labels, env.root / "feed" / f"labels-{tag}.jsonl")
        env.lake.ingest("bronze.labels", str(lsrc), create=True)


def sorted_rows(table: pa.Table, keys: list[str]) -> pa.Table:
    return table.sort_by([(k, "ascending") for k in keys]).combine_chunks()


def current(env, name: str) -> int | None:
    return env.lake.table(name).metadata.current_snapshot_id


@pytest.fixture
def built(local_lake):
    """The example project built once from a small feed (the demo test covers moto S3)."""
    feed = datagen.events(3000, days=10, end=END, seed=3)
    load_bronze(local_lake, feed, datagen.labels(feed, 300))
    result = local_lake.lake.run(REPO_SQL)
    assert result.ok, result.failure_message()
    return local_lake


def test_broken_input_leaves_silver_and_gold_unchanged(built, run_cli):
    env = built
    models = ["silver.events", "gold.user_features", "gold.training_set"]
    before = {m: current(env, m) for m in models}
    counts = {m: snapshot_count(env, m) for m in models}
    labels_before = current(env, "silver.labels")
    # the same event ids again with different content: an upstream bug, not a re-delivery
    dupes = datagen.events(50, days=1, end=END + timedelta(hours=1), seed=9)
    dupes = dupes.set_column(3, "event_type", pa.array(["purchase"] * dupes.num_rows))
    load_bronze(
        env,
        pa.concat_tables([dupes, dupes.set_column(4, "amount", pc.add(dupes["amount"], 1.0))]),
        tag="dupes",
    )

    result = run_cli(env, "run", "--project", str(REPO_SQL))

    assert result.exit_code == 1
    assert "unique(event_id)" in result.stderr
    assert "offending" in result.stderr
    assert "skipped downstream: gold.user_features, gold.training_set" in result.stderr
    for m in models:
        assert current(env, m) == before[m], m
    # the audited snapshot was staged (one more snapshot in silver), never published; gold untouched
    assert snapshot_count(env, "gold.user_features") == counts["gold.user_features"]
    assert not [r for r in env.lake.table("silver.events").metadata.refs if r != "main"]
    # an independent model is still planned; its input did not change, so it is up to date
    assert re.search(r"OK   silver\.labels \.+ \[overwrite, up to date", result.stderr)
    assert current(env, "silver.labels") == labels_before


def _late_purchase(env) -> tuple[dict, int]:
    """A purchase of 1000 older than every event in silver, by a user with a label after it."""
    oldest = env.lake.query("SELECT min(ts) AS t FROM silver.events").column("t")[0].as_py()
    user = env.lake.query("SELECT user_id FROM silver.labels ORDER BY label_ts DESC, user_id LIMIT 1")
    uid = user.column("user_id")[0].as_py()
    late = {
        "event_id": "late-1", "user_id": uid, "ts": (oldest - timedelta(days=2)).isoformat(),
        "event_type": "purchase", "amount": 1000.0, "country": "us", "device": "ios",
    }  # fmt: skip
    return late, uid


def _late_event_outcome(env, uid: int) -> tuple[bool, bool, float]:
    """(in silver, in gold's feature history, the user's summed total_spend in the training set)."""
    in_silver = env.lake.query("SELECT count(*) AS n FROM silver.events WHERE event_id = 'late-1'")
    in_gold = env.lake.query(
        f"SELECT count(*) AS n FROM gold.user_features WHERE user_id = {uid} AND total_spend >= 1000"
    )
    spend = env.lake.query(f"SELECT sum(total_spend) AS s FROM gold.training_set WHERE user_id = {uid}")
    return (
        bool(in_silver.column("n")[0].as_py()),
        bool(in_gold.column("n")[0].as_py()),
        spend.column("s")[0].as_py(),
    )


@pytest.mark.parametrize("pattern", ["snapshot", "watermark"])
def test_a_late_event_reaches_silver_gold_and_the_training_set(built, pattern):
    """The example's silver.events reads what bronze gained since its last build, so an event older
    than everything in silver still lands, and flows to the features and the next training set. The
    event-time watermark dbt projects write (`ts >= max(ts) of {{ this }}`) silently loses it."""
    env = built
    project = REPO_SQL
    if pattern == "watermark":
        project = env.root / "watermark-project"
        shutil.copytree(REPO_SQL, project)
        model = project / "silver" / "events.sql"
        text = model.read_text().replace("incremental_strategy='snapshot'", "incremental_strategy='merge'")
        model.write_text(
            text
            + "{% if is_incremental() %} AND CAST(ts AS TIMESTAMPTZ) >= (SELECT max(ts) FROM {{ this }}) "
            "{% endif %}\n"
        )
        assert env.lake.run(project, full_refresh=True).ok  # silver built by this SQL
    late, uid = _late_purchase(env)
    _, _, spend_before = _late_event_outcome(env, uid)
    src = datagen.write_jsonl(pa.Table.from_pylist([late]), env.root / "feed" / "late.jsonl")
    env.lake.ingest("bronze.events", str(src))
    result = env.lake.run(project)
    assert result.ok, result.failure_message()
    in_silver, in_gold, spend_after = _late_event_outcome(env, uid)
    if pattern == "snapshot":
        silver = next(m for m in result.models if m.model == "silver.events")
        assert silver.strategy == "snapshot" and silver.increment is not None
        assert [(r.table, r.files, r.rows) for r in silver.increment.changed] == [("bronze.events", 1, 1)]
        assert in_silver and in_gold and spend_after > spend_before + 999
    else:  # the loss: nowhere downstream, and the run said nothing
        assert not in_silver and not in_gold and spend_after == pytest.approx(spend_before)


def test_provenance_reaches_bronze_snapshots(built, run_cli):
    env = built
    bronze = {t: current(env, t) for t in ("bronze.events", "bronze.labels")}
    node = env.lake.provenance("gold.training_set")
    assert {(n["table"], n["snapshot_id"]) for n in leaves(node)} == set(bronze.items())
    text = run_cli(env, "provenance", "gold.training_set")
    assert text.exit_code == 0
    for table, sid in bronze.items():
        assert f"{table} @ {sid}" in text.stdout
    summary = env.lake.table("gold.training_set").current_snapshot().summary
    assert summary["lake.sql-hash"].startswith("sha256:")
    assert set(json.loads(summary["lake.inputs"])) == {"gold.user_features", "silver.labels"}


APPEND_MODEL = """{{ config(materialized='incremental', watermark='ts', partition_by='day(ts)') }}
SELECT DISTINCT event_id, CAST(user_id AS BIGINT) AS user_id, CAST(ts AS TIMESTAMPTZ) AS ts, amount
FROM bronze.events WHERE user_id IS NOT NULL AND ts IS NOT NULL AND event_id NOT IN ('none')
"""


def test_incremental_equals_full_refresh(local_lake):
    env = local_lake
    project = write_project(env.root, {"silver.appended": APPEND_MODEL})
    shutil.copytree(REPO_SQL / "silver", project / "silver", dirs_exist_ok=True)
    (project / "silver" / "labels.sql").unlink()
    batches = [
        datagen.events(800, days=2, end=END - timedelta(days=2 * (3 - i)), seed=i, start_id=i * 1000)
        for i in range(4)
    ]
    # re-delivery across batches: the last events of batch 0 arrive again in batch 1
    batches[1] = pa.concat_tables([batches[0].slice(batches[0].num_rows - 20), batches[1]])
    for i, batch in enumerate(batches):
        load_bronze(env, batch, tag=str(i))
        result = env.lake.run(project)
        assert result.ok, result.failure_message()
        strategies = {m.model: m.strategy for m in result.models}
        if i:
            assert strategies == {"silver.appended": "watermark", "silver.events": "snapshot"}
    incremental = {m: env.lake.read(m) for m in ("silver.events", "silver.appended")}
    snaps = snapshot_count(env, "silver.events")
    assert env.lake.run(project, full_refresh=True).ok
    assert snapshot_count(env, "silver.events") == snaps + 1
    for model, rows in incremental.items():
        full = env.lake.read(model)
        assert full.num_rows > 2000
        assert sorted_rows(rows, ["event_id"]).equals(sorted_rows(full, ["event_id"])), model


def test_contract_mismatch_fails_before_writing(local_lake):
    env = local_lake
    load_bronze(env, datagen.events(200, end=END, seed=1))
    model = """{{ config(columns={'event_id': 'string not null', 'amount': 'long', 'extra': 'string'}) }}
SELECT event_id, amount, user_id FROM bronze.events"""
    project = write_project(
        env.root, {"silver.bad": model, "silver.ok": "SELECT count(*) AS n FROM bronze.events"}
    )
    result = env.lake.run(project)
    bad = {m.model: m for m in result.models}["silver.bad"]
    assert bad.status == "error"
    assert "amount: declared long, the model returns double" in bad.error
    assert "extra: declared string but the model does not return it" in bad.error
    assert "user_id: returned by the model" in bad.error
    assert "silver.bad" not in env.lake.tables("silver")
    assert {m.model: m for m in result.models}["silver.ok"].status == "ok"


def test_not_null_contract_is_audited_not_published(local_lake):
    env = local_lake
    load_bronze(env, datagen.events(500, end=END, seed=2, null_rate=0.2))
    model = "{{ config(columns={'user_id': 'long not null'}) }} SELECT user_id FROM bronze.events"
    project = write_project(env.root, {"silver.users": model})
    result = env.lake.run(project)
    assert not result.ok
    assert "not_null(user_id) failed" in result.failure_message()
    assert (
        env.lake.table("silver.users").metadata.current_snapshot().summary["lake.operation"] == "run-create"
    )
    assert env.lake.read("silver.users").num_rows == 0


def test_dry_run_plans_without_writing(local_lake, run_cli):
    env = local_lake
    load_bronze(env, datagen.events(100, end=END), datagen.labels(datagen.events(100, end=END), 10))
    out = run_cli(env, "run", "--project", str(REPO_SQL), "--dry-run", "--json")
    assert out.exit_code == 0, out.output
    plan = json.loads(out.stdout)
    assert [m["model"] for m in plan["models"]] == [
        "silver.events",
        "gold.user_features",
        "silver.labels",
        "gold.training_set",
    ]
    assert set(plan["inputs"]) == {"bronze.events", "bronze.labels"}
    assert "ASOF LEFT JOIN gold.user_features" in plan["models"][-1]["sql"]
    assert not [t for t in env.lake.tables() if not t.startswith("bronze.")]


def test_as_of_rebuilds_from_older_inputs(local_lake):
    env = local_lake
    load_bronze(env, datagen.events(300, end=END, seed=1), tag="a")
    first = current(env, "bronze.events")
    project = write_project(env.root, {"silver.n": "SELECT count(*) AS n FROM bronze.events"})
    load_bronze(env, datagen.events(300, end=END, seed=2, start_id=10_000), tag="b")
    assert env.lake.run(project).ok
    now_n = env.lake.read("silver.n")["n"][0].as_py()
    assert env.lake.run(project, as_of=f"bronze.events={first}").ok
    assert env.lake.read("silver.n")["n"][0].as_py() < now_n
    node = env.lake.provenance("silver.n")
    assert node["inputs"][0]["snapshot_id"] == first


def test_incremental_merge_reads_old_files_by_field_id_not_folder_names(local_lake, tmp_path):
    """The merge re-reads the files holding a key: by field id (a column renamed with pyiceberg keeps its
    values) and never through Hive folder names (the string 'NULL' in `country=NULL/` stays a string)."""
    from conftest import write_jsonl

    env = local_lake
    rows = [
        {"k": 1, "country": "NULL", "v": 1},
        {"k": 2, "country": None, "v": 2},
        {"k": 3, "country": "US", "v": 3},
    ]
    env.lake.ingest("bronze.src", str(write_jsonl(tmp_path / "a.jsonl", rows)), create=True)
    model = (
        "{{ config(materialized='incremental', incremental_strategy='merge', unique_key='k', "
        "partition_by='country') }}\n"
        "SELECT k, country, v FROM bronze.src"
    )
    project = write_project(env.root, {"silver.m": model}, sources="sources: {bronze.src: {}}")
    assert env.lake.run(project).ok
    with env.lake.table("silver.m").update_schema() as update:
        update.rename_column("v", "value")
    model2 = model.replace("SELECT k, country, v FROM", "SELECT k, country, v AS value FROM")
    project = write_project(env.root, {"silver.m": model2}, sources="sources: {bronze.src: {}}")
    more = [{"k": 4, "country": "NULL", "v": 4}, {"k": 3, "country": "US", "v": 30}]
    env.lake.ingest("bronze.src", str(write_jsonl(tmp_path / "b.jsonl", more)), mode="overwrite")
    assert env.lake.run(project).ok
    got = env.lake.table("silver.m").scan().to_arrow().sort_by("k").to_pylist()
    assert got == [
        {"k": 1, "country": "NULL", "value": 1},
        {"k": 2, "country": None, "value": 2},
        {"k": 3, "country": "US", "value": 30},
        {"k": 4, "country": "NULL", "value": 4},
    ]


def test_run_applies_exactly_the_plan_it_is_given(local_lake):
    """A printed plan can be applied as shown: inputs stay at the snapshots pinned when it was made,
    and building it changes nothing in it."""
    env = local_lake
    load_bronze(env, datagen.events(120, end=END, seed=4), tag="a")
    planned_rows = env.lake.read("bronze.events").num_rows
    project = write_project(env.root, {"silver.n": "SELECT count(*) AS n FROM bronze.events"})
    plan = env.lake.plan_run(project)
    before = plan.to_dict()
    load_bronze(env, datagen.events(120, end=END, seed=5, start_id=10_000), tag="b")  # after planning
    result = env.lake.run(plan=plan)
    assert result.ok, result.failure_message()
    assert result.run_id == plan.run_id
    assert plan.to_dict() == before
    assert env.lake.read("silver.n")["n"][0].as_py() == planned_rows
    assert result.models[0].inputs == {"bronze.events": plan.inputs["bronze.events"]}


def _schema_change_project(env, on_schema_change: str | None, with_country: bool, incremental: bool):
    cfg = ", ".join(
        [f"on_schema_change='{on_schema_change}'"] * bool(on_schema_change)
        + ["materialized='incremental', unique_key='event_id'"] * incremental
    )
    extra = ", country" if with_country else ""
    sql = f"{{{{ config({cfg}) }}}} SELECT event_id, amount{extra} FROM bronze.events"
    return write_project(env.root, {"silver.evolving": sql})


@pytest.mark.parametrize("incremental", [False, True])
def test_schema_change_append_new_columns_evolves_the_table(local_lake, incremental):
    """config(on_schema_change='append_new_columns'): a model whose output gains a column adds it to
    its table (one metadata commit) and writes, instead of failing; old rows read null in it."""
    env = local_lake
    load_bronze(env, datagen.events(200, end=END, seed=3))
    assert env.lake.run(_schema_change_project(env, None, False, incremental)).ok
    rows_before = env.lake.read("silver.evolving").num_rows
    project = _schema_change_project(env, "append_new_columns", True, incremental)
    result = env.lake.run(project)
    assert result.ok, result.failure_message()
    columns = [c["name"] for c in env.lake.describe("silver.evolving")["schema"]]
    assert columns == ["event_id", "amount", "country"]
    got = env.lake.query("SELECT count(*) AS n, count(country) AS c FROM silver.evolving")
    assert got["n"][0].as_py() == rows_before
    assert (
        got["c"][0].as_py() == env.lake.query("SELECT count(country) AS c FROM bronze.events")["c"][0].as_py()
    )


def test_schema_change_fails_by_default_and_names_the_option(local_lake):
    env = local_lake
    load_bronze(env, datagen.events(100, end=END, seed=4))
    assert env.lake.run(_schema_change_project(env, None, False, False)).ok
    before = snapshot_count(env, "silver.evolving")
    result = env.lake.run(_schema_change_project(env, "fail", True, False))
    assert not result.ok
    assert "new column(s) country not in the table" in result.failure_message()
    assert "on_schema_change='append_new_columns'" in result.failure_message()
    assert snapshot_count(env, "silver.evolving") == before
    assert [c["name"] for c in env.lake.describe("silver.evolving")["schema"]] == ["event_id", "amount"]


def test_schema_change_bad_value_is_a_model_error(local_lake):
    from lakehouse.elt.models import ModelError

    env = local_lake
    with pytest.raises(ModelError, match="on_schema_change='sync_all'"):
        env.lake.run(_schema_change_project(env, "sync_all", False, False))


def test_merge_after_a_column_rename_writes_by_field_id(local_lake):
    """`lake alter` renames a column of a model's table; the model, updated to the new name, merges
    into it: old and new rows read back under the new name."""
    env = local_lake
    load_bronze(env, datagen.events(150, end=END, seed=5))
    model = "{{{{ config(materialized='incremental', unique_key='event_id') }}}} SELECT event_id, amount AS {} FROM bronze.events"
    assert env.lake.run(write_project(env.root, {"silver.m": model.format("amount")})).ok
    before = sorted(env.lake.read("silver.m")["amount"].to_pylist())
    env.lake.rename_column("silver.m", "amount", "value")
    result = env.lake.run(write_project(env.root, {"silver.m": model.format("value")}))
    assert result.ok, result.failure_message()
    got = env.lake.table("silver.m").scan().to_arrow()
    assert got.column_names == ["event_id", "value"]
    assert sorted(got["value"].to_pylist()) == before  # every row keeps its value under the new name


def test_run_reads_a_renamed_input_in_its_current_schema(local_lake):
    """Regression: a run pins its inputs by snapshot id, and used to read them in the schema that
    snapshot was written with, so a model naming a column renamed by `lake alter` failed with
    'column not found' until the next write to the input."""
    env = local_lake
    load_bronze(env, datagen.events(50, end=END, seed=6))
    env.lake.rename_column("bronze.events", "amount", "value")
    env.lake.add_column("bronze.events", "note", "string")
    result = env.lake.run(
        write_project(env.root, {"silver.s": "SELECT event_id, value, note FROM bronze.events"})
    )
    assert result.ok, result.failure_message()
    got = env.lake.read("silver.s")
    assert got.column_names == ["event_id", "value", "note"]
    assert sorted(got["value"].to_pylist()) == sorted(env.lake.read("bronze.events")["value"].to_pylist())
