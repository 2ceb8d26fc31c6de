"""Plan a row-level delete or update: which data files of the current snapshot hold a matching row.

Pruning first: the predicate, translated into a pyiceberg expression where possible
(`lakehouse.ops.rowlevel.predicate`), goes through pyiceberg's partition, manifest and column-metrics
evaluators (`table.scan(row_filter=...).plan_files()`), so files that cannot match are never read.
Then one DuckDB query over the remaining candidates, read by Iceberg field id with their delete files
applied, counts each file's live rows and matching rows. The frozen `ChangePlan` is what `--dry-run`
prints and what `apply_change` carries out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyiceberg.manifest import DataFile, DataFileContent, FileFormat, ManifestEntry
from pyiceberg.table import Table

from lakehouse.core.hive import human_values
from lakehouse.core.schemas import duckdb_type, quote_ident
from lakehouse.errors import QueryError
from lakehouse.io.engine import Engine, short_error
from lakehouse.ops.rowlevel.predicate import Assignment, parse_assignments
from lakehouse.ops.rowlevel.reading import live_relation
from lakehouse.read.predicate import NO_PRUNING, where_filter
from lakehouse.table.snapshots import live_entries

COPY_ON_WRITE = "copy-on-write"
MERGE_ON_READ = "merge-on-read"
DELETE_MODE_PROPERTY = "write.delete.mode"  # Iceberg's names
UPDATE_MODE_PROPERTY = "write.update.mode"


@dataclass(frozen=True)
class AffectedFile:
    """A data file holding at least one matching row."""

    path: str
    rows: int  # live rows (its delete files applied)
    bytes: int
    matching: int
    partition: tuple[tuple[str, str | None], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "rows": self.rows,
            "bytes": self.bytes,
            "matching_rows": self.matching,
            "partition": dict(self.partition),
        }


@dataclass(frozen=True)
class ChangePlan:
    """What a delete or update will change; `--dry-run` prints it, `apply_change` does exactly it."""

    table: str
    kind: str  # "delete" | "update"
    where: str
    predicate: str  # the checked predicate as DuckDB SQL
    assignments: tuple[Assignment, ...]
    snapshot_id: int | None
    mode: str  # copy-on-write | merge-on-read
    pruned: bool  # False: the predicate could not be translated, every file was a candidate
    note: str | None
    table_files: int
    table_bytes: int
    candidate_files: int
    candidate_bytes: int
    files: tuple[AffectedFile, ...] = ()
    entries: tuple[ManifestEntry, ...] = ()  # the affected data files' entries, in `files` order
    delete_entries: tuple[ManifestEntry, ...] = ()  # every live delete file at planning time
    # copy-on-write: positional delete files naming only rewritten files, removed in the same snapshot
    obsolete_deletes: tuple[DataFile, ...] = ()

    @property
    def matching_rows(self) -> int:
        return sum(f.matching for f in self.files)

    @property
    def data_files(self) -> list[DataFile]:
        return [e.data_file for e in self.entries]

    @property
    def rewrite_bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    @property
    def rewrite_rows(self) -> int:
        return sum(f.rows for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "operation": self.kind,
            "where": self.where,
            "set": {a.column: a.expression for a in self.assignments} if self.kind == "update" else None,
            "snapshot_id": self.snapshot_id,
            "mode": self.mode,
            "pruning": self.pruned,
            "note": self.note,
            "table_files": self.table_files,
            "table_bytes": self.table_bytes,
            "candidate_files": self.candidate_files,
            "candidate_bytes": self.candidate_bytes,
            "files_to_rewrite": len(self.files),
            "delete_files_to_remove": len(self.obsolete_deletes),
            "rows_in_files": self.rewrite_rows,
            "bytes_to_rewrite": self.rewrite_bytes,
            "matching_rows": self.matching_rows,
            "files": [f.to_dict() for f in self.files],
        }


def change_mode(table: Table, kind: str) -> str:
    prop = DELETE_MODE_PROPERTY if kind == "delete" else UPDATE_MODE_PROPERTY
    # An update follows the delete mode unless its own is set: Iceberg has both, most set only one.
    value = table.properties.get(prop) or table.properties.get(DELETE_MODE_PROPERTY) or COPY_ON_WRITE
    if value.lower() not in (COPY_ON_WRITE, MERGE_ON_READ):
        raise QueryError(
            f"table property {prop}={value!r} of {'.'.join(table.name())}: use {COPY_ON_WRITE} or {MERGE_ON_READ}"
        )
    return value.lower()


def plan_change(
    engine: Engine, table: Table, identifier: str, kind: str, where: str, set_text: str | None = None
) -> ChangePlan:
    """Check the SQL, prune, and count matching rows file by file; nothing is written."""
    schema = table.schema()
    tree, expression = where_filter(where, schema)
    predicate = tree.sql("duckdb")
    assignments = parse_assignments(set_text or "", schema) if kind == "update" else ()
    _check_types(engine, table, predicate, assignments)
    mode = change_mode(table, kind)
    snapshot = table.current_snapshot()
    entries = live_entries(table.io, snapshot)
    data = [e for e in entries if e.data_file.content == DataFileContent.DATA]
    deletes = tuple(e for e in entries if e.data_file.content != DataFileContent.DATA)
    base: dict[str, Any] = {
        "table": identifier, "kind": kind, "where": where, "predicate": predicate,
        "assignments": assignments, "mode": mode,
        "table_files": len(data), "table_bytes": sum(e.data_file.file_size_in_bytes for e in data),
    }  # fmt: skip
    if snapshot is None or not data:
        return ChangePlan(
            **base, snapshot_id=None, pruned=True, note=None, candidate_files=0, candidate_bytes=0
        )  # type: ignore[arg-type]
    note = None
    candidates = data
    if expression is None:
        note = f"--where cannot prune ({NO_PRUNING}): every data file was read"
    else:
        try:
            tasks = table.scan(row_filter=expression, snapshot_id=snapshot.snapshot_id).plan_files()
            wanted = {t.file.file_path for t in tasks}
            candidates = [e for e in data if e.data_file.file_path in wanted]
        except Exception as exc:  # a literal pyiceberg cannot bind to the column's type
            note = f"--where cannot prune ({str(exc).splitlines()[0]}): every data file was read"
            expression = None
    counts = _count(engine, table, candidates, deletes, predicate) if candidates else {}
    affected = [e for e in candidates if counts.get(e.data_file.file_path, (0, 0))[1] > 0]
    spec_schema = table.specs()
    files = tuple(
        AffectedFile(
            e.data_file.file_path,
            counts[e.data_file.file_path][0],
            e.data_file.file_size_in_bytes,
            counts[e.data_file.file_path][1],
            tuple(human_values(spec_schema[e.data_file.spec_id], schema, e.data_file.partition).items()),
        )
        for e in affected
    )
    return ChangePlan(
        **base,
        snapshot_id=snapshot.snapshot_id,
        pruned=expression is not None,
        note=note,
        candidate_files=len(candidates),
        candidate_bytes=sum(e.data_file.file_size_in_bytes for e in candidates),
        files=files,
        entries=tuple(affected),
        delete_entries=deletes,
        obsolete_deletes=_obsolete(table, affected, deletes) if mode == COPY_ON_WRITE else (),
    )


def empty_relation(table: Table) -> str:
    """A zero-row relation with the table's columns and types, to bind user SQL against."""
    cols = ", ".join(
        f"CAST(NULL AS {duckdb_type(f.field_type)}) AS {quote_ident(f.name)}" for f in table.schema().fields
    )
    return f"SELECT {cols} LIMIT 0"


