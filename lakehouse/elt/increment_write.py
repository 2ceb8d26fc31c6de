"""How a snapshot-incremental model writes what its input changed (`lakehouse.elt.increments`).

- rows only added (appends, or a net change that removed nothing): the model's SQL runs over the new
  rows in place of the input, and its output is merged on unique_key (or appended without one);
- rows removed too (unique_key required, the plan made sure): the model's SQL runs over the removed
  and over the added rows, and the keys of both outputs are rebuilt from the full inputs, by a merge
  that replaces every row with those keys. That is right for any row-wise model, including two input
  rows that collapse into one output row (DISTINCT), and reads the inputs in full only then.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from lakehouse.core.schemas import quote_ident
from lakehouse.elt.increments import APPEND, Increment, Range
from lakehouse.elt.plan import Step
from lakehouse.elt.reads import pinned, rewrite_pinned
from lakehouse.elt.writes import ModelWrite, merge
from lakehouse.io.live import read_live
from lakehouse.io.writer import WrittenFiles, copy_to_data_files

if TYPE_CHECKING:
    from pyiceberg.table import Table

    from lakehouse.io.engine import Engine

REMOVED, ADDED, KEYS = "lake_inc_removed", "lake_inc_added", "lake_inc_keys"


def write_increment(
    engine: Engine,
    load: Callable[[str], Table],
    table: Table,
    step: Step,
    parent_id: int | None,
    ids: Mapping[str, int | None],
    write_id: str,
) -> ModelWrite:
    """The files of `step`'s increment on top of snapshot `parent_id`, its inputs pinned at `ids`."""
    increment = step.increment or Increment()
    changed = increment.changed
    if not changed:  # nothing new upstream: a snapshot with no file records the inputs read
        return ModelWrite(WrittenFiles(), summary=increment.summary())
    (only,) = changed
    source = load(only.table)
    reads = pinned(ids)

    def over(relation: str) -> str:
        """The model's SQL with `relation` read in place of the changed input."""
        return rewrite_pinned(step.sql, load, reads, {only.table.lower(): relation})

    if only.kind == APPEND:
        return _added(
            engine, table, step, parent_id, over(read_live(source, only.entries)), write_id, increment
        )
    from lakehouse.read.diff.compare import net_change

    before = source.metadata.snapshot_by_id(only.from_id) if only.from_id is not None else None
    after = source.metadata.snapshot_by_id(only.to_id) if only.to_id is not None else None
    removed, added, files = net_change(source, engine, before, after)
    with engine.temp_table(REMOVED, removed), engine.temp_table(ADDED, added):
        gone = int(engine.value(f"SELECT count(*) FROM {REMOVED}"))
        new = int(engine.value(f"SELECT count(*) FROM {ADDED}"))
        read = _read(only, files.files_read, files.bytes_read, new, gone)
        increment = Increment(tuple(read if r is only else r for r in increment.ranges))
        if not gone:
            return _added(engine, table, step, parent_id, over(f"SELECT * FROM {ADDED}"), write_id, increment)
        keys = ", ".join(quote_ident(k) for k in step.unique_key)
        affected = (
            f"SELECT DISTINCT {keys} FROM ({over(f'SELECT * FROM {REMOVED}')}) AS lake_r "
            f"UNION SELECT DISTINCT {keys} FROM ({over(f'SELECT * FROM {ADDED}')}) AS lake_a"
        )
        with engine.temp_table(KEYS, affected):
            full = rewrite_pinned(step.sql, load, reads)
            on = " AND ".join(f"m.{quote_ident(k)} = k.{quote_ident(k)}" for k in step.unique_key)
            rebuilt = f"SELECT m.* FROM ({full}) AS m SEMI JOIN {KEYS} AS k ON {on}"
            return _merge(engine, table, step, parent_id, rebuilt, write_id, increment, KEYS)


def _read(only: Range, files: int, bytes_read: int, added: int, removed: int) -> Range:
    """The range as it was read: the files the diff read, and its net rows."""
    note = f"{only.note}; net {added} rows added, {removed} removed"
    return replace(only, files=files, bytes=bytes_read, rows=added + removed, note=note)


def _added(
    engine: Engine,
    table: Table,
    step: Step,
    parent_id: int | None,
    sql: str,
    write_id: str,
    increment: Increment,
) -> ModelWrite:
    if step.unique_key:
        return _merge(engine, table, step, parent_id, sql, write_id, increment)
    return ModelWrite(copy_to_data_files(engine, table, sql, write_id=write_id), summary=increment.summary())


def _merge(
    engine: Engine,
    table: Table,
    step: Step,
    parent_id: int | None,
    sql: str,
    write_id: str,
    increment: Increment,
    match: str | None = None,
) -> ModelWrite:
    done = merge(engine, table, parent_id, sql, list(step.unique_key), write_id, step.model, match)
    return replace(done, summary={**done.summary, **increment.summary()})
