"""The rows of some data files as they are live: read by Iceberg field id, with the table's delete
files applied, so a rewrite never resurrects a deleted row. Each row carries `lake_filename` (the
data file's path as its manifest names it) and, when asked, `lake_pos` (its row number in the file,
for positional deletes)."""

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
        sql = sql.replace(" AS lake_filename FROM", " AS lake_filename, file_row_number AS lake_pos FROM")
        sql = sql.replace("filename = true)", "filename = true, file_row_number = true)")
    cases = " ".join(
        f"WHEN {quote_literal(_duckdb_name(e.data_file.file_path))} THEN {quote_literal(e.data_file.file_path)}"
        for e in data
    )
    return f"SELECT * REPLACE (CASE lake_filename {cases} END AS lake_filename) FROM ({sql}) AS lake_files"


def _duckdb_name(path: str) -> str:
    """The path as DuckDB's `filename` column reports it (a local `file://` URI as a bare path)."""
    return path if is_s3(path) else str(local_path(path))
