"""The plan of `lake run`, as frozen data: the models in order, how each is written, its rendered SQL,
and every input table resolved to ONE snapshot id at the start, so a concurrent ingest cannot make a
run see two states. `--dry-run` prints the plan; `lakehouse.elt.execute` runs exactly that plan.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from lakehouse.elt.checks import Check, parse_checks
from lakehouse.elt.increments import APPEND, PENDING, Increment, plan_increment
from lakehouse.elt.models import Model, sql_hash
from lakehouse.elt.project import Project
from lakehouse.elt.selectors import builds
from lakehouse.elt.state import Built, config_hash, last_build, why_stale
from lakehouse.errors import NoSuchTableError
from lakehouse.read.plan import AsOf, ReadPlan

if TYPE_CHECKING:
    from pyiceberg.table import Table


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Step:
    """One model as this run will build it, with every setting the write needs."""

    model: str
    strategy: str  # overwrite | snapshot | merge | watermark
    incremental: bool  # False: built from scratch (first build, table materialization, --full-refresh)
    sql: str
    sql_hash: str
    reads: tuple[str, ...]
    partition_by: str | None
    checks: tuple[Check, ...]
    target_snapshot_id: int | None  # the table's current snapshot at planning (None: new or empty)
    exists: bool
    unique_key: tuple[str, ...] = ()  # merge on these
    watermark: str | None = None  # append rows newer than max(watermark)
    columns: Mapping[str, str] = field(default_factory=lambda: _frozen({}))  # the contract
    description: str = ""
    on_schema_change: str = "fail"  # or append_new_columns: new output columns evolve the table
    config_hash: str = ""
    up_to_date: bool = False  # data-aware: the table is what this build would give; the run skips it
    reason: str = ""  # why it is built (or "up to date")
    engine: str = "duckdb"  # or spark (`lake run --engine spark`)
    check_reads: tuple[str, ...] = ()  # other tables its checks read: built (or pinned) before it
    # checks of upstream models that read this one, which is built from them: they run in its audit
    later_checks: tuple[tuple[str, Check], ...] = ()
    check_views: Mapping[str, str] = field(default_factory=lambda: _frozen({}))  # of those, views: SQL
    # snapshot strategy: the last build, what this run reads of each input (recomputed when the run
    # builds an upstream model first), and the full-build SQL to fall back on
    last: Built | None = None
    increment: Increment | None = None
    full_sql: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "strategy": self.strategy,
            "incremental": self.incremental,
            "up_to_date": self.up_to_date,
            "reason": self.reason,
            "engine": self.engine,
            "exists": self.exists,
            "previous_snapshot_id": self.target_snapshot_id,
            "reads": list(self.reads),
            "increment": self.increment.to_dict() if self.increment is not None else None,
            "partition_by": self.partition_by,
            "checks": [c.name for c in self.checks],
            "sql_hash": self.sql_hash,
            "sql": self.sql,
        }


@dataclass(frozen=True)
class RunPlan:
    run_id: str
    project: str
    steps: tuple[Step, ...]
    inputs: Mapping[str, int | None]  # every table read that this run does not build -> pinned snapshot
    schema_ids: Mapping[str, int | None] = field(default_factory=lambda: _frozen({}))  # of inputs and models
    full_refresh: bool = False
    as_of: AsOf = None
    ignored: tuple[tuple[str, str], ...] = ()  # project files that are no model: (path, why)
    views: Mapping[str, str] = field(default_factory=lambda: _frozen({}))  # view -> SQL, stored by the run
    notes: tuple[str, ...] = ()  # a dbt project: where lake differs from dbt on purpose, one line each

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "project": self.project,
            "full_refresh": self.full_refresh,
            "inputs": dict(self.inputs),
            "ignored": [{"path": p, "why": why} for p, why in self.ignored],
            "views": sorted(self.views),
            "notes": list(self.notes),
            "models": [s.to_dict() for s in self.steps],
        }


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


def plan_run(
    load: Callable[[str], Table],
    project: Project,
    select: str | list[str] | tuple[str, ...] | None = None,
    *,
    full_refresh: bool = False,
    as_of: AsOf = None,
    engine: str = "duckdb",
    exclude: str | list[str] | tuple[str, ...] | None = None,
) -> RunPlan:
    """Order the selected models, pin every input to one snapshot id, now, and mark the models whose
    tables are already what building them would give (`lakehouse.elt.state`) up to date.

    With `engine="spark"`, every model runs on Spark except those whose config() says
    `engine='duckdb'`; a model Spark cannot run with the same meaning fails the plan, naming why."""
    selected = project.select(select, exclude, last_build=builds(load))  # state:modified reads tables
    names = [n for n in selected if not project.models[n].config.inline]  # read as CTEs
    views = {
        project.models[n].name: project.models[n].sql
        for n in selected
        if project.models[n].config.materialized == "view"
    }
    reads = ReadPlan.parse(as_of)
    rebuild = full_refresh or as_of is not None  # older inputs cannot be merged into today's table
    inputs: dict[str, int | None] = {}
    schemas: dict[str, int | None] = {}  # every table read or built -> its schema id, now
    for ident in project.inputs(names):
        try:
            read = load(ident)
        except NoSuchTableError:
            kind = "source" if ident in project.sources else "model"
            how = (
                "load it with `lake ingest`"
                if kind == "source"
                else f"build it with `lake run --select {ident}`"
            )
            raise NoSuchTableError(f"{ident} ({kind}) does not exist yet; {how}") from None
        snapshot = reads.snapshot(read, ident)
        inputs[ident] = snapshot.snapshot_id if snapshot else None
        schemas[ident] = read.metadata.current_schema_id
    steps: list[Step] = []
    for name in names:
        model = project.models[name]
        try:
            table: Table | None = load(name)
        except NoSuchTableError:
            table = None
        current = table.current_snapshot() if table is not None else None
        incremental = model.config.materialized == "incremental" and current is not None and not rebuild
        sql = model.render(incremental=incremental)
        config = model.config
        chash = config_hash(config)
        reason = _why_built(
            steps, model.name, model.depends_on, table, (model.sql, sql), chash, inputs, schemas
        )
        reason = "--full-refresh" if full_refresh and table is not None else reason
        last, increment = None, None
        if incremental and reason and config.strategy == "snapshot":
            last, increment = _increment(load, steps, model, table, sql, chash, inputs, schemas)
            if increment.rebuild:
                incremental, sql, reason = False, model.sql, f"{reason}; rebuilding: {increment.rebuild}"
        if table is not None:
            schemas[name] = table.metadata.current_schema_id
        steps.append(
            Step(
                model=model.name,
                strategy=config.strategy if incremental else "overwrite",
                incremental=incremental,
                sql=sql,
                sql_hash=sql_hash(sql),
                reads=tuple(model.depends_on),
                partition_by=config.partition_by,
                checks=tuple(
                    c
                    for c in parse_checks(model.name, config.checks)
                    if not _deferred(project, name, c, names)
                ),
                later_checks=tuple(_later_checks(project, name, names)),
                target_snapshot_id=current.snapshot_id if current else None,
                exists=table is not None,
                unique_key=tuple(config.unique_key),
                watermark=config.watermark,
                columns=_frozen(config.columns),
                description=config.description,
                on_schema_change=config.on_schema_change,
                config_hash=chash,
                up_to_date=not reason,
                reason=reason or "up to date",
                engine=_engine_of(model, sql, engine),
                check_reads=tuple(project.check_parents(name)),
                check_views=_frozen(
                    {r: project.models[r].sql for r in model.check_reads if _inline(project, r)}
                ),
                last=last,
                increment=increment,
                full_sql=model.sql,
            )
        )
    ignored = tuple((str(p), why) for p, why in project.ignored)
    return RunPlan(
        new_run_id(), str(project.root), tuple(steps), _frozen(inputs), _frozen(schemas), full_refresh, as_of,
        ignored, _frozen(views), tuple(dbt_notes(project, names, views)),
    )  # fmt: skip


def at_run(
    step: Step,
    load: Callable[[str], Table],
    ids: Mapping[str, int | None],
    schemas: Mapping[str, int | None],
) -> Step:
    """`step` as it is built now: a snapshot-incremental step whose upstream models this run built
    learns what they published, and is rebuilt in full if that cannot be read incrementally."""
    increment = step.increment
    if step.strategy != "snapshot" or step.last is None or increment is None:
        return step
    if any(r.kind == PENDING for r in increment.ranges):
        reads = {r: ids.get(r) for r in step.reads}
        increment = plan_increment(
            load, step.model, step.sql, bool(step.unique_key), step.last, reads, schemas
        )
    if not increment.rebuild:
        engine, reason = step.engine, step.reason
        changed = increment.changed
        if engine == "spark" and not (len(changed) == 1 and changed[0].kind == APPEND and changed[0].from_id):
            # Spark reads appends (Iceberg's incremental append scan); a net change, or nothing to
            # read, is DuckDB's (lakehouse.elt.increment_write)
            engine, reason = "duckdb", f"{reason}; on DuckDB: Spark reads only appended rows incrementally"
        return dataclasses.replace(step, increment=increment, engine=engine, reason=reason)
    return dataclasses.replace(
        step, strategy="overwrite", incremental=False, sql=step.full_sql, sql_hash=sql_hash(step.full_sql),
        increment=increment, reason=f"{step.reason}; rebuilding: {increment.rebuild}",
    )  # fmt: skip


def dbt_notes(project: Project, names: list[str], views: Mapping[str, str]) -> list[str]:
    """One line for each way this run of a dbt project differs from dbt's, on purpose."""
    if not project.dbt:
        return []
    notes = [
        "lake: each model's tests run on its staged snapshot before it is published (write-audit-publish)"
    ]
    for name in names:
        config = project.models[name].config
        if config.materialized == "incremental" and not config.strategy_given:
            notes.append(
                f"lake: {project.models[name].name} has no incremental_strategy: lake's 'snapshot' reads what its "
                "inputs gained since its last build, not its is_incremental() filter; name one to keep dbt's"
            )
    if views:
        notes.append(
            f"lake: {len(views)} view(s) are stored as lake definitions, not Iceberg views (Spark does not see them)"
        )
    return notes


