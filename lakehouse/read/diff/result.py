"""What `Lakehouse.diff` returns: the net change of a table between two snapshots."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lakehouse.read.schemachanges import SchemaChange

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True)
class Step:
    """One snapshot committed after `from` up to and including `to`."""

    snapshot_id: int
    operation: str
    committed_at: str  # ISO-8601 UTC
    added_records: int | None
    deleted_records: int | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class DiffResult:
    """Rows added, removed and (with a key) changed from snapshot `from_snapshot_id` to `to_snapshot_id`.

    `added`, `removed` and `changed` hold at most `limit` rows each (all when None); the counts are
    always exact. `changed` has the key columns, then `old_<c>`/`new_<c>` for each compared column,
    then `changed_columns` (the columns whose values differ)."""

    table: str
    from_snapshot_id: int
    to_snapshot_id: int
    from_ref: str | None
    to_ref: str | None
    snapshots: tuple[Step, ...]  # between the two, oldest first; empty when `to` does not descend from `from`
    key: tuple[str, ...]
    columns: tuple[str, ...]  # compared (named as in `to`)
    schema_changes: tuple[SchemaChange, ...]
    rows_added: int
    rows_removed: int
    rows_changed: int
    files_added: int
    files_removed: int
    files_read: int
    bytes_read: int
    table_bytes: int  # the data files of `to`
    added: pa.Table
    removed: pa.Table
    changed: pa.Table
    limit: int | None = None
    seconds: float = 0.0
    notes: tuple[str, ...] = field(default=())

    @property
    def unchanged(self) -> bool:
        return not (self.rows_added or self.rows_removed or self.rows_changed or self.schema_changes)

    def to_dict(self, rows: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "table": self.table,
            "from_snapshot_id": self.from_snapshot_id,
            "to_snapshot_id": self.to_snapshot_id,
            "from_ref": self.from_ref,
            "to_ref": self.to_ref,
            "snapshots": [s.to_dict() for s in self.snapshots],
            "key": list(self.key),
            "columns": list(self.columns),
            "schema_changes": [dict(c.__dict__) for c in self.schema_changes],
            "rows_added": self.rows_added,
            "rows_removed": self.rows_removed,
            "rows_changed": self.rows_changed,
            "files_added": self.files_added,
            "files_removed": self.files_removed,
            "files_read": self.files_read,
            "bytes_read": self.bytes_read,
            "table_bytes": self.table_bytes,
            "limit": self.limit,
            "seconds": round(self.seconds, 3),
            "notes": list(self.notes),
        }
        if rows:
            out |= {k: getattr(self, k).to_pylist() for k in ("added", "removed", "changed")}
        return out
