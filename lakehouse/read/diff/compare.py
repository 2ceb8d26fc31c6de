"""Diff one table between two snapshots: `diff` (counts, rows, schema changes) and `changes_sql`
(the net change as SQL, for `changes()` in queries and models)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pyiceberg.schema import Schema

from lakehouse.core.schemas import quote_literal
from lakehouse.errors import LakehouseError, SnapshotNotFoundError
from lakehouse.io.live import read_live
from lakehouse.read.diff.files import FileDiff, Side, file_diff
from lakehouse.read.diff.result import DiffResult, Step
from lakehouse.read.diff.rows import changes_select, compare, except_all
from lakehouse.read.schemachanges import schema_changes
from lakehouse.table.snapshots import iso_ms

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot

    from lakehouse.io.engine import Engine
    from lakehouse.read.tables import TableReader


def schema_of(table: Table, snapshot: Snapshot, latest: bool = False) -> Schema:
    """The schema a snapshot was written with (the table's current one if it names none). `latest`:
    the table's current schema, as a read of the current snapshot sees a rename or a drop at once."""
    if latest or snapshot.schema_id is None:
        return table.schema()
    return table.schemas().get(snapshot.schema_id, table.schema())


def _common(old: Schema, new: Schema) -> Schema:
    """The columns in both schemas, named and typed as in `new`."""
    ids = {f.field_id for f in old.fields}
    return Schema(*[f for f in new.fields if f.field_id in ids], schema_id=new.schema_id)


def _files(table: Table, engine: Engine, before: Snapshot, after: Snapshot) -> FileDiff:
    def named(paths: list[str]) -> set[str]:
        listed = ", ".join(quote_literal(p) for p in paths)
        return {r[0] for r in engine.rows(f"SELECT DISTINCT file_path FROM read_parquet([{listed}])")}

    return file_diff(table, before, after, named)


def _sql(table: Table, side: Side, schema: Schema) -> str:
    return read_live(table, side.entries, schema=schema)


def changes_sql(table: Table, engine: Engine, before: Snapshot, after: Snapshot, latest: bool = False) -> str:
    """`change_type` then the table's columns in `after`'s schema: the rows removed ('delete') and
    added ('insert') from `before` to `after`, as multisets."""
    schema = schema_of(table, after, latest)
    files = _files(table, engine, before, after)
    names = [f.name for f in schema.fields]
    return changes_select(_sql(table, files.before, schema), _sql(table, files.after, schema), names)


def net_change(
    table: Table, engine: Engine, before: Snapshot | None, after: Snapshot | None
) -> tuple[str, str, FileDiff]:
    """The SQL of the rows removed and of the rows added from `before` to `after` (multisets, in the
    table's current schema), and the files that differ: what a snapshot-incremental model reads."""
    schema = table.schema()
    files = _files(table, engine, before, after)  # type: ignore[arg-type]  # None: no snapshot, no file
    names = [f.name for f in schema.fields]
    old, new = _sql(table, files.before, schema), _sql(table, files.after, schema)
    return except_all(old, new, names), except_all(new, old, names), files


def _pick(wanted: Sequence[str], schema: Schema, what: str, identifier: str) -> list[str]:
    by_lower = {f.name.lower(): f.name for f in schema.fields}
    out = []
    for name in wanted:
        found = by_lower.get(name.strip().lower())
        if found is None:
            raise LakehouseError(
                f"{what} column {name!r} is not in both snapshots of {identifier}; "
                f"columns in both: {', '.join(by_lower.values()) or 'none'}"
            )
        if found not in out:
            out.append(found)
    return out


def steps(table: Table, before: Snapshot, after: Snapshot) -> tuple[Step, ...]:
    """The snapshots after `before` up to `after`, oldest first (empty if `after` does not descend from it)."""
    chain = []
    current: Snapshot | None = after
    while current is not None and current.snapshot_id != before.snapshot_id:
        chain.append(current)
        parent = current.parent_snapshot_id
        current = table.metadata.snapshot_by_id(parent) if parent is not None else None
    if current is None:
        return ()

    def count(s: Snapshot, name: str) -> int | None:
        value = s.summary.get(name) if s.summary is not None else None
        return int(value) if value is not None else None

    return tuple(
        Step(
            s.snapshot_id,
            s.summary.operation.value if s.summary else "unknown",
            iso_ms(s.timestamp_ms),
            count(s, "added-records"),
            count(s, "deleted-records"),
        )  # fmt: skip
        for s in reversed(chain)
    )


def diff(
    table: Table, identifier: str, engine: Engine, before: Snapshot, after: Snapshot, *,
    refs: tuple[str | None, str | None] = (None, None), key: Sequence[str] = (),
    columns: Sequence[str] | None = None, limit: int | None = None, latest: bool = False,
) -> DiffResult:  # fmt: skip
    """The net change of `identifier` from snapshot `before` to `after`."""
    start = time.perf_counter()
    if limit is not None and limit < 0:
        raise LakehouseError(f"--limit must be 0 or more, not {limit}")
    old, new = schema_of(table, before), schema_of(table, after, latest)
    common = _common(old, new)
    keys = _pick(key, common, "key", identifier)
    compared = _pick(columns, common, "compared", identifier) if columns else [f.name for f in common.fields]
    wanted = set(keys) | set(compared)
    projected = [f.name for f in common.fields if f.name in wanted]
    if not projected:
        raise LakehouseError(f"{identifier}: the two snapshots have no column in common to compare")
    files = _files(table, engine, before, after)
    rows = compare(
        engine, _sql(table, files.before, common), _sql(table, files.after, common), projected, keys, limit
    )
    notes = []
    if not files.files_read:
        notes.append("no data file differs between the two snapshots: nothing was read")
    return DiffResult(
        table=identifier, from_snapshot_id=before.snapshot_id, to_snapshot_id=after.snapshot_id,
        from_ref=refs[0], to_ref=refs[1], snapshots=steps(table, before, after), key=tuple(keys),
        columns=tuple(c for c in projected if c not in keys), schema_changes=schema_changes(old, new),
        rows_added=rows.added, rows_removed=rows.removed, rows_changed=rows.changed,
        files_added=files.files_added, files_removed=files.files_removed, files_read=files.files_read,
        bytes_read=files.bytes_read, table_bytes=files.table_bytes, added=rows.added_rows,
        removed=rows.removed_rows, changed=rows.changed_rows, limit=limit,
        seconds=time.perf_counter() - start, notes=tuple(notes),
    )  # fmt: skip


def changes_between(
    tables: TableReader, identifier: str, old: str | int | None, new: str | int | None
) -> str:
    """`changes(identifier, OLD, NEW)` in a query: `new` None is the current snapshot."""
    from lakehouse.read.plan import erased_ref
    from lakehouse.table.snapshots import choose

    table = tables.load(identifier)
    before = choose(table, identifier, erased_ref(table, old))
    after = choose(table, identifier, erased_ref(table, new))
    if before is None or after is None:
        raise SnapshotNotFoundError(f"{identifier} has no snapshots yet; write to it first")
    with tables.engine(()) as engine:
        return changes_sql(table, engine, before, after, latest=new is None)
