"""`lake run`: build a project's models in dependency order, with write-audit-publish.

The plan is data (`RunPlan`): the models in order, how each is written, its rendered SQL, and every input
table resolved to ONE snapshot id at the start, so a concurrent ingest cannot make a run see two states.
`--dry-run` prints the plan; `execute` runs exactly that plan.

Each model is one Iceberg snapshot:
- write: DuckDB streams the model's SELECT into new data files (`writer.copy_to_data_files`);
  `table` overwrites every file, `incremental` appends rows newer than the `watermark` or merges on
  `unique_key` (copy-on-write: only the files holding a matched key are rewritten);
- audit: the snapshot is committed to a branch `lake-audit-<run id>`, never to `main`; the contract's
  not-null columns and the model's checks run on that snapshot;
- publish: `main` is fast-forwarded to the audited snapshot (failing if `main` moved meanwhile) and the
  branch is removed. A failing check removes the branch: the table stays at its previous snapshot,
  and every model downstream is skipped, while models that do not depend on it still run.

The snapshot summary records `lake.inputs` (each input table with the snapshot id it was read at),
`lake.sql-hash`, `lake.run-id` and `lake.model`; `lake provenance` walks that chain.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from lakehouse.core.hooks import checkpoint
from lakehouse.core.schemas import quote_ident
from lakehouse.elt.checks import Check, CheckResult, parse_checks, run_checks
from lakehouse.elt.models import sql_hash
from lakehouse.elt.project import Project
from lakehouse.errors import (
    CheckFailedError,
    CommitError,
    LakehouseError,
    NoSuchTableError,
    SchemaMismatchError,
)
from lakehouse.io.fieldids import read_by_field_id
from lakehouse.table.snapshots import AUDIT_BRANCH_PREFIX

if TYPE_CHECKING:
    from pyiceberg.manifest import DataFile
    from pyiceberg.table import Table, Transaction

    from lakehouse.io.engine import Engine
    from lakehouse.lake import Lakehouse


@dataclass
class Step:
    """One model as this run will build it."""

    model: str
    strategy: str  # overwrite | append | merge
    incremental: bool  # False: built from scratch (first build, table materialization, --full-refresh)
    sql: str
    sql_hash: str
    reads: list[str]
    partition_by: str | None
    checks: list[Check]
    target_snapshot_id: int | None  # the table's current snapshot at planning (None: new or empty)
    exists: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "strategy": self.strategy,
            "incremental": self.incremental,
            "exists": self.exists,
            "previous_snapshot_id": self.target_snapshot_id,
            "reads": self.reads,
            "partition_by": self.partition_by,
            "checks": [c.name for c in self.checks],
            "sql_hash": self.sql_hash,
            "sql": self.sql,
        }


@dataclass
class RunPlan:
    run_id: str
    project: str
    steps: list[Step]
    inputs: dict[str, int | None]  # every table read that this run does not build -> pinned snapshot
    full_refresh: bool = False
    as_of: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "project": self.project,
            "full_refresh": self.full_refresh,
            "inputs": {k: v for k, v in self.inputs.items()},
            "models": [s.to_dict() for s in self.steps],
        }


@dataclass
class ModelResult:
    model: str
    status: str  # ok | failed (a check) | error | skipped
    strategy: str = ""
    rows: int = 0
    seconds: float = 0.0
    snapshot_id: int | None = None  # published (ok), or audited and discarded (failed)
    previous_snapshot_id: int | None = None
    inputs: dict[str, int | None] = field(default_factory=dict)
    checks: list[CheckResult] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "status": self.status,
            "strategy": self.strategy,
            "rows": self.rows,
            "seconds": self.seconds,
            "snapshot_id": self.snapshot_id,
            "previous_snapshot_id": self.previous_snapshot_id,
            "inputs": self.inputs,
            "checks": [c.to_dict() for c in self.checks],
            "error": self.error,
        }


@dataclass
class RunResult:
    run_id: str
    models: list[ModelResult]
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(m.status == "ok" for m in self.models)

    def failures(self) -> list[ModelResult]:
        return [m for m in self.models if m.status in ("failed", "error")]

    def failure_message(self) -> str:
        parts = []
        for m in self.failures():
            failing = [c for c in m.checks if c.blocking]
            if failing:
                parts += [c.message() for c in failing]
            else:
                parts.append(f"{m.model}: {m.error}")
        skipped = [m.model for m in self.models if m.status == "skipped"]
        text = "; ".join(parts)
        if skipped:
            text += f"; skipped downstream: {', '.join(skipped)}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "ok": self.ok,
            "seconds": self.seconds,
            "models": [m.to_dict() for m in self.models],
        }


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


# ---------------------------------------------------------------- planning


def plan_run(
    lake: Lakehouse,
    project: Project,
    select: Any = None,
    *,
    full_refresh: bool = False,
    as_of: Any = None,
) -> RunPlan:
    """Order the selected models and pin every input to one snapshot id, now."""
    from lakehouse.read.plan import ReadPlan

    names = project.select(select)
    reads = ReadPlan.parse(as_of)
    rebuild = full_refresh or as_of is not None  # older inputs cannot be merged into today's table
    inputs: dict[str, int | None] = {}
    for ident in project.inputs(names):
        try:
            table = lake.table(ident)
        except NoSuchTableError:
            kind = "source" if ident in project.sources else "model"
            how = (
                "load it with `lake ingest`"
                if kind == "source"
                else f"build it with `lake run --select {ident}`"
            )
            raise NoSuchTableError(f"{ident} ({kind}) does not exist yet; {how}") from None
        snapshot = reads.snapshot(table, ident)
        inputs[ident] = snapshot.snapshot_id if snapshot else None
    steps = []
    for name in names:
        model = project.models[name]
        try:
            current = lake.table(name).current_snapshot()
            exists = True
        except NoSuchTableError:
            current, exists = None, False
        incremental = model.config.materialized == "incremental" and current is not None and not rebuild
        sql = model.render(incremental=incremental)
        strategy = model.config.strategy if incremental else "overwrite"
        checks = parse_checks(model.name, model.config.checks)
        steps.append(
            Step(
                model=model.name,
                strategy=strategy,
                incremental=incremental,
                sql=sql,
                sql_hash=sql_hash(sql),
                reads=list(model.depends_on),
                partition_by=model.config.partition_by,
                checks=checks,
                target_snapshot_id=current.snapshot_id if current else None,
                exists=exists,
            )
        )
    return RunPlan(new_run_id(), str(project.root), steps, inputs, full_refresh, as_of)


# ---------------------------------------------------------------- execution


def execute(
    lake: Lakehouse,
    project: Project,
    plan: RunPlan,
    on_model: Callable[[ModelResult], None] | None = None,
) -> RunResult:
    """Run the plan; never raises for a model's failure (see `RunResult.ok`), only for setup errors."""
    start = time.perf_counter()
    pinned: dict[str, int | None] = dict(plan.inputs)
    for step in plan.steps:
        pinned[step.model] = step.target_snapshot_id
    results: list[ModelResult] = []
    broken: set[str] = set()
    for step in plan.steps:
        bad_parents = [r for r in step.reads if r in broken]
        if bad_parents:
            result = ModelResult(
                step.model, "skipped", step.strategy, previous_snapshot_id=step.target_snapshot_id,
                error=f"upstream {', '.join(bad_parents)} failed",
            )  # fmt: skip
        else:
            result = _run_model(lake, project, plan, step, pinned)
        if result.status != "ok":
            broken.add(step.model)
        else:
            pinned[step.model] = result.snapshot_id
        results.append(result)
        if on_model is not None:
            on_model(result)
    return RunResult(plan.run_id, results, round(time.perf_counter() - start, 3))


