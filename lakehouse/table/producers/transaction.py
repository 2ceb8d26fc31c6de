"""Private pyiceberg calls on a transaction or catalog, each behind a named function."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.io import FileIO
from pyiceberg.schema import Schema, assign_fresh_schema_ids
from pyiceberg.table import Table, TableProperties, Transaction
from pyiceberg.table.refs import SnapshotRefType
from pyiceberg.table.snapshots import Snapshot
from pyiceberg.table.update import AddSnapshotUpdate, RemoveSnapshotRefUpdate, TableRequirement, TableUpdate


def table_io(tx: Transaction) -> FileIO:
    return tx._table.io


def staged_snapshots(tx: Transaction) -> list[Snapshot]:
    """The snapshots this transaction adds, in staging order."""
    return [u.snapshot for u in tx._updates if isinstance(u, AddSnapshotUpdate)]


def commit_once(tx: Transaction) -> Table:
    """Commit without pyiceberg's own retry. On a lost race pyiceberg (0.12) refreshes the table and
    rebuilds the staged snapshots on the new head, but it does not run our staging again, so the checks
    made while staging (rollback's "the table is still where the plan saw it", a run's parent check)
    would be skipped and, e.g., a rollback would land on top of a concurrent ingest. lake's own retry
    loop reloads and re-stages instead. The override lives in this transaction's copy of the metadata
    only; nothing is written to the table."""
    table = tx._table
    properties = {**table.metadata.properties, TableProperties.COMMIT_NUM_RETRIES: "0"}
    table.metadata = table.metadata.model_copy(update={"properties": properties})
    return tx.commit_transaction()


def understands_custom_updates(tx: Transaction) -> bool:
    """Our own updates and requirements are applied by pyiceberg in this process; a REST server could
    not read them (it gets only the standard ones)."""
    from pyiceberg.catalog.rest import RestCatalog

    return not isinstance(tx._table.catalog, RestCatalog)


def apply_updates(tx: Transaction, updates: Iterable[TableUpdate | Any]) -> None:
    """Stage metadata updates that have no public builder (remove refs and snapshots together)."""
    tx._apply(tuple(updates))


def require(tx: Transaction, requirement: TableRequirement | Any) -> None:
    """Add a requirement the catalog checks atomically with its compare-and-swap. A REST server cannot
    read ours: our REST catalog checks them just before committing (table/restcatalog.py); others skip them."""
    if understands_custom_updates(tx) or getattr(tx._table.catalog, "checks_lake_requirements", False):
        tx._stage((), (requirement,))


def point_branch(tx: Transaction, name: str, snapshot_id: int | None) -> None:
    """Create or move branch `name` to `snapshot_id` inside the transaction."""
    tx._stage(*tx._set_ref_snapshot(snapshot_id=snapshot_id, ref_name=name, type=SnapshotRefType.BRANCH))  # type: ignore[arg-type]


def remove_ref(tx: Transaction, name: str) -> None:
    tx._stage((RemoveSnapshotRefUpdate(ref_name=name),))  # type: ignore[call-arg]


def iceberg_schema(arrow_schema: pa.Schema) -> Schema:
    """An Iceberg schema with fresh field ids for an Arrow schema, as pyiceberg's create_table makes it."""
    return assign_fresh_schema_ids(Catalog._convert_schema_if_needed(arrow_schema))  # type: ignore[arg-type]


def default_location(catalog: Catalog, namespace: str, name: str) -> str:
    """Where the catalog would put a new table's files."""
    return str(catalog._resolve_table_location(None, namespace, name))  # type: ignore[attr-defined]
