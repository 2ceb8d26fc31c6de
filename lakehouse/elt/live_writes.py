"""Which writes a table's rows at one snapshot come from: its live data files grouped by the snapshot
that added them (the manifest entry's snapshot id).

A file added by a compaction (`replace`) or a rollback carries rows that earlier writes made, so the
groups of the snapshot it started from are followed instead and marked `compacted_into`. A write whose
files another write has since replaced entirely (an overwrite) is not live and is not listed.
"""

from __future__ import annotations

from typing import Any

from pyiceberg.manifest import DataFileContent, ManifestContent
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

from lakehouse.table.snapshots import iso_ms

MAX_DEPTH = 32


def _added_by(table: Table, snapshot: Snapshot) -> dict[int, tuple[int, int]]:
    """Live data files of `snapshot` per adding snapshot id: (files, rows)."""
    counts: dict[int, tuple[int, int]] = {}
    for manifest in snapshot.manifests(table.io):
        if manifest.content != ManifestContent.DATA:
            continue
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            if entry.data_file.content != DataFileContent.DATA or entry.snapshot_id is None:
                continue
            files, rows = counts.get(entry.snapshot_id, (0, 0))
            counts[entry.snapshot_id] = (files + 1, rows + entry.data_file.record_count)
    return counts


def _origin(table: Table, adder: Snapshot) -> Snapshot | None:
    """For a snapshot that only reorganised rows, the snapshot whose rows it holds; else None."""
    props = adder.summary.additional_properties if adder.summary else {}
    if "lake.rollback-to" in props:
        return table.metadata.snapshot_by_id(int(props["lake.rollback-to"]))
    if adder.summary is not None and adder.summary.operation.value == "replace" and adder.parent_snapshot_id:
        return table.metadata.snapshot_by_id(adder.parent_snapshot_id)
    return None


def _group(adder: Snapshot | None, snapshot_id: int) -> dict[str, Any]:
    if adder is None:
        return {"snapshot_id": snapshot_id, "note": "snapshot expired: its sources are no longer recorded"}
    props = adder.summary.additional_properties if adder.summary else {}
    operation = props.get("lake.operation") or (adder.summary.operation.value if adder.summary else None)
    group: dict[str, Any] = {
        "snapshot_id": snapshot_id,
        "committed_at": iso_ms(adder.timestamp_ms),
        "operation": operation,
        "live_files": 0,
        "live_rows": 0,
    }
    for key in ("lake.sources", "lake.rows", "lake.run-id"):
        if key in props:
            group[key.removeprefix("lake.").replace("-", "_")] = props[key]
    return group


def live_writes(table: Table, snapshot: Snapshot, _depth: int = 0) -> list[dict[str, Any]]:
    """One group per write whose rows are live at `snapshot`, oldest first: its snapshot, operation,
    sources (ingest) or run id, the files and rows it added that are still live, and the compactions
    or rollbacks (`compacted_into`) through which the rest of its rows are live."""
    groups: dict[int, dict[str, Any]] = {}
    for adder_id, (files, rows) in _added_by(table, snapshot).items():
        adder = table.metadata.snapshot_by_id(adder_id)
        origin = _origin(table, adder) if adder is not None else None
        if origin is not None and _depth < MAX_DEPTH:
            for earlier in live_writes(table, origin, _depth + 1):
                group = groups.setdefault(
                    earlier["snapshot_id"], {**earlier, "live_files": 0, "live_rows": 0}
                )
                via = group.setdefault("compacted_into", [])
                via.extend(v for v in [*earlier.get("compacted_into", []), adder_id] if v not in via)
            continue
        group = groups.setdefault(adder_id, _group(adder, adder_id))
        group["live_files"] = group.get("live_files", 0) + files
        group["live_rows"] = group.get("live_rows", 0) + rows
    return [groups[k] for k in sorted(groups, key=lambda sid: (groups[sid].get("committed_at", ""), sid))]
