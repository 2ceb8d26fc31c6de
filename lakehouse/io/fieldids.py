"""Read data files in DuckDB by Iceberg field id, nested fields included (`lakehouse.io.projection`
turns each file's footer into a SELECT list), and read only the live rows of a snapshot's files
(`read_live`, which applies positional and equality delete files: `lakehouse.io.live`).

DuckDB then streams the files itself (parallel, bounded memory). DuckDB's own `schema` MAP resolves
top-level ids only and cannot map files without ids, so it is not used.
"""

from __future__ import annotations

from collections.abc import Iterable

from pyiceberg.manifest import DataFile
from pyiceberg.table import Table

from lakehouse.io.live import read_live
from lakehouse.io.projection import file_schema, scan_files, select_list

__all__ = ["file_schema", "read_by_field_id", "read_live", "scan_files", "select_list"]


def read_by_field_id(table: Table, files: Iterable[DataFile], *, with_filename: bool = False) -> str:
    """One SQL relation over `files` in the table's current schema, each column matched by field id
    (plus `lake_filename`, the file each row came from, as DuckDB names it, when asked).

    Every row of every file: delete files are not applied (`read_live` applies them).
    """
    files = list(files)
    return scan_files(
        table, files, lambda f, found: select_list(table, f, found),
        filename="lake_filename" if with_filename else None,
    )  # fmt: skip
