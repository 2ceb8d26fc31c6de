"""Project one data file's columns into the table's current schema by Iceberg field id.

A column's name in an old file is whatever it was called when the file was written; only its field id
is stable. pyiceberg resolves each file's footer to an Iceberg schema (its field ids, or the table's
name mapping for files written without ids, as pyiceberg `add_files` registers them), and this module
turns that into a SELECT list over the file's own physical names:

- a renamed column or nested field is selected under its old name and renamed (struct_pack);
- lists and maps are rebuilt element by element (list_transform) only where a nested field differs;
- a column the file lacks is NULL, or its identity-partition value from the manifest entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyarrow.parquet as pq
from pyiceberg.io.pyarrow import pyarrow_to_schema
from pyiceberg.manifest import DataFile
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.transforms import IdentityTransform
from pyiceberg.types import (
    BinaryType,
    FixedType,
    IcebergType,
    ListType,
    MapType,
    NestedField,
    PrimitiveType,
    StructType,
)

from lakehouse.core.schemas import duckdb_type, quote_ident, quote_literal
from lakehouse.errors import LakehouseError

FOOTER_READERS = 8


def file_schema(table: Table, data_file: DataFile) -> tuple[Schema, str]:
    """(Iceberg schema of the file, by field id or name mapping; a key of its physical layout)."""
    with table.io.new_input(data_file.file_path).open() as stream:
        physical = pq.read_schema(stream)
    try:
        schema = pyarrow_to_schema(
            physical, table.metadata.name_mapping(), downcast_ns_timestamp_to_us=True,
            format_version=table.metadata.format_version,
        )  # fmt: skip
    except ValueError as exc:
        raise LakehouseError(
            f"cannot map the columns of {data_file.file_path} to the table by field id: {exc}; "
            "set the table property schema.name-mapping.default"
        ) from None
    return schema, physical.remove_metadata().to_string(show_field_metadata=False)


def _same(expected: IcebergType, found: IcebergType) -> bool:
    """Same ids, names and types all the way down: the file's value can be taken as it is."""
    if isinstance(expected, StructType) and isinstance(found, StructType):
        return len(expected.fields) == len(found.fields) and all(
            e.field_id == f.field_id and e.name == f.name and _same(e.field_type, f.field_type)
            for e, f in zip(expected.fields, found.fields, strict=True)
        )
    if isinstance(expected, ListType) and isinstance(found, ListType):
        return expected.element_id == found.element_id and _same(expected.element_type, found.element_type)
    if isinstance(expected, MapType) and isinstance(found, MapType):
        return (
            expected.key_id == found.key_id
            and expected.value_id == found.value_id
            and _same(expected.key_type, found.key_type)
            and _same(expected.value_type, found.value_type)
        )
    return expected == found


def _null(field_type: IcebergType) -> str:
    return f"CAST(NULL AS {duckdb_type(field_type)})"


def _project(expected: IcebergType, found: IcebergType, expr: str, depth: int = 0) -> str:
    """SQL turning `expr` (a value of the file's type) into a value of the table's type, by field id."""
    if _same(expected, found):
        return expr
    if isinstance(expected, StructType) and isinstance(found, StructType):
        by_id = {f.field_id: f for f in found.fields}
        parts = []
        for field in expected.fields:
            old = by_id.get(field.field_id)
            value = (
                _null(field.field_type)
                if old is None
                else _project(
                    field.field_type,
                    old.field_type,
                    f"struct_extract({expr}, {quote_literal(old.name)})",
                    depth + 1,
                )
            )
            parts.append(f"{quote_ident(field.name)} := {value}")
        return f"CASE WHEN {expr} IS NULL THEN NULL ELSE struct_pack({', '.join(parts)}) END"
    if isinstance(expected, ListType) and isinstance(found, ListType):
        var = f"lake_e{depth}"
        return f"list_transform({expr}, lambda {var}: {_project(expected.element_type, found.element_type, var, depth + 1)})"
    if isinstance(expected, MapType) and isinstance(found, MapType):
        var = f"lake_m{depth}"
        key = _project(expected.key_type, found.key_type, f"{var}.key", depth + 1)
        value = _project(expected.value_type, found.value_type, f"{var}.value", depth + 1)
        entries = (
            f"list_transform(map_entries({expr}), lambda {var}: struct_pack(key := {key}, value := {value}))"
        )
        return f"map_from_entries({entries})"
    if isinstance(expected, PrimitiveType) and isinstance(found, PrimitiveType):
        return (
            f"CAST({expr} AS {duckdb_type(expected)})"  # a promotion: int -> long, float -> double, decimal
        )
    raise LakehouseError(
        f"a data file has {found} where the table has {expected}; the types are incompatible"
    )


