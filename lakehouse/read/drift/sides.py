"""What `lake drift` compares: two sides (a table at a reference, and the same or another table at a
second one), the columns both have, each column's kind, and the schema changes between them.

The same table is matched by field id, so a renamed column is one column (reported as renamed); two
tables are matched by name, case-insensitively. Each side is read with `read_live` (by field id, delete
files applied), as `lake diff` reads, so DuckDB streams both and nothing is loaded whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyiceberg.schema import Schema
from pyiceberg.types import (
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    FloatType,
    IcebergType,
    IntegerType,
    LongType,
    StringType,
    TimestampType,
    TimestamptzType,
    UUIDType,
)

from lakehouse.io.live import read_live
from lakehouse.read.drift.result import ColumnKind, SchemaChange
from lakehouse.read.schemachanges import matched, schema_changes
from lakehouse.table.snapshots import live_entries

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot

_NUMERIC = (IntegerType, LongType, FloatType, DoubleType, DecimalType)
_CATEGORICAL = (StringType, BooleanType, UUIDType)
_TEMPORAL = (DateType, TimestampType, TimestamptzType)


@dataclass(frozen=True)
class Column:
    name: str  # as the current side names it
    kind: ColumnKind
    type: str


@dataclass(frozen=True)
class Sides:
    reference_sql: str
    current_sql: str
    columns: tuple[Column, ...]
    schema_changes: tuple[SchemaChange, ...]
    notes: tuple[str, ...]
    # Rows each side holds, from its snapshot summary (None when unknown): how much to sample.
    reference_rows: int | None = None
    current_rows: int | None = None


def kind_of(field_type: IcebergType) -> ColumnKind | None:
    if isinstance(field_type, _NUMERIC):
        return "numeric"
    if isinstance(field_type, _CATEGORICAL):
        return "categorical"
    if isinstance(field_type, _TEMPORAL):
        return "temporal"
    return None  # binary, nested, time: not compared


def schema_at(table: Table, snapshot: Snapshot | None, latest: bool = False) -> Schema:
    """The schema a snapshot was written with; `latest`: the table's current one (a read of the
    current snapshot sees a rename or a dropped column at once, as queries do)."""
    if latest or snapshot is None or snapshot.schema_id is None:
        return table.schema()
    return table.schemas().get(snapshot.schema_id, table.schema())


def sides(
    reference: tuple[Table, Snapshot | None],
    current: tuple[Table, Snapshot | None],
    same_table: bool,
    wanted: list[str] | None,
    current_is_latest: bool = False,
) -> Sides:
    """Both sides' SQL over the columns they share (named as the current side names them)."""
    (ref_table, ref_snap), (cur_table, cur_snap) = reference, current
    old, new = schema_at(ref_table, ref_snap), schema_at(cur_table, cur_snap, current_is_latest)
    changes = schema_changes(old, new, by_name=not same_table)
    pairs = [(was.field_id, f.field_id) for was, f in matched(old, new, by_name=not same_table)]
    retyped = {c.column.lower() for c in changes if c.kind == "retyped"}
    notes: list[str] = []
    columns: list[Column] = []
    ref_fields, cur_fields = [], []
    chosen = {w.strip().lower() for w in wanted} if wanted else None
    for ref_id, cur_id in pairs:
        field = new.find_field(cur_id)
        if chosen is not None and field.name.lower() not in chosen:
            continue
        kind = kind_of(field.field_type)
        if kind is None:
            notes.append(
                f"{field.name} ({field.field_type}) is not compared: only numbers, text, booleans and times are"
            )
            continue
        if field.name.lower() in retyped and kind_of(old.find_field(ref_id).field_type) != kind:
            notes.append(f"{field.name} is not compared: its type changed kind")
            continue
        columns.append(Column(field.name, kind, str(field.field_type)))
        ref_field = old.find_field(ref_id)
        ref_fields.append(ref_field.model_copy(update={"name": field.name}))
        cur_fields.append(field)
    if chosen is not None:
        known = {f.name.lower() for f in new.fields}
        missing = sorted(chosen - known)
        if missing:
            from lakehouse.errors import LakehouseError

            raise LakehouseError(
                f"--columns: {', '.join(missing)} not in the current side; its columns: "
                + ", ".join(f.name for f in new.fields)
            )
    ref_sql = _side_sql(ref_table, ref_snap, Schema(*ref_fields))
    cur_sql = _side_sql(cur_table, cur_snap, Schema(*cur_fields))
    return Sides(
        ref_sql, cur_sql, tuple(columns), changes, tuple(notes), _records(ref_snap), _records(cur_snap)
    )


def _records(snapshot: Snapshot | None) -> int | None:
    if snapshot is None:
        return 0
    value = snapshot.summary.get("total-records") if snapshot.summary is not None else None
    return int(value) if value is not None else None


def _side_sql(table: Table, snapshot: Snapshot | None, schema: Schema) -> str:
    return read_live(table, live_entries(table.io, snapshot), schema=schema)
