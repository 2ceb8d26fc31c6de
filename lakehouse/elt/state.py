"""Data-aware runs: is a model's table already what building it now would give?

Each snapshot `lake run` publishes records what it was built from: `lake.sql-hash` (the SQL that ran),
`lake.config-hash` (the model's `config()`), `lake.inputs` (each input table -> the snapshot id read)
and `lake.input-schemas` (each input -> its schema id, since a rename changes what `SELECT *` returns
without a new snapshot). A model is up to date when its table's data still comes from such a snapshot
(compactions and manifest rewrites since then are looked through: they keep the data) and every one
of these equals what this run would use. Anything else - a write by another tool, a rollback, an
expired history, a first build that failed its checks - rebuilds: skipping is only ever a proof.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lakehouse.elt.models import ModelConfig

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot

MAX_WALK = 1000  # snapshots to look back through compactions before giving up (and rebuilding)


def config_hash(config: ModelConfig) -> str:
    """What of `config()` shapes a build: everything but tags (which only select)."""
    text = json.dumps(config.to_dict(), sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Built:
    """What the snapshot that produced a model's current data recorded (None: not a `lake run` build)."""

    snapshot_id: int
    sql_hash: str
    config_hash: str | None
    inputs: Mapping[str, str]  # table -> snapshot id as text ("None": empty when read)
    input_schemas: Mapping[str, str] | None


def _props(snapshot: Snapshot) -> dict[str, Any]:
    return dict(snapshot.summary.additional_properties) if snapshot.summary else {}


def last_build(table: Table, model: str) -> Built | None:
    """The run that wrote the data `main` holds now, looking back through `replace` snapshots
    (compaction, rewrite-manifests: same rows); None when anything else wrote since."""
    snapshot = table.current_snapshot()
    for _ in range(MAX_WALK):
        if snapshot is None:
            return None
        props = _props(snapshot)
        if "lake.sql-hash" in props:
            if str(props.get("lake.model", "")).lower() != model.lower():
                return None
            return Built(
                snapshot.snapshot_id,
                str(props["lake.sql-hash"]),
                props.get("lake.config-hash"),
                json.loads(props.get("lake.inputs") or "{}"),
                json.loads(props["lake.input-schemas"]) if "lake.input-schemas" in props else None,
            )
        operation = snapshot.summary.operation.value if snapshot.summary else ""
        if operation != "replace" or "lake.rollback-to" in props or snapshot.parent_snapshot_id is None:
            return None
        snapshot = table.metadata.snapshot_by_id(snapshot.parent_snapshot_id)
    return None


def why_stale(
    built: Built | None,
    sql_hashes: tuple[str, ...],
    config: str,
    inputs: Mapping[str, int | None],
    schemas: Mapping[str, int | None],
    rebuilt: Sequence[str] = (),
) -> str:
    """Why the model must be built ("" when it is up to date): `sql_hashes` are the hashes of SQL that
    builds it now (full and, for incremental models, incremental), `inputs` the snapshot ids this run
    reads, `schemas` their current schema ids, `rebuilt` the upstream models this run builds."""
    if built is None:
        return "its table was not last written by lake run"
    if built.sql_hash not in sql_hashes:
        return "its SQL changed"
    if built.config_hash != config:
        return "its config() changed" if built.config_hash else "built before runs recorded config()"
    if rebuilt:
        return f"upstream {', '.join(rebuilt)} is built in this run"
    if set(built.inputs) != set(inputs):
        return "it reads other tables now"
    for name, sid in sorted(inputs.items()):
        if built.inputs[name] != str(sid):
            return f"{name} changed (snapshot {built.inputs[name]} -> {sid})"
    if built.input_schemas is None:
        return "built before runs recorded input schemas"
    for name, schema_id in sorted(schemas.items()):
        if built.input_schemas.get(name) != str(schema_id):
            return f"the schema of {name} changed"
    return ""
