"""The rows of some data files as they are live: read by Iceberg field id, with the table's delete
files applied, so a rewrite never resurrects a deleted row. Each row carries `lake_filename` (and,
when asked, `lake_position`, its row number in the file, for positional deletes)."""

from __future__ import annotations

from pyiceberg.manifest import ManifestEntry
from pyiceberg.table import Table

from lakehouse.core.schemas import quote_literal
from lakehouse.errors import LakehouseError
from lakehouse.io.fieldids import read_by_field_id
from lakehouse.io.storage import is_s3, local_path


def live_relation(
    table: Table,
    data: list[ManifestEntry],
    deletes: tuple[ManifestEntry, ...] | list[ManifestEntry] = (),
    *,
    with_position: bool = False,
) -> str:
    """SQL over `data`'s live rows (the `deletes` that apply to them removed)."""
    if deletes:
        raise LakehouseError(
            f"{'.'.join(table.name())} has delete files; deleting or updating rows of such a table "
            "needs them applied first: run `lake compact` on it"
        )
    sql = read_by_field_id(table, [e.data_file for e in data], with_filename=True)
    if with_position:
        sql = sql.replace(
            " AS lake_filename FROM", " AS lake_filename, file_row_number AS lake_position FROM"
        )
        sql = sql.replace("filename = true)", "filename = true, file_row_number = true)")
    return sql


def duckdb_name(path: str) -> str:
    """The path as DuckDB's `filename` column reports it (a local `file://` URI as a bare path)."""
    return path if is_s3(path) else str(local_path(path))


def manifest_path_sql(entries: list[ManifestEntry], column: str = "lake_filename") -> str:
    """SQL mapping DuckDB's `filename` back to the path the manifest names (positional deletes must
    carry exactly that spelling)."""
    cases = " ".join(
        f"WHEN {quote_literal(duckdb_name(e.data_file.file_path))} THEN {quote_literal(e.data_file.file_path)}"
        for e in entries
    )
    return f"CASE {column} {cases} END"
