"""Read a snapshot with `read_parquet` over its file plan, when that is provably what `iceberg_scan` reads.

`read_parquet` is faster where DuckDB can use what it knows about plain Parquet: with Hive partition
columns it aggregates per partition and skips files by path, and it does top-N late materialisation;
`iceberg_scan` (DuckDB 1.5) turns Hive detection off and does neither. It reads files by column NAME,
though, where Iceberg reads by field id, so it is used only when names cannot mislead it:

- no delete files (read_parquet would not apply them), Parquet files only, format v1 or v2;
- across every schema the table ever had, a field id keeps its name and type (nested ones too) and no
  name ever meant two field ids (a dropped column's name reused): added columns read as NULL through
  `union_by_name`, dropped ones are not selected; no name mapping aliases;
- Hive columns: every `key=value` path segment naming a column must be that column's identity
  partition in the file's spec, spelled exactly as the manifest's value (plain text, no sentinel such as
  `NULL` or `__HIVE_DEFAULT_PARTITION__`, nothing to percent-decode), with the same keys in every file.
  An identity-partitioned column must come from its path (a file need not hold it, as `add_files`
  files do not), so a table whose identity values cannot be proven that way keeps `iceberg_scan`.

Anything else returns None and the caller uses `iceberg_scan`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lakehouse.core.schemas import quote_ident, quote_literal
from lakehouse.io.storage import local_path
from lakehouse.read.files import FilePlan
from lakehouse.table.metadata import Field, Schema, TableMeta, duckdb_type

# Text a Hive path may spell a value with and DuckDB reads back unchanged (no percent-decoding).
_PLAIN = re.compile(r"^[A-Za-z0-9_.:+-]+$")
_SENTINELS = {"null", "__hive_default_partition__"}
# Identity partitions of these types can be proven equal through their text.
_HIVE_TYPES = {"string", "int", "long", "date", "boolean"}
_SEGMENT = re.compile(r"(?:^|/)([^/=]+)=([^/]*)(?=/)")


@dataclass(frozen=True)
class ParquetScan:
    sql: str
    hive: tuple[str, ...]  # lower-case names of the columns read from `key=value` paths
    rows: int  # live rows: with no delete files, the manifests' record counts are exact
    # On S3, read_parquet asks for each file's size (a HEAD per file and query) that iceberg_scan takes
    # from the manifests: measured slower for every shape on S3, so there it only counts rows.
    local: bool = True
    files: int = 0


def parquet_scan(meta: TableMeta, schema: Schema, plan: FilePlan, local: bool) -> ParquetScan | None:
    """The plan's files read as `schema` with read_parquet, or None when that is not provably equal."""
    if meta.format_version > 2 or plan.delete_files or not plan.files:
        return None
    if any(f.file_format != "PARQUET" for f in plan.files) or not _stable_names(meta, schema):
        return None
    hive = _hive_columns(meta, schema, plan)
    if hive is None:
        return None
    paths = [_readable(f.path, local) for f in plan.files]
    if any(p is None for p in paths):
        return None
    written = _written_fields(meta, plan)
    if written is None:
        return None
    listed = ", ".join(quote_literal(p) for p in paths if p is not None)
    from_paths = [f for f in schema.fields if f.name.lower() in {k.lower() for k in hive}]
    hive_ids = {f.field_id for f in from_paths}
    present = set().union(*written) | hive_ids
    wanted = {f.field_id for f in schema.fields} & present
    options = []
    # By name, DuckDB takes the first file's columns and fails on a file that lacks one; union_by_name
    # (NULL there) costs a footer read per file, so only where a file lacks one, or with a name mapping
    # (files from elsewhere, e.g. `add_files`, may hold anything).
    mapped = "schema.name-mapping.default" in meta.properties
    if mapped or any(not wanted <= ids | hive_ids for ids in written):
        options.append("union_by_name = true")
    if hive:
        types = ", ".join(f"{quote_literal(k)}: {quote_literal(t)}" for k, t in hive.items())
        options += ["hive_partitioning = true", f"hive_types = {{{types}}}", "hive_types_autocast = false"]
    else:
        options.append("hive_partitioning = false")
    columns = ", ".join(
        quote_ident(f.name)
        if f.field_id in present
        else f"CAST(NULL AS {duckdb_type(f.type)}) AS {quote_ident(f.name)}"
        for f in schema.fields
    )  # a column no file was written with (added since) is NULL
    sql = f"(SELECT {columns} FROM read_parquet([{listed}], {', '.join(options)}))"
    hive_read = tuple(f.name.lower() for f in from_paths)
    return ParquetScan(sql, hive_read, sum(f.record_count for f in plan.files), local, len(plan.files))


