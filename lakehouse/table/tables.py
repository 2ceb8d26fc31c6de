"""Table lifecycle and inspection: create, list, describe, files, drop."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from pyiceberg.exceptions import NamespaceAlreadyExistsError, NoSuchNamespaceError, TableAlreadyExistsError
from pyiceberg.exceptions import NoSuchTableError as IcebergNoSuchTable
from pyiceberg.manifest import DataFileContent, ManifestEntry
from pyiceberg.schema import Schema
from pyiceberg.table import Table

from lakehouse.core.hive import human_values
from lakehouse.core.properties import DEFAULT_TABLE_PROPERTIES, check_table_properties
from lakehouse.core.schemas import (
    PartitionTerm,
    build_partition_spec,
)
from lakehouse.errors import NoSuchTableError, TableExistsError
from lakehouse.table.catalog import check_namespace, split_identifier
from lakehouse.table.claims import refuse_claimed
from lakehouse.table.deletes import LiveCounts, deleted_positions, is_data, live_counts
from lakehouse.table.snapshots import live_entries
from lakehouse.table.sqlcatalog import match_table

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table.snapshots import Snapshot


def ensure_namespace(catalog: Catalog, namespace: str) -> None:
    check_namespace(namespace)
    with contextlib.suppress(NamespaceAlreadyExistsError):
        catalog.create_namespace(namespace)


def create_table(
    catalog: Catalog,
    identifier: str,
    schema: Schema,
    partition_terms: list[PartitionTerm],
    properties: dict[str, str] | None = None,
) -> Table:
    namespace, _ = split_identifier(identifier)
    spec = build_partition_spec(schema, partition_terms)
    _refuse_case_twin(catalog, identifier)
    ensure_namespace(catalog, namespace)
    refuse_claimed(
        catalog, identifier
    )  # another profile's table at the same path: see lakehouse.table.claims
    props = {**DEFAULT_TABLE_PROPERTIES, **(properties or {})}
    check_table_properties(identifier, props)
    try:
        return catalog.create_table(identifier, schema=schema, partition_spec=spec, properties=props)
    except TableAlreadyExistsError:
        raise TableExistsError(f"table {identifier} already exists") from None


def _refuse_case_twin(catalog: Catalog, identifier: str) -> None:
    """Table names are case-insensitive in lake, as in Spark, Trino and Hive: `s.T` cannot join `s.t`,
    or a query, pin or --as-of naming one could read the other."""
    twin = next((t for t in list_tables(catalog) if t.lower() == identifier.lower()), None)
    if twin is not None:
        raise TableExistsError(
            f"table {identifier} already exists as {twin}: table names are case-insensitive"
            if twin != identifier
            else f"table {identifier} already exists"
        )


def list_tables(catalog: Catalog, namespace: str | None = None) -> list[str]:
    namespaces = (
        [check_namespace(namespace)] if namespace else [".".join(n) for n in catalog.list_namespaces()]
    )
    names = []
    for ns in namespaces:
        try:
            names += [".".join(t) for t in catalog.list_tables(ns)]
        except NoSuchNamespaceError:
            if namespace:
                raise NoSuchTableError(f"namespace {namespace} does not exist") from None
    return sorted(names)


def load_table(catalog: Catalog, identifier: str) -> Table:
    """The table named `identifier`, matched exactly or else case-insensitively (one match only)."""
    split_identifier(identifier)
    try:
        return catalog.load_table(identifier)
    except (IcebergNoSuchTable, NoSuchNamespaceError):
        pass
    return catalog.load_table(match_table(identifier, list_tables(catalog)))


def drop_if_empty(catalog: Catalog, identifier: str) -> bool:
    """Drop (and purge) a table only while no snapshot has been committed to it, so undoing a failed
    `ingest --create` never removes rows that a concurrent writer committed meanwhile."""
    with contextlib.suppress(NoSuchTableError):
        if not load_table(catalog, identifier).metadata.snapshots:
            catalog.purge_table(identifier)
            return True
    return False


CONTENT_NAMES = {
    DataFileContent.DATA: "data",
    DataFileContent.POSITION_DELETES: "position-deletes",
    DataFileContent.EQUALITY_DELETES: "equality-deletes",
}


def snapshot_files(
    table: Table, snapshot: Snapshot | None, entries: list[ManifestEntry] | None = None
) -> list[dict[str, Any]]:
    """One row per live file of a snapshot: path, content (data or a kind of delete file), partition,
    rows (records in the file: for a delete file, the rows it deletes), bytes on disk. A data file
    that positional deletes apply to also says how many of its rows they remove."""
    entries = live_entries(table.io, snapshot) if entries is None else entries
    spec_by_id = table.specs()
    schema = table.schema()
    removed = deleted_positions(table, entries) if any(not is_data(e) for e in entries) else {}
    rows = []
    for entry in entries:
        data_file = entry.data_file
        spec = spec_by_id[data_file.spec_id]
        partition = human_values(spec, schema, data_file.partition)
        row: dict[str, Any] = {
            "path": data_file.file_path,
            "content": CONTENT_NAMES.get(data_file.content, str(data_file.content)),
            "partition": partition,
            "rows": data_file.record_count,
            "bytes": data_file.file_size_in_bytes,
        }
        if data_file.file_path in removed:
            row["deleted_rows"] = len(removed[data_file.file_path])
        rows.append(row)
    return sorted(rows, key=lambda r: (r["content"] != "data", r["path"]))


def files_and_counts(table: Table, snapshot: Snapshot | None) -> tuple[list[dict[str, Any]], LiveCounts]:
    """`snapshot_files` and `live_counts` of one snapshot, from one read of its manifests."""
    entries = live_entries(table.io, snapshot)
    return snapshot_files(table, snapshot, entries), live_counts(table, snapshot, entries)