def _as_of(pinned: dict[str, int | None]) -> dict[str, str]:
    return {k: str(v) for k, v in pinned.items() if v is not None}


def _run_model(
    lake: Lakehouse, project: Project, plan: RunPlan, step: Step, pinned: dict[str, int | None]
) -> ModelResult:
    from lakehouse.io.engine import short_error

    start = time.perf_counter()
    model = project.models[step.model]
    result = ModelResult(step.model, "error", step.strategy, previous_snapshot_id=step.target_snapshot_id)
    result.inputs = {r: pinned.get(r) for r in step.reads}
    engine = lake.engine(locked=True)
    try:
        rewritten, _ = lake.plan_query(step.sql, _as_of(pinned))
        output = _output_schema(engine, rewritten)
        _check_contract(step.model, model.config.columns, None, output)  # before anything is created
        table = _ensure_table(lake, model, output)
        _check_contract(step.model, {}, table, output)
        snapshot_id, rows, discarded = _write_audit_publish(
            lake, engine, table, step, plan, pinned, rewritten, model, result
        )
        result.rows = rows
        result.snapshot_id = snapshot_id
        result.status = "failed" if discarded else "ok"
    except LakehouseError as exc:
        result.error = str(exc)
    except Exception as exc:  # DuckDB errors in the model's SQL
        if type(exc).__module__.startswith(("duckdb", "_duckdb")):
            result.error = short_error(exc)
        else:
            raise
    finally:
        engine.close()
    result.seconds = round(time.perf_counter() - start, 3)
    return result


