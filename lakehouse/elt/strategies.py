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

from pyiceberg.manifest import DataFileContent

from lakehouse.core.schemas import quote_ident
from lakehouse.elt.plan import Step
from lakehouse.elt.reads import pinned, rewrite_pinned
from lakehouse.io.fieldids import read_live
from lakehouse.io.storage import local_path
from lakehouse.io.writer import WrittenFiles, copy_to_data_files
from lakehouse.table.snapshots import live_entries, live_files

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
    return merge(engine, table, parent_id, sql, list(step.unique_key), write_id)


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
    engine: Engine, table: Table, parent_id: int | None, sql: str, keys: list[str], write_id: str
) -> ModelWrite:
    """Copy-on-write upsert: rewrite only the files that hold a key of the new rows."""
    with engine.temp_table("lake_new", sql):
        return _merge_into(engine, table, parent_id, keys, write_id)


def _merge_into(
    engine: Engine, table: Table, parent_id: int | None, keys: list[str], write_id: str
) -> ModelWrite:
    new_rows = int(engine.value("SELECT count(*) FROM lake_new"))
    snapshot = table.metadata.snapshot_by_id(parent_id) if parent_id is not None else None
    entries = live_entries(table.io, snapshot)  # delete files from other engines apply: read_live
    live = [e.data_file for e in entries if e.data_file.content == DataFileContent.DATA]

    def norm(path: str) -> str:
        return str(local_path(path)) if path.startswith("file://") else path

    by_path = {norm(f.file_path): f for f in live}
    cols = ", ".join(quote_ident(f.name) for f in table.schema().fields)
    on = " AND ".join(f"f.{quote_ident(k)} = n.{quote_ident(k)}" for k in keys)
    affected: list[DataFile] = []
    if live and new_rows:
        # Old files are read by field id (a renamed column keeps its values), never by Hive folder names.
        hit = engine.rows(
            f"SELECT DISTINCT f.lake_filename FROM ({read_live(table, entries, with_filename=True)}) AS f "
            f"SEMI JOIN lake_new AS n ON {on}"
        )
        affected = [by_path[norm(row[0])] for row in hit]
    if affected:
        paths = {f.file_path for f in affected}
        rewritten = [
            e
            for e in entries
            if e.data_file.content != DataFileContent.DATA or e.data_file.file_path in paths
        ]
        select = (
            f"SELECT {cols} FROM ({read_live(table, rewritten)}) AS f ANTI JOIN lake_new AS n ON {on} "
            f"UNION ALL SELECT {cols} FROM lake_new"
        )
    else:
        select = f"SELECT {cols} FROM lake_new"
    written = copy_to_data_files(engine, table, select, write_id=write_id)
    return ModelWrite(written, affected, new_rows)
