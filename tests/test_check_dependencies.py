"""Checks that read other tables order the run: a relationships (or custom SQL) check audits against
the snapshot of its target that this run publishes or pins, never an older one (regression: a model
was published with orphan rows while `lake run` exited 0, because its check read the target's old
snapshot and the two models were built in the wrong order)."""

from __future__ import annotations

from pathlib import Path

from conftest import write_jsonl, write_project

from lakehouse.elt.project import Project
from lakehouse.testing import LakeEnv

ORDERS = """{{ config(checks=[{'relationships': {'column': 'user_id', 'to': 'silver.users', 'field': 'id'}}]) }}
SELECT order_id, user_id FROM bronze.orders"""
USERS = "SELECT id FROM bronze.users WHERE active"
SOURCES = "sources: {bronze.orders: {}, bronze.users: {}}"


def test_a_relationships_target_is_built_first_and_read_at_this_runs_snapshot(
    local_lake: LakeEnv, tmp_path: Path, run_cli
) -> None:
    env = local_lake
    users = [{"id": i, "active": True} for i in range(1, 5)]
    env.lake.ingest("bronze.users", str(write_jsonl(tmp_path / "u.jsonl", users)), create=True)
    orders = [{"order_id": 10 + i, "user_id": i} for i in range(1, 5)]
    env.lake.ingest("bronze.orders", str(write_jsonl(tmp_path / "o.jsonl", orders)), create=True)
    project = write_project(env.root, {"silver.orders": ORDERS, "silver.users": USERS}, SOURCES)
    assert Project.load(project).order() == ["silver.users", "silver.orders"]  # not by name
    assert env.lake.run(project).ok
    published = env.lake.table("silver.orders").metadata.current_snapshot_id

    # users 1 and 2 leave; a new order of user 2 arrives: silver.orders would hold orphans
    gone = [{"id": i, "active": i > 2} for i in range(1, 5)]
    env.lake.ingest("bronze.users", str(write_jsonl(tmp_path / "u2.jsonl", gone)), mode="overwrite")
    env.lake.ingest(
        "bronze.orders", str(write_jsonl(tmp_path / "o2.jsonl", [{"order_id": 99, "user_id": 2}]))
    )
    result = run_cli(env, "run", "--project", str(project))

    assert result.exit_code == 1, result.output
    assert "relationships(user_id -> silver.users.id)" in result.stderr
    assert env.lake.table("silver.orders").metadata.current_snapshot_id == published  # nothing published
    assert {r["id"] for r in env.lake.table("silver.users").scan().to_arrow().to_pylist()} == {3, 4}


def test_tables_a_check_reads_are_pinned_and_named_when_missing(local_lake: LakeEnv, tmp_path: Path) -> None:
    env = local_lake
    env.lake.ingest(
        "bronze.users", str(write_jsonl(tmp_path / "u.jsonl", [{"id": 1, "active": True}])), create=True
    )
    custom = """{{ config(checks=[{'sql': 'SELECT * FROM {{ this }} WHERE id NOT IN (SELECT id FROM bronze.users)', 'name': 'known'}]) }}
SELECT 1 AS id"""
    project = write_project(env.root, {"silver.one": custom}, "sources: {bronze.users: {}}")
    plan = env.lake.plan_run(project)
    assert plan.inputs == {"bronze.users": env.lake.table("bronze.users").metadata.current_snapshot_id}
    assert plan.steps[0].check_reads == ("bronze.users",) and plan.steps[0].reads == ()
    assert env.lake.run(project, plan=plan).ok

    broken = ORDERS.replace("silver.users", "silver.userz")
    project = write_project(env.root, {"silver.orders": broken, "silver.users": USERS}, SOURCES)
    try:
        Project.load(project)
    except Exception as exc:
        assert "a check of silver.orders reads silver.userz" in str(
            exc
        ) and "did you mean silver.users" in str(exc)
    else:
        raise AssertionError("a relationships check to a table that does not exist must fail the load")


def test_a_check_on_a_model_built_from_this_one_does_not_make_a_cycle(
    local_lake: LakeEnv, tmp_path: Path
) -> None:
    """dbt's jaffle_shop: orders has a relationships test to customers, which is built from orders.
    Ordering on it would be a cycle; the check reads customers as the run found it."""
    env = local_lake
    env.lake.ingest(
        "bronze.users", str(write_jsonl(tmp_path / "u.jsonl", [{"id": 1, "active": True}])), create=True
    )
    orders = "{{ config(checks=[{'relationships': {'column': 'user_id', 'to': 'silver.customers', 'field': 'id'}}]) }}\nSELECT id AS user_id FROM bronze.users"
    customers = "SELECT DISTINCT user_id AS id FROM silver.orders"
    project = write_project(
        env.root, {"silver.orders": orders, "silver.customers": customers}, "sources: {bronze.users: {}}"
    )
    assert Project.load(project).order() == ["silver.orders", "silver.customers"]
    # orders' check runs in the audit of customers, once both are built (as dbt runs tests after both)
    result = env.lake.run(project)
    assert result.ok, result.failure_message()
    ran = {m.model: [(c.table, c.check) for c in m.checks] for m in result.models}
    assert ran["silver.orders"] == []
    assert ran["silver.customers"] == [("silver.orders", "relationships(user_id -> silver.customers.id)")]
    assert env.lake.run(project, full_refresh=True).ok
