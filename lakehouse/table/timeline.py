"""`lake snapshots`: every snapshot of a table, oldest first, read from its metadata JSON alone."""

from __future__ import annotations

from typing import Any

from lakehouse.table.metadata import Snapshot, TableMeta
from lakehouse.table.snapshots import full_log, iso_ms


def list_snapshots(meta: TableMeta) -> list[dict[str, Any]]:
    """Every snapshot still in the table's metadata, oldest first."""
    refs: dict[int, list[str]] = {}
    for name, ref in sorted(meta.refs.items()):
        refs.setdefault(ref.snapshot_id, []).append(name)
    published: dict[int, int] = {}
    for snapshot_id, ms in full_log(meta):
        published.setdefault(snapshot_id, ms)
    snapshots = sorted(meta.snapshots, key=lambda s: (s.timestamp_ms, s.sequence_number or 0))
    return [
        snapshot_row(s, refs.get(s.snapshot_id, []), meta.current_snapshot_id, published.get(s.snapshot_id))
        for s in snapshots
    ]


def snapshot_row(
    snapshot: Snapshot, refs: list[str], current_id: int | None, published_ms: int | None = None
) -> dict[str, Any]:
    """What `lake snapshots` shows for one snapshot (ids stay Python ints: exact in JSON).

    `published_at` is when the table's main branch first reached the snapshot (its snapshot-log entry):
    `--as-of <time>` resolves by it, as Iceberg does. A `lake run` snapshot is committed on an audit
    branch and published after its checks, so the two differ; None: never on main (or its log is gone)."""
    summary = snapshot.summary

    def count(key: str) -> int:
        value = summary.get(key)
        return int(value) if value not in (None, "") else 0

    return {
        "snapshot_id": snapshot.snapshot_id,
        "parent_id": snapshot.parent_snapshot_id,
        "committed_at": iso_ms(snapshot.timestamp_ms),
        "published_at": None if published_ms is None else iso_ms(published_ms),
        "operation": summary.get("operation"),
        "added_rows": count("added-records"),
        "deleted_rows": count("deleted-records"),
        "added_files": count("added-data-files"),
        "deleted_files": count("deleted-data-files"),
        "total_rows": count("total-records"),  # in data files; deletes not applied
        # Row-level deletes from other engines (`lake describe --as-of` gives the live rows).
        "total_delete_files": count("total-delete-files"),
        "total_position_deletes": count("total-position-deletes"),
        "total_equality_deletes": count("total-equality-deletes"),
        "refs": refs,
        "current": snapshot.snapshot_id == current_id,
        "rollback_to": int(summary["lake.rollback-to"]) if "lake.rollback-to" in summary else None,
    }
