"""Write-audit-publish: each model becomes one Iceberg snapshot that `main` sees only once audited.

- write: the strategy's data files (`lakehouse.elt.strategies`) are committed as a snapshot on a
  branch `lake-audit-<run id>`, never on `main`;
- audit: the contract's not-null columns and the model's checks run on that snapshot;
- publish: `main` is fast-forwarded to the audited snapshot (failing if `main` moved meanwhile) and the
  branch is removed. A failing check removes the branch: the table stays at its previous snapshot.

The snapshot summary records `lake.inputs` (each input table with the snapshot id it was read at),
`lake.sql-hash`, `lake.config-hash`, `lake.input-schemas`, `lake.run-id` and `lake.model`;
`lake provenance` walks that chain, and the next run skips the model while they all still hold
(`lakehouse.elt.state`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from pyiceberg.table.refs import MAIN_BRANCH
from pyiceberg.table.snapshots import Operation

from lakehouse.core.hooks import checkpoint, committed
from lakehouse.elt.checks import run_checks
from lakehouse.elt.contracts import not_null_checks
from lakehouse.elt.plan import Step
from lakehouse.elt.reads import pinned, pinned_query
from lakehouse.elt.results import ModelResult
from lakehouse.elt.strategies import ModelWrite, write_model
from lakehouse.errors import CommitError
from lakehouse.io.cleanup import remove_write
from lakehouse.io.writer import WrittenFiles, new_write_id
from lakehouse.table.commits import RetryPolicy, commit_with_retry
from lakehouse.table.producers import point_branch, remove_ref, stage_rewrite
from lakehouse.table.snapshots import AUDIT_BRANCH_PREFIX

if TYPE_CHECKING:
    from pyiceberg.table import Table, Transaction

    from lakehouse.core.config import Profile
    from lakehouse.io.engine import Engine
    from lakehouse.io.spark.session import SparkSession


def write_audit_publish(
    profile: Profile,
    engine: Engine,
    load: Callable[[str], Table],
    table: Table,
    step: Step,
    run_id: str,
    snapshot_ids: Mapping[str, int | None],
    schema_ids: Mapping[str, int | None],
    sql: str,
    result: ModelResult,
    spark: SparkSession | None = None,
) -> bool:
    """Write `step` from its rewritten `sql` (reading tables at `snapshot_ids`), or on `spark` from its
    own SQL, audit it on a branch, and publish it if its checks pass (True). `result` gets the snapshot
    ids, checks and rows as they become known, errors or not."""
    name = step.model
    policy = RetryPolicy.of(profile)
    load_this = lambda: load(name)  # noqa: E731
    parent_id = table.metadata.current_snapshot_id
    if parent_id is None and step.target_snapshot_id is None:
        # Iceberg writes to a branch only once `main` has a snapshot: start a new table with an empty one
        table = commit_with_retry(load_this, _stage_empty(run_id, name), policy, f"creating {name}")
        parent_id = table.metadata.current_snapshot_id
        result.previous_snapshot_id = parent_id
    elif step.incremental and parent_id != step.target_snapshot_id:
        raise CommitError(f"{name} changed since the run was planned; run again")
    branch = f"{AUDIT_BRANCH_PREFIX}{run_id}"
    summary = {
        "lake.operation": f"run-{step.strategy}",
        "lake.run-id": run_id,
        "lake.model": name,
        "lake.sql-hash": step.sql_hash,
        "lake.config-hash": step.config_hash,
        "lake.inputs": json.dumps({r: str(snapshot_ids.get(r)) for r in step.reads}, sort_keys=True),
        "lake.input-schemas": json.dumps({r: str(schema_ids.get(r)) for r in step.reads}, sort_keys=True),
        **(step.increment.summary() if step.increment is not None else {}),
    }
    if spark is None:
        staged_id, rows = _stage_on_duckdb(
            profile, engine, load, table, step, parent_id, sql, branch, summary, snapshot_ids
        )
    else:
        staged_id, rows = _stage_on_spark(spark, load, step, parent_id, snapshot_ids, branch, summary, policy)
    result.snapshot_id = staged_id
    # audit: the contract's not-null columns and the model's checks, on the staged snapshot only
    checks = [*not_null_checks(name, step.columns), *step.checks]
    # Every table a check reads is at a pinned snapshot (the staged one is on its audit branch); the
    # reader caches each metadata file and file plan, so the checks do not reload them.
    query = pinned_query(engine, load, pinned({**snapshot_ids, name: staged_id}), step.check_views)
    result.checks = run_checks(query, name, checks, staged_id)
    for owner, check in step.later_checks:  # an upstream model's check that reads this one
        result.checks += run_checks(query, owner, [check], snapshot_ids.get(owner))
    result.rows = rows
    if any(c.blocking for c in result.checks):
        _drop_branch(load_this, branch, policy, name)
        return False
    _publish(load_this, branch, staged_id, parent_id, policy, name)
    committed(f"{name} (snapshot {staged_id})")
    checkpoint("after-publish")
    return True


def _stage_on_duckdb(
    profile: Profile,
    engine: Engine,
    load: Callable[[str], Table],
    table: Table,
    step: Step,
    parent_id: int | None,
    sql: str,
    branch: str,
    summary: dict[str, str],
    snapshot_ids: Mapping[str, int | None],
) -> tuple[int, int]:
    """Write the model's data files with DuckDB and commit them as one snapshot on `branch`."""
    name = step.model
    write_id = new_write_id()
    done = ModelWrite(WrittenFiles())
    try:
        checkpoint("before-write")
        done = write_model(engine, load, table, step, parent_id, sql, write_id, snapshot_ids)
        checkpoint("after-write")
        summary = {**summary, "lake.rows": str(done.rows), "lake.write-id": write_id, **done.summary}
        operation = Operation.OVERWRITE if done.deleted else Operation.APPEND
        write = stage_rewrite(done.deleted, done.written.data_files, summary, operation, branch=branch)

        def stage(tx: Transaction) -> None:
            if tx.table_metadata.current_snapshot_id != parent_id:
                raise CommitError(f"{name} changed while the run was writing it; run again")
            point_branch(tx, branch, parent_id)
            write(tx)

        staged = commit_with_retry(lambda: load(name), stage, RetryPolicy.of(profile), f"staging {name}")
    except BaseException:
        remove_write(profile, table, write_id, done.written.paths)
        raise
    return staged.metadata.refs[branch].snapshot_id, done.rows