def _literal(field_type: IcebergType, value: Any) -> str:
    if isinstance(field_type, (BinaryType, FixedType)):
        return f"CAST(unhex({quote_literal(bytes(value).hex())}) AS {duckdb_type(field_type)})"
    text = IdentityTransform().to_human_string(field_type, value)
    return f"CAST({quote_literal(text)} AS {duckdb_type(field_type)})"


def _missing(table: Table, data_file: DataFile, field: NestedField) -> str:
    """A column the file lacks: its identity-partition value (Iceberg's column projection rule), else NULL."""
    spec = table.specs().get(data_file.spec_id)
    if spec is not None:
        for i, pfield in enumerate(spec.fields):
            if pfield.source_id == field.field_id and isinstance(pfield.transform, IdentityTransform):
                value = data_file.partition[i]
                if value is not None:
                    return _literal(field.field_type, value)
    return _null(field.field_type)


def select_list(table: Table, data_file: DataFile, found: Schema, schema: Schema | None = None) -> str:
    """`expr AS name, ...` reading one file's columns into the table's current schema (or `schema`)."""
    by_id = {f.field_id: f for f in found.fields}
    columns = []
    for field in (schema or table.schema()).fields:
        old = by_id.get(field.field_id)
        if old is None:
            expr = _missing(table, data_file, field)
        else:
            expr = _project(field.field_type, old.field_type, quote_ident(old.name))
        columns.append(f"{expr} AS {quote_ident(field.name)}")
    return ", ".join(columns)


def scan_files(
    table: Table,
    files: Sequence[DataFile],
    select: Callable[[DataFile, Schema], str],
    *,
    per_file: Mapping[str, Sequence[str]] | None = None,
    position: str | None = None,
    filename: str | None = None,
) -> str:
    """One relation over `files`: `select(file, its Iceberg schema)` for each, files that read the same
    way sharing one `read_parquet`, the rest joined with UNION ALL.

    `per_file` adds columns whose value is fixed per file (name -> one SQL literal per file, in the
    order of `files`), by DuckDB's `file_index`; `position` names a column for the row's position in
    its file (`file_row_number`), `filename` one for the file's name as DuckDB reports it.
    """
    with ThreadPoolExecutor(max_workers=FOOTER_READERS) as pool:  # one footer GET per file, on S3 too
        schemas = list(pool.map(lambda f: file_schema(table, f), files))
    groups: dict[tuple[str, str], list[int]] = {}
    for index, (data_file, (found, layout)) in enumerate(zip(files, schemas, strict=True)):
        groups.setdefault((select(data_file, found), layout), []).append(index)
    parts = []
    for (columns, _), indexes in groups.items():
        extra = "".join(
            f", [{', '.join(values[i] for i in indexes)}][CAST(file_index AS BIGINT) + 1] AS {name}"
            for name, values in (per_file or {}).items()
        )
        option = ""
        if position:
            extra, option = f"{extra}, file_row_number AS {position}", f"{option}, file_row_number = true"
        if filename:
            extra, option = f"{extra}, filename AS {filename}", f"{option}, filename = true"
        paths = ", ".join(quote_literal(files[i].file_path) for i in indexes)
        parts.append(
            f"SELECT {columns}{extra} FROM read_parquet([{paths}], hive_partitioning = false{option})"
        )
    return " UNION ALL ".join(parts)
