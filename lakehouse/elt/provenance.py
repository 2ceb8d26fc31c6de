"""`lake provenance`: walk the `lake.inputs` recorded by `lake run` from a table back to its sources.

Each node is one table at one snapshot. A snapshot written by `lake run` lists the input snapshots it
was read from; one written by `lake ingest` lists its source files and ends the chain. A snapshot that
only reorganised files (compaction, rollback) is followed back through its parents to the run that
produced the data. A table that several ingests filled holds rows of each: an ingest node lists, in
`ingests`, every ingest whose rows are still live at its snapshot (live_writes.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

from lakehouse.elt.live_writes import live_writes
from lakehouse.errors import SnapshotNotFoundError
from lakehouse.table.snapshots import choose, iso_ms

MAX_DEPTH = 32


def _summary(snapshot: Snapshot) -> dict[str, str]:
    summary = snapshot.summary
    if summary is None:
        return {}
    return {k: str(v) for k, v in summary.additional_properties.items()} | {
        "operation": str(summary.operation.value)
    }


def _producer(table: Table, snapshot: Snapshot) -> tuple[Snapshot, list[int]]:
    """The snapshot that wrote the data (itself, unless it only rewrote files), and the ones passed."""
    passed: list[int] = []
    current: Snapshot | None = snapshot
    while current is not None:
        summary = _summary(current)
        if "lake.inputs" in summary or summary.get("lake.operation", "").startswith("ingest"):
            return current, passed
        if summary.get("operation") not in ("replace",) and "lake.rollback-to" not in summary:
            return current, passed
        passed.append(current.snapshot_id)
        current = (
            table.metadata.snapshot_by_id(current.parent_snapshot_id) if current.parent_snapshot_id else None
        )
    return snapshot, passed


def provenance(
    load: Callable[[str], Table], name: str, as_of: str | int | None = None, _depth: int = 0
) -> dict[str, Any]:
    table = load(name)
    snapshot = choose(table, name, as_of)
    if snapshot is None:
        raise SnapshotNotFoundError(f"{name} has no snapshots yet")
    producer, passed = _producer(table, snapshot)
    summary = _summary(producer)
    node: dict[str, Any] = {
        "table": name,
        "snapshot_id": snapshot.snapshot_id,
        "committed_at": iso_ms(snapshot.timestamp_ms),
        "operation": summary.get("lake.operation", summary.get("operation")),
    }
    if passed:
        node["produced_by_snapshot"] = producer.snapshot_id
    for key in ("lake.run-id", "lake.sql-hash", "lake.rows", "lake.sources", "lake.rebuild"):
        if key in summary:
            node[key.removeprefix("lake.").replace("-", "_")] = summary[key]
    if "lake.increment" in summary:  # a snapshot-incremental build: what it read of each input
        node["increment"] = json.loads(summary["lake.increment"])
    inputs: list[dict[str, Any]] = []
    if "lake.inputs" in summary and _depth < MAX_DEPTH:
        for ident, sid in sorted(json.loads(summary["lake.inputs"]).items()):
            if sid in (None, "None"):
                inputs.append({"table": ident, "snapshot_id": None, "note": "empty when read"})
                continue
            try:
                inputs.append(provenance(load, ident, int(sid), _depth + 1))
            except Exception as exc:  # a dropped table or an expired snapshot ends that branch
                inputs.append({"table": ident, "snapshot_id": int(sid), "error": str(exc)})
    node["inputs"] = inputs
    if summary.get("lake.operation", "").startswith("ingest"):
        node["ingests"] = live_writes(table, snapshot)
    return node


def leaves(node: dict[str, Any]) -> list[dict[str, Any]]:
    """The snapshots at the bottom of the chain (usually bronze tables loaded by ingest)."""
    children = node.get("inputs") or []
    if not children:
        return [node]
    return [leaf for child in children for leaf in leaves(child)]
