"""The plan of `lake run`, as frozen data: the models in order, how each is written, its rendered SQL,
and every input table resolved to ONE snapshot id at the start, so a concurrent ingest cannot make a
run see two states. `--dry-run` prints the plan; `lakehouse.elt.execute` runs exactly that plan.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from lakehouse.elt.checks import Check, parse_checks
from lakehouse.elt.models import sql_hash
from lakehouse.elt.project import Project
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
    strategy: str  # overwrite | append | merge
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "strategy": self.strategy,
            "incremental": self.incremental,
            "exists": self.exists,
            "previous_snapshot_id": self.target_snapshot_id,
            "reads": list(self.reads),
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
    full_refresh: bool = False
    as_of: AsOf = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "project": self.project,
            "full_refresh": self.full_refresh,
            "inputs": dict(self.inputs),
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
) -> RunPlan:
    """Order the selected models and pin every input to one snapshot id, now."""
    names = project.select(select)
    reads = ReadPlan.parse(as_of)
    rebuild = full_refresh or as_of is not None  # older inputs cannot be merged into today's table
    inputs: dict[str, int | None] = {}
    for ident in project.inputs(names):
        try:
            table = load(ident)
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
            current = load(name).current_snapshot()
            exists = True
        except NoSuchTableError:
            current, exists = None, False
        incremental = model.config.materialized == "incremental" and current is not None and not rebuild
        sql = model.render(incremental=incremental)
        config = model.config
        steps.append(
            Step(
                model=model.name,
                strategy=config.strategy if incremental else "overwrite",
                incremental=incremental,
                sql=sql,
                sql_hash=sql_hash(sql),
                reads=tuple(model.depends_on),
                partition_by=config.partition_by,
                checks=tuple(parse_checks(model.name, config.checks)),
                target_snapshot_id=current.snapshot_id if current else None,
                exists=exists,
                unique_key=tuple(config.unique_key),
                watermark=config.watermark,
                columns=_frozen(config.columns),
                description=config.description,
                on_schema_change=config.on_schema_change,
            )
        )
    return RunPlan(new_run_id(), str(project.root), tuple(steps), _frozen(inputs), full_refresh, as_of)
