"""`lake run`, applied: build the models of a `RunPlan` with write-audit-publish, up to `threads` at once.

The plan is never changed and never re-made: every model reads its inputs at the snapshot ids the plan
pinned, and a model built earlier in the run at the snapshot it just published. A model starts only
once every upstream model in the plan has published (or was up to date), so models with no path
between them run side by side, as dbt's threads do. They share one DuckDB database (the `engine`
handles are cursors on it), so the profile's memory limit and DuckDB threads bound them all together;
contracts, checks and commits stay per model, and each table gets its own commits.

A model that fails (a check, or an error) leaves its table at its previous snapshot, and every model
downstream of it is skipped, while models that do not depend on it still run (dbt's behaviour without
--fail-fast; with `fail_fast`, every model not yet started is skipped, and those in flight finish). A model the plan marks up to date is not built and its checks do not run again: its
data is the snapshot that passed them. Results come back in the plan's order, never completion order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING

from lakehouse.elt.contracts import append_new_columns, check_contract, ensure_table
from lakehouse.elt.plan import RunPlan, Step, at_run
from lakehouse.elt.publish import write_audit_publish
from lakehouse.elt.reads import pinned, rewrite_pinned
from lakehouse.elt.results import ModelResult, RunResult
from lakehouse.errors import LakehouseError
from lakehouse.io.engine import short_error
from lakehouse.io.explain import is_duckdb_error
from lakehouse.table.commits import RetryPolicy
from lakehouse.table.tables import ensure_namespace
from lakehouse.table.views import store_view

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

    from lakehouse.core.config import Profile
    from lakehouse.io.engine import Engine
    from lakehouse.io.spark.session import SparkSession

DONE = ("ok", "up_to_date")


def execute(
    plan: RunPlan,
    *,
    profile: Profile,
    catalog: Catalog,
    load: Callable[[str], Table],
    engine: Callable[[], Engine],
    threads: int = 1,
    on_model: Callable[[ModelResult], None] | None = None,
    spark: Callable[[], SparkSession] | None = None,
    fail_fast: bool = False,
) -> RunResult:
    """Run the plan; never raises for a model's failure (see `RunResult.ok`), only for setup errors.

    `load` opens a table by name, `engine` a (locked-down) DuckDB cursor, closed after each model;
    `on_model` hears of each model in the plan's order, as soon as it and all before it are done;
    `spark` gives the Spark session that the plan's Spark models write with (opened once, on first use)."""
    start = time.perf_counter()
    # New tables' namespaces first, one at a time: the SQL catalog's create_namespace is a check then
    # an insert, so two models creating `silver` at once would fail on its unique key.
    for namespace in sorted({s.model.split(".", 1)[0] for s in plan.steps if not s.exists}):
        ensure_namespace(catalog, namespace)

    def build(
        step: Step, snapshot_ids: dict[str, int | None], schema_ids: dict[str, int | None]
    ) -> ModelResult:
        session = spark() if step.engine == "spark" and spark is not None else None
        return _run_model(
            plan.run_id, step, snapshot_ids, schema_ids, profile, catalog, load, engine, session
        )

    results = _Schedule(plan, build, on_model, fail_fast).run(max(1, threads))
    if all(r.status in DONE for r in results):  # views (their SQL) are published with the run
        for name, sql in sorted(plan.views.items()):
            ensure_namespace(catalog, name.split(".", 1)[0])
            store_view(catalog, name, sql)
    return RunResult(plan.run_id, results, round(time.perf_counter() - start, 3))


