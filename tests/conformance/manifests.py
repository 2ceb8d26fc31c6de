"""The live files of a snapshot, read from the Avro manifests by DuckDB's `read_avro`, not by pyiceberg.

pyiceberg 0.12 misreads some manifest fields (double partition values as float32, see upstream.py),
so the oracles that judge what our writers recorded must read the Avro themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conformance.storage import duck
from lakehouse.core.config import Profile

DATA, POSITION_DELETES, EQUALITY_DELETES = 0, 1, 2
DELETED = 2  # manifest entry status


@dataclass
class Entry:
    """One live manifest entry, with inherited sequence numbers resolved."""

    content: int
    path: str
    spec_id: int
    partition: dict[str, Any]
    record_count: int
    data_sequence_number: int
    file_sequence_number: int
    manifest_sequence_number: int
    snapshot_id: int
    value_counts: dict[int, int] = field(default_factory=dict)
    null_value_counts: dict[int, int] = field(default_factory=dict)
    nan_value_counts: dict[int, int] = field(default_factory=dict)
    lower_bounds: dict[int, bytes] = field(default_factory=dict)
    upper_bounds: dict[int, bytes] = field(default_factory=dict)


def _pairs(value: Any) -> dict[int, Any]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    return {k: v for k, v in value}


def _avro(profile: Profile, path: str) -> list[dict[str, Any]]:
    con = duck(profile)
    try:
        table = con.execute("SELECT * FROM read_avro(?)", [path]).fetch_arrow_table()
    finally:
        con.close()
    return table.to_pylist(maps_as_pydicts="strict") if table.num_rows else []


def manifest_list(profile: Profile, path: str) -> list[dict[str, Any]]:
    return _avro(profile, path)


def live_entries(profile: Profile, manifest_list_path: str) -> list[Entry]:
    """Every ADDED/EXISTING entry reachable from a manifest list (data and delete files)."""
    out = []
    for manifest in manifest_list(profile, manifest_list_path):
        mseq = manifest["sequence_number"]
        for row in _avro(profile, manifest["manifest_path"]):
            if row["status"] == DELETED:
                continue
            df = row["data_file"]
            added = row["status"] == 1
            seq = row["sequence_number"] if row["sequence_number"] is not None else (mseq if added else None)
            fseq = row.get("file_sequence_number")
            fseq = fseq if fseq is not None else (mseq if added else None)
            assert seq is not None, f"existing entry {df['file_path']} has no data sequence number"
            out.append(
                Entry(
                    content=df.get("content") or 0,
                    path=df["file_path"],
                    spec_id=manifest["partition_spec_id"],
                    partition=dict(df["partition"] or {}),
                    record_count=df["record_count"],
                    data_sequence_number=seq,
                    file_sequence_number=fseq if fseq is not None else -1,
                    manifest_sequence_number=mseq,
                    snapshot_id=row["snapshot_id"],
                    value_counts=_pairs(df.get("value_counts")),
                    null_value_counts=_pairs(df.get("null_value_counts")),
                    nan_value_counts=_pairs(df.get("nan_value_counts")),
                    lower_bounds=_pairs(df.get("lower_bounds")),
                    upper_bounds=_pairs(df.get("upper_bounds")),
                )
            )
    return out