def _output_schema(engine: Engine, sql: str) -> pa.Schema:
    return engine.schema(sql)


def _ensure_table(lake: Lakehouse, model: Any, output: pa.Schema) -> Table:
    from lakehouse.core.schemas import parse_partition_terms, parse_schema
    from lakehouse.ops.ingest import iceberg_schema_from_arrow
    from lakehouse.table import tables

    try:
        return lake.table(model.name)
    except NoSuchTableError:
        pass
    contract = model.config.contract_schema_text()
    schema = parse_schema(contract) if contract else iceberg_schema_from_arrow(output)
    terms = parse_partition_terms(model.config.partition_by)
    properties = {"lake.model": model.name}
    if model.config.description:
        properties["comment"] = model.config.description
    return tables.create_table(lake.catalog, model.name, schema, terms, properties)


def _check_contract(name: str, columns: dict[str, str], table: Table | None, output: pa.Schema) -> None:
    """Names and types of the SELECT against the declared contract and the table, before any write."""
    from lakehouse.core.schemas import parse_schema
    from lakehouse.ops.ingest import compatible, iceberg_schema_from_arrow

    got = {f.name.lower(): f for f in iceberg_schema_from_arrow(output).fields}
    problems = []
    if columns:
        declared = {
            f.name.lower(): f for f in parse_schema(", ".join(f"{k} {v}" for k, v in columns.items())).fields
        }
        for col, fld in declared.items():
            if col not in got:
                problems.append(f"{fld.name}: declared {fld.field_type} but the model does not return it")
            elif reason := compatible(got[col].field_type, fld.field_type):
                problems.append(
                    f"{fld.name}: declared {fld.field_type}, the model returns {got[col].field_type} ({reason})"
                )
        for col, fld in got.items():
            if col not in declared:
                problems.append(
                    f"{fld.name}: returned by the model ({fld.field_type}) but not declared in columns"
                )
        if problems:
            raise SchemaMismatchError(f"{name} does not match its columns contract: " + "; ".join(problems))
    if table is None:
        return
    target = {f.name.lower(): f for f in table.schema().fields}
    for col, fld in target.items():
        if col not in got:
            problems.append(f"{fld.name}: the table has it, the model does not return it")
        elif reason := compatible(got[col].field_type, fld.field_type):
            problems.append(
                f"{fld.name}: the table has {fld.field_type}, the model returns {got[col].field_type}"
            )
    extra = [f.name for c, f in got.items() if c not in target]
    if extra:
        problems.append(f"new column(s) {', '.join(extra)} not in the table")
    if problems:
        raise SchemaMismatchError(
            f"{name}: the model's output no longer matches table {name}: "
            + "; ".join(problems)
            + f". Drop the table (`lake drop {name}`) and run again to rebuild it with the new schema"
        )


def _live_files(table: Table, snapshot_id: int | None) -> list[DataFile]:
    if snapshot_id is None:
        return []
    snapshot = table.metadata.snapshot_by_id(snapshot_id)
    if snapshot is None:
        return []
    files = []
    for manifest in snapshot.manifests(table.io):
        files += [e.data_file for e in manifest.fetch_manifest_entry(table.io, discard_deleted=True)]
    return files


