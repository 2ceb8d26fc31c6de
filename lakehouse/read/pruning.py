"""When DuckDB's `iceberg_scan` may prune a table's partitions, and when lake must stop it.

DuckDB's iceberg extension 1.5.5 prunes data files by evaluating partition transforms itself, and it
gets some wrong, so a filtered `lake query` would silently miss rows (found by the conformance suite;
tests/conformance/upstream.py has the links):

- year/month/day/hour of values before 1970 (negative partition values);
- any partition of a binary value (identity, bucket, truncate), bucket of uuid values, and truncate
  of decimals.

For a table whose partitions hit one of these, lake reads the snapshot without filter pushdown into
the scan: DuckDB then filters rows after reading them (still skipping no file it should read). Tables
that hit none keep full pruning. This is a workaround, to be dropped when DuckDB is fixed.

`iceberg_scan` also applies equality deletes with SQL's three-valued logic: a row with a NULL in an
equality column is dropped by any equality delete (`NOT (NULL = 3)` is NULL), though the spec says
NULL equals NULL only. A snapshot with equality delete files is read through `read_live` instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakehouse.read.files import FilePlan
from lakehouse.table.metadata import TableMeta

if TYPE_CHECKING:
    from pyiceberg.schema import Schema
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot


def live_sql(table: Table, snapshot: Snapshot | None, schema: Schema) -> str | None:
    """SQL for the snapshot's live rows in `schema` when it has equality delete files, else None
    (iceberg_scan reads it right)."""
    from pyiceberg.manifest import DataFileContent, ManifestContent

    from lakehouse.io.fieldids import read_live
    from lakehouse.table.snapshots import live_entries

    if snapshot is None:
        return None
    deletes = [m for m in snapshot.manifests(table.io) if m.content == ManifestContent.DELETES]
    if not any(
        e.data_file.content == DataFileContent.EQUALITY_DELETES
        for m in deletes
        for e in m.fetch_manifest_entry(table.io, discard_deleted=True)
    ):
        return None
    return read_live(table, live_entries(table.io, snapshot), schema=schema)


def duckdb_may_prune(meta: TableMeta, plan: FilePlan) -> bool:
    """False when DuckDB's partition pruning could drop matching rows of this snapshot."""
    schema = meta.schema()
    has_time = False
    for spec in meta.specs_by_id.values():
        for pfield in spec.fields:
            try:
                source = schema.find_field(pfield.source_id).type
            except ValueError:
                continue
            transform = pfield.transform
            if source == "binary" or (isinstance(source, str) and source.startswith("fixed[")):
                return False
            if transform.startswith("bucket[") and source == "uuid":
                return False
            if (
                transform.startswith("truncate[")
                and isinstance(source, str)
                and source.startswith("decimal(")
            ):
                return False
            has_time = has_time or transform in ("year", "month", "day", "hour")
    return not (has_time and plan.before_1970)
