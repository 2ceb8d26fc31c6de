"""How each strategy writes a model's new data files (nothing is committed here).

- overwrite: every live file of the table is replaced by the model's output;
- snapshot: only what the inputs changed since the last build is read (`lakehouse.elt.increment_write`);
- append: the incremental SQL's rows are added as they are (dbt's `append`);
- watermark: only rows newer than the table's `max(watermark)` are added;
- merge: the SQL's own `is_incremental()` filter decides what is read; copy-on-write upsert on
  `unique_key` (`lakehouse.elt.writes.merge`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from lakehouse.core.schemas import quote_ident
from lakehouse.elt.increment_write import write_increment
from lakehouse.elt.plan import Step
from lakehouse.elt.reads import pinned, rewrite_pinned
from lakehouse.elt.writes import ModelWrite, merge
from lakehouse.io.writer import WrittenFiles, copy_to_data_files
from lakehouse.table.snapshots import live_files

if TYPE_CHECKING:
    from pyiceberg.table import Table

    from lakehouse.io.engine import Engine


def write_model(
    engine: Engine,
    load: Callable[[str], Table],
    table: Table,
    step: Step,
    parent_id: int | None,
    sql: str,
    write_id: str,
    ids: Mapping[str, int | None],
) -> ModelWrite:
    """Write the data files of `step` from its rewritten `sql` on top of snapshot `parent_id`, its
    inputs read at the snapshot `ids` this run pinned."""
    if step.strategy == "overwrite":
        snapshot = table.metadata.snapshot_by_id(parent_id) if parent_id is not None else None
        deleted = live_files(table.io, snapshot)  # delete files (from other engines) go too
        return ModelWrite(copy_to_data_files(engine, table, sql, write_id=write_id), deleted)
    if step.strategy == "snapshot":
        return write_increment(engine, load, table, step, parent_id, ids, write_id)
    if step.strategy == "append":  # dbt's: the incremental SQL's rows, as they are
        return ModelWrite(copy_to_data_files(engine, table, sql, write_id=write_id))
    if step.strategy == "watermark":
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
