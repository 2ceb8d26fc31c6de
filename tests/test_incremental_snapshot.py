"""`incremental_strategy='snapshot'`: an incremental run reads exactly what its inputs changed since
the snapshots its last build read, so it equals a full refresh whatever happened upstream, late rows
included; judged by row sets read with pyiceberg's scan, not with lake's reader."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import write_jsonl, write_project

from lakehouse.testing import LakeEnv

T0 = datetime(2026, 1, 1, tzinfo=UTC)

# keyed and row-wise, with DISTINCT collapsing re-deliveries (as the example's silver.events)
KEYED = """{{ config(materialized='incremental', unique_key='id') }}
SELECT DISTINCT id, ts, upper(kind) AS kind, v * 2 AS v2 FROM bronze.ev WHERE v >= 0"""
# no key: appended; joins a dimension that never changes
APPENDED = """{{ config(materialized='incremental') }}
SELECT e.id, e.ts, e.v, d.label FROM bronze.ev AS e JOIN bronze.dim AS d ON e.kind = d.kind"""
# an aggregate cannot be built from new rows alone: every run rebuilds it, and says why
AGGREGATE = """{{ config(materialized='incremental', unique_key='kind') }}
SELECT kind, count(*) AS n, sum(v) AS v FROM bronze.ev GROUP BY kind"""
# the watermark pattern dbt users write (`incremental_strategy='merge'`: the SQL's own filter)
WATERMARKED = """{{ config(materialized='incremental', incremental_strategy='merge', unique_key='id') }}
SELECT DISTINCT id, ts, upper(kind) AS kind, v * 2 AS v2 FROM bronze.ev WHERE v >= 0
{% if is_incremental() %} AND ts >= (SELECT max(ts) FROM {{ this }}) {% endif %}"""
# incremental on a model that this run merges into first: its range is known only once that is built
CHAINED = """{{ config(materialized='incremental', unique_key='id') }}
SELECT id, kind, v2 + 1 AS v3 FROM silver.keyed WHERE v2 > 10"""
MODELS = {
    "silver.keyed": KEYED,
    "silver.appended": APPENDED,
    "silver.agg": AGGREGATE,
    "gold.chained": CHAINED,
}
SOURCES = "sources: {bronze.ev: {}, bronze.dim: {}}"


def rows(env: LakeEnv, name: str) -> Counter[tuple]:
    """The table's rows as a multiset, read by pyiceberg (not lake)."""
    table = env.lake.table(name).scan().to_arrow()
    return Counter(tuple(sorted(r.items())) for r in table.to_pylist())


def full_refresh(env: LakeEnv, sql: str) -> Counter[tuple]:
    """What a full refresh of a model builds: its SQL over the current inputs."""
    body = sql.split("}}\n", 1)[1].split("{% if")[0]
    return Counter(tuple(sorted(r.items())) for r in env.lake.query(body).to_pylist())


def events(rng: random.Random, ids: range, days_ago: tuple[int, int]) -> list[dict]:
    return [
        {
            "id": i,
            "ts": (T0 - timedelta(days=rng.randint(*days_ago), seconds=rng.randint(0, 86399))).isoformat(),
            "kind": rng.choice(["a", "b", "c"]),
            "v": rng.randint(-2, 50),
        }
        for i in ids
    ]


def summary(env: LakeEnv, name: str) -> dict[str, str]:
    snapshot = env.lake.table(name).current_snapshot()
    assert snapshot is not None and snapshot.summary is not None
    return dict(snapshot.summary.additional_properties)