def _stage_on_spark(
    spark: SparkSession,
    load: Callable[[str], Table],
    step: Step,
    parent_id: int | None,
    snapshot_ids: Mapping[str, int | None],
    branch: str,
    summary: dict[str, str],
    policy: RetryPolicy,
) -> tuple[int, int]:
    """Point `branch` at `parent_id`, then let Spark commit the model's write onto it (Iceberg's
    write-audit-publish: `main` does not move). A failed write leaves no branch behind."""
    from lakehouse.elt.spark.write import spark_write

    name = step.model
    load_this = lambda: load(name)  # noqa: E731

    def open_branch(tx: Transaction) -> None:
        if tx.table_metadata.current_snapshot_id != parent_id:
            raise CommitError(f"{name} changed since the run was planned; run again")
        point_branch(tx, branch, parent_id)

    commit_with_retry(load_this, open_branch, policy, f"opening the audit branch of {name}")
    try:
        checkpoint("before-write")
        recorded = spark_write(spark, step, branch, parent_id, snapshot_ids, summary)
        checkpoint("after-write")
        staged = load_this()
        ref = staged.metadata.refs.get(branch)
        snapshot = staged.metadata.snapshot_by_id(ref.snapshot_id) if ref is not None else None
        if snapshot is None or snapshot.parent_snapshot_id != parent_id:
            raise CommitError(f"{name}: Spark's write did not land on the audit branch {branch}; run again")
    except BaseException:
        _drop_branch(load_this, branch, policy, name)
        raise
    return snapshot.snapshot_id, int(recorded["lake.rows"])


def _stage_empty(run_id: str, name: str) -> Callable[[Transaction], None]:
    def stage(tx: Transaction) -> None:
        if tx.table_metadata.current_snapshot_id is None:
            with tx.update_snapshot(
                snapshot_properties={
                    "lake.operation": "run-create",
                    "lake.run-id": run_id,
                    "lake.model": name,
                }
            ).fast_append():
                pass

    return stage


def _publish(
    load: Callable[[], Table],
    branch: str,
    staged_id: int,
    parent_id: int | None,
    policy: RetryPolicy,
    name: str,
) -> None:
    """Fast-forward `main` to the audited snapshot, only if `main` is still where the write started."""

    def stage(tx: Transaction) -> None:
        if tx.table_metadata.current_snapshot_id != parent_id:
            raise CommitError(
                f"{name} changed while it was audited (now at {tx.table_metadata.current_snapshot_id}, "
                f"expected {parent_id}); nothing was published, run again"
            )
        point_branch(tx, MAIN_BRANCH, staged_id)
        remove_ref(tx, branch)

    commit_with_retry(load, stage, policy, f"publishing {name}")


def _drop_branch(load: Callable[[], Table], branch: str, policy: RetryPolicy, name: str) -> None:
    def stage(tx: Transaction) -> None:
        if branch in tx.table_metadata.refs:
            remove_ref(tx, branch)

    commit_with_retry(load, stage, policy, f"discarding the audit branch of {name}")