def _write_audit_publish(
    lake: Lakehouse,
    engine: Engine,
    table: Table,
    step: Step,
    plan: RunPlan,
    pinned: dict[str, int | None],
    rewritten: str,
    model: Any,
    result: ModelResult,
) -> tuple[int | None, int, bool]:
    from pyiceberg.table.snapshots import Operation

    from lakehouse.io.cleanup import remove_write
    from lakehouse.io.writer import WrittenFiles, copy_to_data_files, new_write_id
    from lakehouse.table.commits import RetryPolicy, commit_with_retry
    from lakehouse.table.producers import point_branch, stage_rewrite

    name = step.model
    policy = RetryPolicy.from_properties(lake.profile.properties)
    load = lambda: lake.table(name)  # noqa: E731
    if table.metadata.current_snapshot_id is None and step.target_snapshot_id is None:
        # Iceberg writes to a branch only once `main` has a snapshot: start a new table with an empty one
        table = commit_with_retry(load, _stage_empty(plan.run_id, name), policy, f"creating {name}")
        step.target_snapshot_id = table.metadata.current_snapshot_id
        result.previous_snapshot_id = step.target_snapshot_id
    parent_id = table.metadata.current_snapshot_id
    if step.incremental and parent_id != step.target_snapshot_id:
        raise CommitError(f"{name} changed since the run was planned; run again")
    write_id = new_write_id()
    branch = f"{AUDIT_BRANCH_PREFIX}{plan.run_id}"
    written = WrittenFiles()
    deleted: list[DataFile] = []
    new_rows: int | None = None
    try:
        checkpoint("before-write")
        if step.strategy == "overwrite":
            deleted = _live_files(table, parent_id)
            written = copy_to_data_files(engine, table, rewritten, write_id=write_id)
        elif step.strategy == "append":
            wm = quote_ident(model.config.watermark)
            this_sql, _ = lake.plan_query(f"SELECT max({wm}) AS m FROM {name}", {name: str(parent_id)})
            filtered = (
                f"SELECT * FROM ({rewritten}) AS lake_model "
                f"WHERE (SELECT m FROM ({this_sql}) AS lake_wm) IS NULL OR {wm} > (SELECT m FROM ({this_sql}) AS lake_wm)"
            )
            written = copy_to_data_files(engine, table, filtered, write_id=write_id)
        else:
            deleted, written, new_rows = _merge(
                engine, table, parent_id, rewritten, model.config.unique_key, write_id
            )
        checkpoint("after-write")
        operation = Operation.OVERWRITE if deleted else Operation.APPEND
        summary = {
            "lake.operation": f"run-{step.strategy}",
            "lake.run-id": plan.run_id,
            "lake.model": name,
            "lake.sql-hash": step.sql_hash,
            "lake.inputs": json.dumps({r: str(pinned.get(r)) for r in step.reads}, sort_keys=True),
            "lake.rows": str(written.rows if new_rows is None else new_rows),
            "lake.write-id": write_id,
        }
        write = stage_rewrite(deleted, written.data_files, summary, operation, branch=branch)

        def stage(tx: Transaction) -> None:
            if tx.table_metadata.current_snapshot_id != parent_id:
                raise CommitError(f"{name} changed while the run was writing it; run again")
            point_branch(tx, branch, parent_id)
            write(tx)

        staged = commit_with_retry(load, stage, policy, f"staging {name}")
    except BaseException:
        remove_write(lake.profile, table, write_id, written.paths)
        raise
    staged_id = staged.metadata.refs[branch].snapshot_id
    result.snapshot_id = staged_id
    # audit: the contract's not-null columns and the model's checks, on the staged snapshot only
    checks = [
        *parse_checks(
            name, [{"not_null": c} for c, spec in model.config.columns.items() if "not null" in spec.lower()]
        ),
        *step.checks,
    ]
    audit_pins = {**_as_of(pinned), name: str(staged_id)}
    result.checks = run_checks(_query_fn(lake, engine, audit_pins), name, checks, staged_id)
    if any(c.blocking for c in result.checks):
        _drop_branch(load, branch, policy, name)
        return staged_id, written.rows if new_rows is None else new_rows, True
    _publish(load, branch, staged_id, parent_id, policy, name)
    checkpoint("after-publish")
    return staged_id, written.rows if new_rows is None else new_rows, False


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


def _query_fn(lake: Lakehouse, engine: Engine, pins: dict[str, str]) -> Callable[[str], pa.Table]:
    from lakehouse.errors import QueryError
    from lakehouse.io.engine import short_error

    def query(sql: str) -> pa.Table:
        rewritten, _ = lake.plan_query(sql, pins)
        try:
            return engine.arrow(rewritten)
        except Exception as exc:
            raise QueryError(short_error(exc)) from None

    return query


def _merge(
    engine: Engine, table: Table, parent_id: int | None, rewritten: str, keys: list[str], write_id: str
) -> tuple[list[DataFile], Any, int]:
    """Copy-on-write upsert: rewrite only the files that hold a key of the new rows."""

    with engine.temp_table("lake_new", rewritten):
        return _merge_into(engine, table, parent_id, keys, write_id)