@pytest.fixture
def lake(local_lake: LakeEnv, tmp_path: Path) -> LakeEnv:
    dim = [{"kind": "a", "label": "alpha"}, {"kind": "b", "label": "beta"}, {"kind": "c", "label": "gamma"}]
    local_lake.lake.ingest("bronze.dim", str(write_jsonl(tmp_path / "dim.jsonl", dim)), create=True)
    rng = random.Random(0)
    first = events(rng, range(0, 40), (5, 30))
    local_lake.lake.ingest("bronze.ev", str(write_jsonl(tmp_path / "ev0.jsonl", first)), create=True)
    return local_lake


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_equals_full_refresh_over_random_histories(lake: LakeEnv, tmp_path: Path, seed: int):
    """Appends, late appends, re-deliveries, overwrites, deletes, compactions and rollbacks of the
    input, in a seeded random order: after every run each model holds what a full refresh builds."""
    env, rng = lake, random.Random(seed)
    project = write_project(env.root, MODELS, sources=SOURCES)
    assert env.lake.run(project).ok
    next_id, seen, history = 1000, Counter(), []
    for step in range(10):
        op = rng.choice(["append", "late", "redeliver", "overwrite", "delete", "compact", "rollback"])
        path = str(tmp_path / f"s{seed}-{step}.jsonl")
        if op in ("append", "late"):
            new = events(
                rng, range(next_id, next_id + rng.randint(1, 8)), (0, 2) if op == "append" else (40, 90)
            )
            next_id += len(new)
            env.lake.ingest("bronze.ev", str(write_jsonl(Path(path), new)))
        elif op == "redeliver":
            old = env.lake.table("bronze.ev").scan(limit=3).to_arrow().to_pylist()
            for r in old:
                r["ts"] = r["ts"].isoformat()
            env.lake.ingest("bronze.ev", str(write_jsonl(Path(path), old)))
        elif op == "overwrite":
            keep = env.lake.query("SELECT * FROM bronze.ev WHERE id % 3 <> 0").to_pylist()
            for r in keep:
                r["ts"] = r["ts"].isoformat()
            new = keep + events(rng, range(next_id, next_id + 3), (0, 60))
            next_id += 3
            env.lake.ingest("bronze.ev", str(write_jsonl(Path(path), new)), mode="overwrite")
        elif op == "delete":
            env.lake.delete("bronze.ev", f"id % 7 = {rng.randint(0, 6)}")
        elif op == "compact":
            env.lake.compact("bronze.ev", min_input_files=2)
        elif op == "rollback" and history:
            env.lake.rollback("bronze.ev", rng.choice(history))
        history.append(env.lake.table("bronze.ev").metadata.current_snapshot_id)
        result = env.lake.run(project)
        assert result.ok, result.failure_message()
        seen.update(f"{m.model}:{m.strategy}" for m in result.models)
        agg = next(m for m in result.models if m.model == "silver.agg")
        if agg.strategy == "snapshot" and agg.status == "ok":  # only when no row changed (a compaction)
            assert agg.increment is not None and not agg.increment.changed, agg.increment
        for name, sql in MODELS.items():
            assert rows(env, name) == full_refresh(env, sql), f"seed {seed}, step {step} ({op}): {name}"
    # the row-wise models were built incrementally, the aggregate was rebuilt
    assert seen["silver.keyed:snapshot"] and seen["silver.appended:snapshot"], seen
    assert seen["gold.chained:snapshot"], seen
    assert seen["silver.agg:overwrite"], seen
    # and an explicit --full-refresh gives the same rows again
    before = {name: rows(env, name) for name in MODELS}
    assert env.lake.run(project, full_refresh=True).ok
    assert {name: rows(env, name) for name in MODELS} == before