def _check_types(engine: Engine, table: Table, predicate: str, assignments: tuple[Assignment, ...]) -> None:
    """DuckDB binds the SQL against the table's columns: a type error is one line, before any file is read."""
    relation = f"({empty_relation(table)}) AS lake_rows"
    try:
        columns = engine.columns(f"SELECT ({predicate}) AS lake_match FROM {relation}")
    except Exception as exc:
        raise QueryError(f"--where {predicate!r}: {short_error(exc)}") from None
    if columns[0][1] != "BOOLEAN":
        raise QueryError(f"--where {predicate!r} is not a condition: it gives {columns[0][1]}, not BOOLEAN")
    types = {f.name: duckdb_type(f.field_type) for f in table.schema().fields}
    for a in assignments:
        try:
            engine.columns(f"SELECT CAST(({a.expression}) AS {types[a.column]}) FROM {relation}")
        except Exception as exc:
            raise QueryError(f"--set {a.column} = {a.expression}: {short_error(exc)}") from None


def _count(
    engine: Engine,
    table: Table,
    candidates: list[ManifestEntry],
    deletes: tuple[ManifestEntry, ...],
    predicate: str,
) -> dict[str, tuple[int, int]]:
    """Data file path -> (live rows, matching rows), in one query over the candidates."""
    relation = live_relation(table, candidates, deletes)
    sql = (
        f"SELECT lake_filename, count(*), count(*) FILTER (WHERE ({predicate})) "
        f"FROM ({relation}) AS lake_rows GROUP BY lake_filename"
    )
    try:
        rows = engine.rows(sql)
    except Exception as exc:
        raise QueryError(f"--where {predicate!r}: {short_error(exc)}") from None
    return {str(name): (int(total), int(hits)) for name, total, hits in rows}


def _obsolete(
    table: Table, affected: list[ManifestEntry], deletes: tuple[ManifestEntry, ...]
) -> tuple[DataFile, ...]:
    """Positional delete files whose every row names a file the rewrite removes (they would dangle).
    Only those in the affected files' partitions (or unpartitioned ones) can; only those are read."""
    import pyarrow.parquet as pq

    def key(f: DataFile) -> tuple[int, tuple[Any, ...]]:
        return f.spec_id, tuple(f.partition[i] for i in range(len(f.partition)))

    paths = {e.data_file.file_path for e in affected}
    partitions = {key(e.data_file) for e in affected}
    out = []
    for entry in deletes:
        f = entry.data_file
        if f.content != DataFileContent.POSITION_DELETES or f.file_format != FileFormat.PARQUET:
            continue
        if key(f) not in partitions and key(f)[1]:
            continue
        with table.io.new_input(f.file_path).open() as stream:
            named = set(pq.read_table(stream, columns=["file_path"]).column(0).to_pylist())
        if named and named <= paths:
            out.append(f)
    return tuple(out)