def _written_fields(meta: TableMeta, plan: FilePlan) -> list[set[int]] | None:
    """The field ids of the schema each file was written with (its adding snapshot's), or None when
    one is unknown (an expired snapshot added it) on a table whose schema has changed."""
    if len(meta.schemas_by_id) == 1:
        return [{f.field_id for f in meta.schema().fields}]
    out: dict[int, set[int]] = {}
    for file in plan.files:
        snapshot = meta.snapshot_by_id(file.snapshot_id) if file.snapshot_id is not None else None
        schema = (
            meta.schemas_by_id.get(snapshot.schema_id)
            if snapshot and snapshot.schema_id is not None
            else None
        )
        if schema is None:
            return None
        out.setdefault(schema.schema_id, {f.field_id for f in schema.fields})
    return list(out.values())


def _stable_names(meta: TableMeta, schema: Schema) -> bool:
    by_id: dict[int, Field] = {}
    by_name: dict[str, int] = {}
    for each in [*meta.schemas_by_id.values(), schema]:
        for f in each.fields:
            seen = by_id.setdefault(f.field_id, f)
            if not seen.same_shape(f) or by_name.setdefault(f.name.lower(), f.field_id) != f.field_id:
                return False
    mapping = meta.properties.get("schema.name-mapping.default")
    return mapping is None or _mapping_is_names(mapping, by_id)


def _mapping_is_names(text: str, by_id: dict[int, Field]) -> bool:
    """A name mapping that maps each top-level field id to its own name only (no aliases)."""
    import json

    try:
        entries = json.loads(text)
    except ValueError:
        return False
    for entry in entries:
        field = by_id.get(entry.get("field-id", -1))
        names = entry.get("names", [])
        if field is None or names != [field.name] or entry.get("fields"):
            return False
    return True


def _hive_columns(meta: TableMeta, schema: Schema, plan: FilePlan) -> dict[str, str] | None:
    """The Hive keys to read with their DuckDB types ({} for no Hive reading), or None when the
    files' paths and identity partitions rule read_parquet out."""
    columns = {f.name.lower(): f for f in schema.fields}
    identity = {  # (spec id, partition field name) -> the column it is the identity of
        (spec.spec_id, p.name): schema.find_field(p.source_id)
        for spec in meta.specs_by_id.values()
        for p in spec.fields
        if p.transform == "identity" and any(f.field_id == p.source_id for f in schema.fields)
    }
    keys: list[str] | None = None
    proven = True
    for file in plan.files:
        segments = _SEGMENT.findall(file.path)
        names = [k for k, _ in segments]
        if keys is None:
            keys = names
        elif names != keys:
            proven = False  # DuckDB needs the same keys in every path
        for key, value in segments:
            column = columns.get(key.lower())
            if column is None:
                continue  # a transform's folder (`ts_day=`), read as an unused VARCHAR
            if identity.get((file.spec_id, key)) != column or not _spelled(
                column, file.partition.get(key), value
            ):
                proven = False
        needed = {p for (spec_id, p) in identity if spec_id == file.spec_id}
        if not needed <= set(names):
            return None  # an identity column this file may not hold, and no path to prove it from
    if not proven:
        return None if identity else {}
    hive = {}
    for key in keys or []:
        column = columns.get(key.lower())
        hive[key] = duckdb_type(column.type) if column is not None else "VARCHAR"
    return hive if identity else {}


def _spelled(column: Field, expected: str | None, value: str) -> bool:
    return (
        column.type in _HIVE_TYPES
        and expected is not None
        and value == expected
        and value.lower() not in _SENTINELS
        and bool(_PLAIN.match(value))
    )


def _readable(path: str, local: bool) -> str | None:
    """The path as read_parquet opens it: local files bare, S3 objects as `s3://`; None otherwise."""
    if path.startswith("s3://"):
        return None if local else path
    if local and local_path(path).is_absolute():  # `file:///x`, `file:/x`, `file://localhost/x`, `/x`
        return str(local_path(path))
    return None