def test_small_append_reads_only_the_new_file_and_records_the_range(lake: LakeEnv, tmp_path: Path, run_cli):
    env = lake
    project = write_project(env.root, MODELS, sources=SOURCES)
    assert env.lake.run(project).ok
    before = env.lake.table("bronze.ev").metadata.current_snapshot_id
    new = events(random.Random(9), range(500, 505), (60, 61))  # late: older than everything built
    env.lake.ingest("bronze.ev", str(write_jsonl(tmp_path / "late.jsonl", new)))
    after = env.lake.table("bronze.ev").metadata.current_snapshot_id
    plan = env.lake.plan_run(project)
    keyed = next(s for s in plan.steps if s.model == "silver.keyed")
    assert keyed.incremental and keyed.increment is not None
    (changed,) = keyed.increment.changed
    assert (changed.table, changed.from_id, changed.to_id, changed.files, changed.rows) == (
        "bronze.ev", before, after, 1, 5,
    )  # fmt: skip
    agg = next(s for s in plan.steps if s.model == "silver.agg")
    assert not agg.incremental and "GROUP BY" in agg.reason
    assert env.lake.run(project, plan=plan).ok
    recorded = json.loads(summary(env, "silver.keyed")["lake.increment"])
    assert recorded["bronze.ev"] == {"from": before, "to": after, "read": "append", "files": 1, "rows": 5,
                                     "bytes": changed.bytes}  # fmt: skip
    appended = json.loads(summary(env, "silver.appended")["lake.increment"])
    assert appended["bronze.dim"]["read"] == "same" and appended["bronze.ev"]["files"] == 1
    assert "GROUP BY" in summary(env, "silver.agg")["lake.rebuild"]
    got = {r["id"] for r in env.lake.table("silver.keyed").scan().to_arrow().to_pylist()}
    assert {r["id"] for r in new if r["v"] >= 0} <= got
    shown = run_cli(env, "provenance", "silver.keyed")
    assert f"incremental: bronze.ev {before} -> {after} (append, 5 rows)" in shown.output
    assert "rebuilt: it reads bronze.ev through GROUP BY" in run_cli(env, "provenance", "silver.agg").output
    # a compaction upstream adds nothing to read: the next run commits no data file
    env.lake.compact("bronze.ev", min_input_files=2)
    files = len(env.lake.table("silver.keyed").inspect.files())
    assert env.lake.run(project).ok
    recorded = json.loads(summary(env, "silver.keyed")["lake.increment"])
    assert recorded["bronze.ev"]["read"] == "append" and recorded["bronze.ev"]["files"] == 0
    assert len(env.lake.table("silver.keyed").inspect.files()) == files


def test_a_late_event_is_lost_by_the_watermark_pattern_and_kept_by_snapshots(lake: LakeEnv, tmp_path: Path):
    env = lake
    project = write_project(env.root, {"silver.keyed": KEYED, "silver.watermarked": WATERMARKED}, SOURCES)
    assert env.lake.run(project).ok
    late = [{"id": 9999, "ts": (T0 - timedelta(days=300)).isoformat(), "kind": "a", "v": 7}]
    env.lake.ingest("bronze.ev", str(write_jsonl(tmp_path / "late.jsonl", late)))
    assert env.lake.run(project).ok
    assert 9999 in {r["id"] for r in env.lake.table("silver.keyed").scan().to_arrow().to_pylist()}
    assert 9999 not in {r["id"] for r in env.lake.table("silver.watermarked").scan().to_arrow().to_pylist()}


def test_a_change_without_unique_key_rebuilds_and_the_dry_run_says_why(lake: LakeEnv, run_cli):
    env = lake
    project = write_project(env.root, MODELS, sources=SOURCES)
    assert env.lake.run(project).ok
    env.lake.delete("bronze.ev", "id < 5")
    deleted = env.lake.table("bronze.ev").metadata.current_snapshot_id
    built = {name: env.lake.table(name).metadata.current_snapshot_id for name in MODELS}
    out = run_cli(env, "run", "--project", str(project), "--dry-run")
    assert out.exit_code == 0, out.output
    assert "silver.appended: overwrite; why: bronze.ev changed" in out.output
    assert f"had rows deleted in snapshot {deleted}; without a unique_key" in out.output
    assert "silver.keyed: snapshot (incremental)" in out.output
    assert "reads bronze.ev " in out.output and f"-> {deleted}: had rows deleted" in out.output
    planned = json.loads(run_cli(env, "run", "--project", str(project), "--dry-run", "--json").output)
    keyed = next(m for m in planned["models"] if m["model"] == "silver.keyed")
    assert keyed["increment"]["ranges"][0]["read"] == "change" and keyed["increment"]["rebuild"] is None
    assert {name: env.lake.table(name).metadata.current_snapshot_id for name in MODELS} == built
