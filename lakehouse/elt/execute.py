"""`lake run`, applied: build each model of a `RunPlan` in order, with write-audit-publish.

The plan is never changed and never re-made: every model reads its inputs at the snapshot ids the plan
pinned, and a model built earlier in the run at the snapshot it just published. A model that fails
(a check, or an error) leaves its table at its previous snapshot, and every model downstream is
skipped, while models that do not depend on it still run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from lakehouse.elt.contracts import append_new_columns, check_contract, ensure_table
from lakehouse.elt.plan import RunPlan, Step
from lakehouse.elt.publish import write_audit_publish
from lakehouse.elt.reads import pinned, rewrite_pinned
from lakehouse.elt.results import ModelResult, RunResult
from lakehouse.errors import LakehouseError
from lakehouse.io.engine import short_error
from lakehouse.io.explain import is_duckdb_error
from lakehouse.table.commits import RetryPolicy

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

    from lakehouse.core.config import Profile
    from lakehouse.io.engine import Engine


def execute(
    plan: RunPlan,
    *,
    profile: Profile,
    catalog: Catalog,
    load: Callable[[str], Table],
    engine: Callable[[], Engine],
    on_model: Callable[[ModelResult], None] | None = None,
) -> RunResult:
    """Run the plan; never raises for a model's failure (see `RunResult.ok`), only for setup errors.

    `load` opens a table by name, `engine` a (locked-down) DuckDB engine, closed after each model."""
    start = time.perf_counter()
    snapshot_ids: dict[str, int | None] = dict(plan.inputs)
    for step in plan.steps:
        snapshot_ids[step.model] = step.target_snapshot_id
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
            result = _run_model(plan.run_id, step, snapshot_ids, profile, catalog, load, engine())
        if result.status != "ok":
            broken.add(step.model)
        else:
            snapshot_ids[step.model] = result.snapshot_id
        results.append(result)
        if on_model is not None:
            on_model(result)
    return RunResult(plan.run_id, results, round(time.perf_counter() - start, 3))


def _run_model(
    run_id: str,
    step: Step,
    snapshot_ids: Mapping[str, int | None],
    profile: Profile,
    catalog: Catalog,
    load: Callable[[str], Table],
    engine: Engine,
) -> ModelResult:
    start = time.perf_counter()
    result = ModelResult(step.model, "error", step.strategy, previous_snapshot_id=step.target_snapshot_id)
    result.inputs = {r: snapshot_ids.get(r) for r in step.reads}
    try:
        sql = rewrite_pinned(step.sql, load, pinned(snapshot_ids))
        output = engine.schema(sql)
        check_contract(step.model, step.columns, None, output)  # before anything is created
        table = ensure_table(
            load, catalog, step.model, step.columns, step.partition_by, step.description, output
        )
        if step.on_schema_change == "append_new_columns":
            table = append_new_columns(load, step.model, table, output, RetryPolicy.of(profile))
        check_contract(step.model, {}, table, output)
        published = write_audit_publish(profile, engine, load, table, step, run_id, snapshot_ids, sql, result)
        result.status = "ok" if published else "failed"
    except LakehouseError as exc:
        result.error = str(exc)
    except Exception as exc:  # DuckDB errors in the model's SQL
        if is_duckdb_error(exc):
            result.error = short_error(exc)
        else:
            raise
    finally:
        engine.close()
    result.seconds = round(time.perf_counter() - start, 3)
    return result
