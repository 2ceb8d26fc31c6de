"""The live rows of a snapshot's data files, as one streaming DuckDB relation: the data files read by
Iceberg field id, minus the rows that the snapshot's delete files remove.

The spec's rules, as written (the engines that write delete files: Spark, Trino, Flink):
- a positional delete (`file_path`, `pos`) removes row `pos` of the data file with that path when the
  data file's data sequence number is <= the delete file's;
- an equality delete removes every row whose equality fields (by field id) equal a row of the delete
  file, NULL equal to NULL, from data files with a strictly lower data sequence number, in the delete's
  partition (same spec and values) or anywhere when its spec is unpartitioned.

Each kind becomes an ANTI JOIN on DuckDB's hash join; the sequence number and partition conditions are
residual predicates on values carried per file (`file_index`), so nothing is materialised but the delete
files' keys on the build side.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from pyiceberg.manifest import DataFile, DataFileContent, FileFormat, ManifestEntry
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.types import NestedField, StructType

from lakehouse.core.schemas import duckdb_type, quote_ident, quote_literal
from lakehouse.errors import LakehouseError
from lakehouse.io.projection import scan_files, select_list

POSITIONAL_PATH_ID = 2147483546  # spec: reserved field ids of a positional delete file
POSITIONAL_POS_ID = 2147483545


def read_live(
    table: Table,
    entries: Sequence[ManifestEntry],
    *,
    with_filename: bool = False,
    with_position: bool = False,
    schema: Schema | None = None,
) -> str:
    """SQL over the live rows of the data files among `entries` (manifest entries of ONE snapshot, as
    `lakehouse.table.snapshots.live_entries` lists them), in the table's current schema, by field id.

    The delete files among `entries` are applied to those data files. `with_filename` adds
    `lake_filename` (the data file's path as its manifest names it), `with_position` adds `lake_pos`
    (the row's position in its data file). `schema` reads them in an older schema of the table (time
    travel), by field id as well.
    """
    schema = schema or table.schema()
    data = [e for e in entries if e.data_file.content == DataFileContent.DATA]
    seqs = {e.data_file.file_path: _seq(e) for e in data}
    parts = {e.data_file.file_path: _partition_key(e.data_file) for e in data}
    positional = [e for e in entries if _applies_positional(e, seqs)]
    equality = [e for e in entries if _applies_equality(table, e, seqs, parts)]
    columns = [f"lake_d.{quote_ident(f.name)}" for f in schema.fields]
    if with_filename:
        columns.append("lake_d.lake_filename")
    if with_position:
        columns.append("lake_d.lake_pos")
    if not data:
        return _empty(schema, with_filename, with_position)
    files = [e.data_file for e in data]
    per_file: dict[str, list[str]] = {}
    if with_filename or positional:
        per_file["lake_filename"] = [quote_literal(f.file_path) for f in files]
    if positional or equality:
        per_file["lake_seq"] = [str(seqs[f.file_path]) for f in files]
    if equality:
        per_file["lake_part"] = [quote_literal(parts[f.file_path]) for f in files]
    relation = scan_files(
        table, files, lambda f, found: select_list(table, f, found, schema),
        per_file=per_file, position="lake_pos" if (with_position or positional) else None,
    )  # fmt: skip
    joins = []
    if positional:
        joins.append(
            f"ANTI JOIN ({_positional_rows(table, positional)}) AS lake_p ON lake_p.path = lake_d.lake_filename "
            "AND lake_p.pos = lake_d.lake_pos AND lake_p.seq >= lake_d.lake_seq"
        )
    for n, (ids, group) in enumerate(_by_equality_ids(equality).items()):
        joins.append(_equality_join(table, schema, ids, group, f"lake_e{n}"))
    return f"SELECT {', '.join(columns)} FROM ({relation}) AS lake_d {' '.join(joins)}".rstrip()


def _seq(entry: ManifestEntry) -> int:
    return entry.sequence_number or 0  # v1 tables have none, and no delete files


def _partition_key(data_file: DataFile) -> str:
    partition = data_file.partition
    return f"{data_file.spec_id}:{[partition[i] for i in range(len(partition))]!r}"


def _check_readable(entry: ManifestEntry) -> None:
    f = entry.data_file
    if f.file_format != FileFormat.PARQUET:
        kind = "deletion vector" if f.file_format == FileFormat.PUFFIN else f"{f.file_format} delete file"
        raise LakehouseError(f"{f.file_path} is a {kind}; lake reads Parquet delete files only")


def _applies_positional(entry: ManifestEntry, seqs: dict[str, int]) -> bool:
    """A positional delete file that may remove a row of one of the data files being read."""
    if entry.data_file.content != DataFileContent.POSITION_DELETES:
        return False
    _check_readable(entry)
    seq = _seq(entry)
    candidates = [path for path, data_seq in seqs.items() if data_seq <= seq]
    lower = (entry.data_file.lower_bounds or {}).get(POSITIONAL_PATH_ID)
    upper = (entry.data_file.upper_bounds or {}).get(POSITIONAL_PATH_ID)
    if lower is None or upper is None:
        return bool(candidates)
    # the bounds of its file_path column (truncated ones still bracket every value)
    return any(lower <= path.encode() <= upper for path in candidates)


def _global(table: Table, data_file: DataFile) -> bool:
    spec = table.specs().get(data_file.spec_id)
    return spec is None or spec.is_unpartitioned()


def _applies_equality(
    table: Table, entry: ManifestEntry, seqs: dict[str, int], parts: dict[str, str]
) -> bool:
    if entry.data_file.content != DataFileContent.EQUALITY_DELETES:
        return False
    _check_readable(entry)
    seq, everywhere = _seq(entry), _global(table, entry.data_file)
    key = _partition_key(entry.data_file)
    return any(s < seq and (everywhere or parts[path] == key) for path, s in seqs.items())


def _positional_rows(table: Table, deletes: list[ManifestEntry]) -> str:
    """(path, pos, seq) of every row of the positional delete files (spec-mandated column names)."""
    files = [e.data_file for e in deletes]
    return scan_files(
        table, files, lambda f, found: "file_path AS path, pos",
        per_file={"seq": [str(_seq(e)) for e in deletes]},
    )  # fmt: skip


def _by_equality_ids(deletes: list[ManifestEntry]) -> dict[tuple[int, ...], list[ManifestEntry]]:
    groups: dict[tuple[int, ...], list[ManifestEntry]] = defaultdict(list)
    for entry in deletes:
        ids = tuple(sorted(entry.data_file.equality_ids or []))
        if not ids:
            raise LakehouseError(
                f"equality delete file {entry.data_file.file_path} names no equality field ids"
            )
        groups[ids].append(entry)
    return groups


def _path(struct: StructType, field_id: int) -> list[NestedField] | None:
    """The fields from the top of `struct` down to `field_id`, through structs only."""
    for field in struct.fields:
        if field.field_id == field_id:
            return [field]
        if isinstance(field.field_type, StructType):
            below = _path(field.field_type, field_id)
            if below is not None:
                return [field, *below]
    return None


def _access(root: str, path: list[NestedField]) -> str:
    expr = f"{root}{quote_ident(path[0].name)}"
    for field in path[1:]:
        expr = f"struct_extract({expr}, {quote_literal(field.name)})"
    return expr


def _equality_join(
    table: Table, schema: Schema, ids: tuple[int, ...], deletes: list[ManifestEntry], alias: str
) -> str:
    """ANTI JOIN removing the rows whose fields `ids` equal a row of the equality delete files."""
    current: dict[int, list[NestedField]] = {}
    for field_id in ids:
        path = _path(schema.as_struct(), field_id)
        if path is None:
            raise LakehouseError(
                f"equality delete file {deletes[0].data_file.file_path} matches on field id {field_id}, "
                f"which table {table.name()} no longer has"
            )
        current[field_id] = path

    def keys(data_file: DataFile, found: Schema) -> str:
        out = []
        for field_id in ids:
            path = _path(found.as_struct(), field_id)
            target = duckdb_type(current[field_id][-1].field_type)
            value = "NULL" if path is None else _access("", path)
            out.append(f"CAST({value} AS {target}) AS lake_k{field_id}")
        return ", ".join(out)

    joins = []
    # Global and partition-scoped deletes join apart: an OR in the condition turns DuckDB's hash join
    # into a nested loop (measured: 3.3 s against 0.1 s for 800k rows and 1k keys).
    for scoped in (False, True):
        group = [e for e in deletes if _global(table, e.data_file) != scoped]
        if not group:
            continue
        files = [e.data_file for e in group]
        per_file = {"seq": [str(_seq(e)) for e in group]}
        on = " AND ".join(
            f"{alias}.lake_k{i} IS NOT DISTINCT FROM {_access('lake_d.', current[i])}" for i in ids
        )
        if scoped:
            per_file["part"] = [quote_literal(_partition_key(f)) for f in files]
            on += f" AND {alias}.part = lake_d.lake_part"
        rows = scan_files(table, files, keys, per_file=per_file)
        joins.append(f"ANTI JOIN ({rows}) AS {alias} ON {on} AND {alias}.seq > lake_d.lake_seq")
        alias += "p"
    return " ".join(joins)


def _empty(schema: Schema, with_filename: bool, with_position: bool) -> str:
    columns = [f"CAST(NULL AS {duckdb_type(f.field_type)}) AS {quote_ident(f.name)}" for f in schema.fields]
    if with_filename:
        columns.append("CAST(NULL AS VARCHAR) AS lake_filename")
    if with_position:
        columns.append("CAST(NULL AS BIGINT) AS lake_pos")
    return f"SELECT {', '.join(columns)} WHERE false"
