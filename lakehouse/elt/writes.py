"""What a model's write produces (`ModelWrite`), and the merge that strategies share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lakehouse.io.writer import WrittenFiles
from lakehouse.ops.upsert import NEW, check_keys, plan_upsert, write_upsert

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


def merge(
    engine: Engine,
    table: Table,
    parent_id: int | None,
    sql: str,
    keys: list[str],
    write_id: str,
    name: str,
    match: str | None = None,
) -> ModelWrite:
    """Copy-on-write upsert (`lakehouse.ops.upsert`): rewrite only the files that hold a key of the new rows.

    A model's output is not refused for repeated or NULL keys: the model's checks (e.g. `unique`)
    audit the staged snapshot and stop the run before it is published.
    """
    with engine.temp_table(NEW, sql):
        names = check_keys(engine, table, name, keys, "the model's output", strict=False)
        plan = plan_upsert(engine, table, name, names, parent_id, match or NEW)
        written = write_upsert(engine, table, plan, write_id)
    return ModelWrite(written, list(plan.replaced), plan.source_rows, plan.summary())