def _merge_into(
    engine: Engine, table: Table, parent_id: int | None, keys: list[str], write_id: str
) -> tuple[list[DataFile], Any, int]:
    from lakehouse.io.storage import local_path
    from lakehouse.io.writer import copy_to_data_files

    new_rows = int(engine.value("SELECT count(*) FROM lake_new"))
    live = _live_files(table, parent_id)

    def norm(path: str) -> str:
        return str(local_path(path)) if path.startswith("file://") else path

    by_path = {norm(f.file_path): f for f in live}
    cols = ", ".join(quote_ident(f.name) for f in table.schema().fields)
    on = " AND ".join(f"f.{quote_ident(k)} = n.{quote_ident(k)}" for k in keys)
    affected: list[DataFile] = []
    if live and new_rows:
        # Old files are read by field id (a renamed column keeps its values), never by Hive folder names.
        hit = engine.rows(
            f"SELECT DISTINCT f.lake_filename FROM ({read_by_field_id(table, live, with_filename=True)}) AS f "
            f"SEMI JOIN lake_new AS n ON {on}"
        )
        affected = [by_path[norm(row[0])] for row in hit]
    if affected:
        select = (
            f"SELECT {cols} FROM ({read_by_field_id(table, affected)}) AS f ANTI JOIN lake_new AS n ON {on} "
            f"UNION ALL SELECT {cols} FROM lake_new"
        )
    else:
        select = f"SELECT {cols} FROM lake_new"
    written = copy_to_data_files(engine, table, select, write_id=write_id)
    return affected, written, new_rows


def _publish(
    load: Callable[[], Table], branch: str, staged_id: int, parent_id: int | None, policy: Any, name: str
) -> None:
    """Fast-forward `main` to the audited snapshot, only if `main` is still where the write started."""
    from pyiceberg.table.refs import MAIN_BRANCH

    from lakehouse.table.commits import commit_with_retry
    from lakehouse.table.producers import point_branch, remove_ref

    def stage(tx: Transaction) -> None:
        if tx.table_metadata.current_snapshot_id != parent_id:
            raise CommitError(
                f"{name} changed while it was audited (now at {tx.table_metadata.current_snapshot_id}, "
                f"expected {parent_id}); nothing was published, run again"
            )
        point_branch(tx, MAIN_BRANCH, staged_id)
        remove_ref(tx, branch)

    commit_with_retry(load, stage, policy, f"publishing {name}")


def _drop_branch(load: Callable[[], Table], branch: str, policy: Any, name: str) -> None:

    from lakehouse.table.commits import commit_with_retry
    from lakehouse.table.producers import remove_ref

    def stage(tx: Transaction) -> None:
        if branch in tx.table_metadata.refs:
            remove_ref(tx, branch)

    commit_with_retry(load, stage, policy, f"discarding the audit branch of {name}")


# ---------------------------------------------------------------- lake test


def check_project(
    lake: Lakehouse, project: Project, select: Any = None, as_of: Any = None
) -> list[CheckResult]:
    """Run the checks of the selected models (and of every source when nothing is selected)."""
    from lakehouse.read.plan import ReadPlan

    reads = ReadPlan.parse(as_of)
    owners: list[tuple[str, list[Check]]] = []
    if not select:
        owners += [(s.name, parse_checks(s.name, s.checks)) for s in project.sources.values()]
    for name in project.select(select):
        model = project.models[name]
        nn = [{"not_null": c} for c, spec in model.config.columns.items() if "not null" in spec.lower()]
        owners.append((model.name, parse_checks(model.name, [*nn, *model.config.checks])))
    needed = {
        t for name, checks in owners if checks for t in [name, *(x for c in checks for x in c.tables())]
    }
    pins: dict[str, str] = {}
    snapshots: dict[str, int | None] = {}
    for ident in sorted(needed):
        table = lake.table(ident)
        snap = reads.snapshot(table, ident)
        snapshots[ident] = snap.snapshot_id if snap else None
        if snap is not None:
            pins[ident] = str(snap.snapshot_id)
    results: list[CheckResult] = []
    with lake.engine(locked=True) as engine:
        query = _query_fn(lake, engine, pins)
        for name, checks in owners:
            results += run_checks(query, name, checks, snapshots.get(name.lower()))
    return results


def raise_for_checks(results: list[CheckResult]) -> None:
    failing = [r for r in results if r.blocking]
    if failing:
        raise CheckFailedError("; ".join(r.message() for r in failing))