def _deferred(project: Project, owner: str, check: Check, names: list[str]) -> bool:
    """A check of `owner` reading a model of this run that is built from `owner`: it runs in that
    model's audit, once both are staged or published (dbt runs it after both are built)."""
    waits = set(project.check_parents(owner))
    return any(t in project.models and t not in waits and t in names for t in check.tables(owner))


def _later_checks(project: Project, name: str, names: list[str]) -> list[tuple[str, Check]]:
    found = []
    for owner in names:
        model = project.models[owner]
        if owner != name and name in model.check_reads:
            found += [
                (model.name, c)
                for c in parse_checks(model.name, model.config.checks)
                if name in c.tables(owner) and _deferred(project, owner, c, names)
            ]
    return found


def _inline(project: Project, name: str) -> bool:
    return name in project.models and project.models[name].config.inline


def _engine_of(model: Model, sql: str, engine: str) -> str:
    if engine != "spark" or model.config.engine == "duckdb":
        return "duckdb"
    from lakehouse.elt.spark.transpile import check_spark

    check_spark(model.name, sql, model.path, model.template)
    return "spark"


def _increment(
    load: Callable[[str], Table],
    planned: list[Step],
    model: Model,
    table: Table | None,
    sql: str,
    chash: str,
    inputs: Mapping[str, int | None],
    schemas: Mapping[str, int | None],
) -> tuple[Built | None, Increment]:
    """What a snapshot-incremental build of `model` reads, or why it is rebuilt: it reads only what
    changed upstream when its rows all came from the SQL and config() it has now."""
    last = last_build(table, model.name) if table is not None else None
    if last is None:
        return None, Increment(rebuild="its table was not last written by lake run")
    if last.sql_hash not in (sql_hash(model.sql), sql_hash(sql)) or last.config_hash != chash:
        return last, Increment(rebuild="its SQL or config() changed since its last build")
    earlier = {s.model.lower(): s for s in planned}
    pending = [r for r in model.depends_on if r in earlier and not earlier[r].up_to_date]
    ids = {r: earlier[r].target_snapshot_id if r in earlier else inputs.get(r) for r in model.depends_on}
    keyed = bool(model.config.unique_key)
    return last, plan_increment(load, model.name, sql, keyed, last, ids, schemas, pending)


def _why_built(
    planned: list[Step],
    name: str,
    reads: list[str],
    table: Table | None,
    sqls: tuple[str, str],
    chash: str,
    inputs: Mapping[str, int | None],
    schemas: Mapping[str, int | None],
) -> str:
    """ "" when `name` is up to date, else why it is built (see `lakehouse.elt.state`). A read built
    earlier in this run counts at its current snapshot if it is up to date, else it forces a build."""
    if table is None or table.current_snapshot() is None:
        return "new table"
    earlier = {s.model.lower(): s for s in planned}
    rebuilt = [r for r in reads if r in earlier and not earlier[r].up_to_date]
    ids = {r: earlier[r].target_snapshot_id if r in earlier else inputs.get(r) for r in reads}
    return why_stale(
        last_build(table, name),
        tuple(sql_hash(s) for s in sqls),
        chash,
        ids,
        {r: schemas.get(r) for r in reads},
        rebuilt,
    )