class _Schedule:
    """Which model may start: the plan's steps, each waiting for its upstream models in the plan."""

    def __init__(
        self,
        plan: RunPlan,
        build: Callable[[Step, dict[str, int | None], dict[str, int | None]], ModelResult],
        on_model: Callable[[ModelResult], None] | None,
        fail_fast: bool = False,
    ) -> None:
        self.steps = plan.steps
        self.build = build
        self.on_model = on_model
        self.snapshot_ids: dict[str, int | None] = dict(plan.inputs)
        self.snapshot_ids |= {s.model: s.target_snapshot_id for s in self.steps}
        self.schema_ids: dict[str, int | None] = dict(plan.schema_ids)
        position = {s.model.lower(): i for i, s in enumerate(self.steps)}
        self.parents = [
            [position[r] for r in (*s.reads, *s.check_reads) if r in position] for s in self.steps
        ]
        self.results: list[ModelResult | None] = [None] * len(self.steps)
        self.started = [False] * len(self.steps)
        self.told = 0  # results handed to on_model, in plan order
        self.fail_fast = fail_fast
        self.stopped_by: str | None = None  # fail_fast: the first model that failed

    def run(self, threads: int) -> list[ModelResult]:
        running: dict[Future[ModelResult], int] = {}
        queued: list[tuple[int, Step]] = []  # ready, waiting for a free thread (fail_fast skips them)
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="lake-run") as pool:
            try:
                while self.told < len(self.steps):
                    queued = sorted(queued + self._ready())  # plan order
                    while queued and len(running) < threads:
                        i, step = queued.pop(0)
                        ids, schemas = dict(self.snapshot_ids), dict(self.schema_ids)
                        running[pool.submit(self.build, step, ids, schemas)] = i
                    self._tell()
                    if running:
                        done, _ = wait(running, return_when=FIRST_COMPLETED)
                        for future in done:
                            self._finish(running.pop(future), future.result())
                        if self.stopped_by is not None:
                            for i, _step in queued:
                                self.started[i] = False  # the next _ready() skips it
                            queued.clear()
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)  # models in flight end with their cleanup
                raise
        return [r for r in self.results if r is not None]

    def _ready(self) -> list[tuple[int, Step]]:
        """The models to start now, in plan order; those that need no build (up to date, or an
        upstream model failed) are decided here, which may make more models ready."""
        ready: list[tuple[int, Step]] = []
        progress = True
        while progress:
            progress = False
            for i, step in enumerate(self.steps):
                upstream = [self.results[p] for p in self.parents[i]]
                if self.started[i] or (self.stopped_by is None and any(r is None for r in upstream)):
                    continue
                self.started[i] = progress = True
                failed = [r.model for r in upstream if r is not None and r.status not in DONE]
                if self.stopped_by is not None:
                    self._finish(i, ModelResult(
                        step.model, "skipped", step.strategy, previous_snapshot_id=step.target_snapshot_id,
                        error=f"--fail-fast: {self.stopped_by} failed",
                    ))  # fmt: skip
                elif failed:
                    self._finish(i, ModelResult(
                        step.model, "skipped", step.strategy, previous_snapshot_id=step.target_snapshot_id,
                        error=f"upstream {', '.join(failed)} failed",
                    ))  # fmt: skip
                elif step.up_to_date:
                    self._finish(i, _up_to_date(step, self.snapshot_ids))
                else:
                    ready.append((i, step))
        return ready

    def _finish(self, i: int, result: ModelResult) -> None:
        self.results[i] = result
        if self.fail_fast and self.stopped_by is None and result.status in ("failed", "error"):
            self.stopped_by = result.model
        if result.status in DONE:
            self.snapshot_ids[result.model] = result.snapshot_id
            if result.schema_id is not None:
                self.schema_ids[result.model] = result.schema_id

    def _tell(self) -> None:
        while self.told < len(self.steps) and (result := self.results[self.told]) is not None:
            if self.on_model is not None:
                self.on_model(result)
            self.told += 1


def _up_to_date(step: Step, snapshot_ids: Mapping[str, int | None]) -> ModelResult:
    return ModelResult(
        step.model, "up_to_date", step.strategy, snapshot_id=step.target_snapshot_id,
        previous_snapshot_id=step.target_snapshot_id, inputs={r: snapshot_ids.get(r) for r in step.reads},
    )  # fmt: skip


def _run_model(
    run_id: str,
    step: Step,
    snapshot_ids: Mapping[str, int | None],
    schema_ids: Mapping[str, int | None],
    profile: Profile,
    catalog: Catalog,
    load: Callable[[str], Table],
    open_engine: Callable[[], Engine],
    spark: SparkSession | None = None,
) -> ModelResult:
    """Build one model on its own cursor (in a worker thread when the run has several); on `spark`,
    Spark writes it and DuckDB still binds its output for the contract and runs its checks."""
    start = time.perf_counter()
    engine = open_engine()
    result = ModelResult(step.model, "error", step.strategy, previous_snapshot_id=step.target_snapshot_id)
    result.inputs = {r: snapshot_ids.get(r) for r in step.reads}
    try:
        step = at_run(step, load, snapshot_ids, schema_ids)
        result.strategy, result.increment, result.engine = step.strategy, step.increment, step.engine
        spark = spark if step.engine == "spark" else None
        sql = rewrite_pinned(step.sql, load, pinned(snapshot_ids))
        output = engine.schema(sql)
        check_contract(step.model, step.columns, None, output)  # before anything is created
        table = ensure_table(
            load, catalog, step.model, step.columns, step.partition_by, step.description, output
        )
        if step.on_schema_change == "append_new_columns":
            table = append_new_columns(load, step.model, table, output, RetryPolicy.of(profile))
        check_contract(step.model, {}, table, output)
        published = write_audit_publish(
            profile, engine, load, table, step, run_id, snapshot_ids, schema_ids, sql, result, spark
        )
        result.status = "ok" if published else "failed"
        result.schema_id = table.metadata.current_schema_id
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
