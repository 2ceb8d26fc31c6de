"""`lake run --threads`: independent models build side by side on real catalogs (SQLite, local and moto
S3), give the same tables as one at a time, report in plan order, and a failure stops only its own
downstream models."""

from __future__ import annotations

import json
import time
from pathlib import Path

from conftest import events, write_jsonl, write_project
from test_concurrency import held, release

from lakehouse.testing import LakeEnv

# two branches from one source, joined at the end: silver.a -> gold.a, silver.b -> gold.b, both -> gold.ab
BRANCHES = {
    "silver.a": "{{ config(checks=[{'unique': 'id'}]) }} SELECT id, amount, country FROM bronze.events",
    "gold.a": "{{ config(partition_by='country') }} SELECT id, amount * 2 AS doubled, country FROM silver.a",
    "silver.b": "SELECT country, count(*) AS n, sum(amount) AS total FROM bronze.events GROUP BY country",
    "gold.b": "SELECT country, n, total / n AS mean FROM silver.b",
    "gold.ab": "SELECT b.country, count(*) AS rows_a, any_value(b.n) AS n "
    "FROM gold.a AS a JOIN gold.b AS b ON a.country = b.country GROUP BY b.country",
}
PLAN_ORDER = ["silver.a", "gold.a", "silver.b", "gold.b", "gold.ab"]


def _tables(env: LakeEnv) -> dict[str, list[dict]]:
    """Every model's rows as pyiceberg (not lake) reads them, sorted."""
    got = {}
    for name in BRANCHES:
        rows = env.lake.table(name).scan().to_arrow().to_pylist()
        got[name] = sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))
    return got


def _load(env: LakeEnv, tmp_path: Path, n: int = 400, start: int = 0) -> None:
    rows = events(n, start=start)
    env.lake.ingest("bronze.events", str(write_jsonl(tmp_path / f"e{start}.jsonl", rows)), create=True)


def _rows_in(env: LakeEnv, model: str) -> int:
    """The bronze rows a model of the two-branch project has seen, as published on main."""
    got = env.lake.read(model)
    return got.num_rows if model == "silver.a" else sum(got["n"].to_pylist())


def test_threads_build_the_same_tables_as_one_thread(any_lake: LakeEnv, tmp_path: Path) -> None:
    env = any_lake
    _load(env, tmp_path)
    project = write_project(tmp_path, BRANCHES)
    one = env.lake.run(project, threads=1)
    assert one.ok, one.failure_message()
    serial = _tables(env)
    many = env.lake.run(project, threads=4, full_refresh=True)
    assert many.ok, many.failure_message()
    assert [m.model for m in many.models] == PLAN_ORDER  # plan order, not completion order
    assert _tables(env) == serial
    # every model read the snapshot its upstream published in this very run, and says so
    published = {m.model: m.snapshot_id for m in many.models}
    for m in many.models:
        table = env.lake.table(m.model)
        assert table.metadata.current_snapshot_id == m.snapshot_id
        recorded = json.loads(table.current_snapshot().summary["lake.inputs"])
        for name, sid in recorded.items():
            if name in published:
                assert int(sid) == published[name], (m.model, name)
        assert not [r for r in table.metadata.refs if r != "main"]  # every audit branch removed


def test_failure_in_one_branch_leaves_the_other_published(any_lake: LakeEnv, tmp_path: Path, run_cli) -> None:
    """As dbt: a failing model skips its downstream models only; the independent branch publishes."""
    env = any_lake
    _load(env, tmp_path)
    failing = {**BRANCHES, "silver.a": "{{ config(checks=[{'row_count': {'max': 1}}]) }} " + BRANCHES["silver.a"].split("}} ", 1)[1]}  # fmt: skip
    project = write_project(tmp_path, failing)

    result = run_cli(env, "run", "--project", str(project), "--threads", "3", "--json")

    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    statuses = [(m["model"], m["status"]) for m in doc["models"]]
    assert statuses == [
        ("silver.a", "failed"),
        ("gold.a", "skipped"),
        ("silver.b", "ok"),
        ("gold.b", "ok"),
        ("gold.ab", "skipped"),
    ]
    assert "row_count" in result.stderr and "skipped downstream: gold.a, gold.ab" in result.stderr
    tables = set(env.lake.tables())
    assert {"gold.a", "gold.ab"}.isdisjoint(tables)  # never created
    assert env.lake.read("silver.a").num_rows == 0  # created empty, the audited rows never published
    got = env.lake.table("gold.b").scan().to_arrow()
    assert sorted(got["country"].to_pylist()) == ["DE", "FR", "JP", "US"]


def test_independent_model_publishes_while_another_is_held(local_lake: LakeEnv, tmp_path: Path) -> None:
    """Real concurrency: a `lake run --threads 2` process held inside one model's write still builds
    and publishes the independent one (with one thread it would wait)."""
    env = local_lake
    _load(env, tmp_path)
    project = write_project(tmp_path, {k: BRANCHES[k] for k in ("silver.a", "silver.b")})
    env.lake.run(project, select="silver.a")  # both tables exist, so each model passes `before-write`
    env.lake.run(project, select="silver.b")
    _load(env, tmp_path, 500, start=10_000)
    hooks = tmp_path / "hooks"
    proc = held(env, hooks, "before-write", "run", "--project", str(project), "--threads", "2")
    try:
        deadline = time.monotonic() + 60
        published: list[str] = []
        while not published and time.monotonic() < deadline:
            published = [m for m in ("silver.a", "silver.b") if _rows_in(env, m) == 900]
            time.sleep(0.05)
        assert len(published) == 1, "the other model did not publish while one was held"
    finally:
        code, err = release(proc, hooks, "before-write")
    assert code == 0, err
    assert {m: _rows_in(env, m) for m in ("silver.a", "silver.b")} == {"silver.a": 900, "silver.b": 900}


def test_threads_setting_is_checked_and_used(tmp_path: Path) -> None:
    import os

    from lakehouse.core.settings import Settings
    from lakehouse.errors import ConfigError
    from lakehouse.testing import local_properties, make_lake_env

    lake = make_lake_env(tmp_path, {**local_properties(tmp_path), "lake.run.threads": "3"}).lake
    assert (lake.run_threads(), lake.run_threads(5)) == (3, 5)  # --threads wins over the profile
    default = make_lake_env(tmp_path / "d", local_properties(tmp_path / "d")).lake
    assert default.run_threads() == os.cpu_count()

    assert Settings.from_properties({"lake.run.threads": "3"}, "profile 'x'").run_threads == 3
    assert Settings.from_properties({}, "profile 'x'").run_threads is None
    try:
        Settings.from_properties({"lake.run.threads": "0"}, "profile 'x'")
    except ConfigError as exc:
        assert "lake.run.threads must be a whole number of models from 1 to 256" in str(exc)
    else:
        raise AssertionError("lake.run.threads=0 was accepted")
