"""How each strategy writes a model's new data files (nothing is committed here).

- overwrite: every live file of the table is replaced by the model's output;
- append: only rows newer than the table's `max(watermark)` are added;
- merge: copy-on-write upsert on `unique_key`: only the files holding a key of the new rows are
  rewritten (without those rows), next to the new rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lakehouse.core.schemas import quote_ident
from lakehouse.elt.plan import Step
from lakehouse.elt.reads import pinned, rewrite_pinned
from lakehouse.io.writer import WrittenFiles, copy_to_data_files
from lakehouse.ops.upsert import NEW, check_keys, plan_upsert, write_upsert
from lakehouse.table.snapshots import live_files

if TYPE_CHECKING:
    from pyiceberg.manifest import DataFile
    from pyiceberg.table import Table

    from lakehouse.io.engine import Engine


@dataclass(frozen=True)
class ModelWrite:
    """The files a model's snapshot removes and adds, and the rows it brings."""

    written: WrittenFiles
    deleted: list[DataFile] = field(default_factory=list)
    new_rows: int | None = None  # merge: the rows of the model's output (some replace old ones)
    summary: dict[str, str] = field(default_factory=dict)  # merge: lake.rows-updated, lake.rows-inserted

    @property
    def rows(self) -> int:
        return self.written.rows if self.new_rows is None else self.new_rows


def write_model(
    engine: Engine,
    load: Callable[[str], Table],
    table: Table,
    step: Step,
    parent_id: int | None,
    sql: str,
    write_id: str,
) -> ModelWrite:
    """Write the data files of `step` from its rewritten `sql` on top of snapshot `parent_id`."""
    if step.strategy == "overwrite":
        snapshot = table.metadata.snapshot_by_id(parent_id) if parent_id is not None else None
        deleted = live_files(table.io, snapshot)  # delete files (from other engines) go too
        return ModelWrite(copy_to_data_files(engine, table, sql, write_id=write_id), deleted)
    if step.strategy == "append":
        return ModelWrite(_append(engine, load, table, step, parent_id, sql, write_id))
    return merge(engine, table, parent_id, sql, list(step.unique_key), write_id, step.model)


def _append(
    engine: Engine,
    load: Callable[[str], Table],
    table: Table,
    step: Step,
    parent_id: int | None,
    sql: str,
    write_id: str,
) -> WrittenFiles:
    name = step.model
    wm = quote_ident(step.watermark or "")
    this_sql = rewrite_pinned(f"SELECT max({wm}) AS m FROM {name}", load, pinned({name: parent_id}))
    filtered = (
        f"SELECT * FROM ({sql}) AS lake_model "
        f"WHERE (SELECT m FROM ({this_sql}) AS lake_wm) IS NULL OR {wm} > (SELECT m FROM ({this_sql}) AS lake_wm)"
    )
    return copy_to_data_files(engine, table, filtered, write_id=write_id)


def merge(
    engine: Engine, table: Table, parent_id: int | None, sql: str, keys: list[str], write_id: str, name: str
) -> ModelWrite:
    """Copy-on-write upsert (`lakehouse.ops.upsert`): rewrite only the files that hold a key of the new rows.

    A model's output is not refused for repeated or NULL keys: the model's checks (e.g. `unique`)
    audit the staged snapshot and stop the run before it is published.
    """
    with engine.temp_table(NEW, sql):
        names = check_keys(engine, table, name, keys, "the model's output", strict=False)
        plan = plan_upsert(engine, table, name, names, parent_id)
        written = write_upsert(engine, table, plan, write_id)
    return ModelWrite(written, list(plan.replaced), plan.source_rows, plan.summary())
