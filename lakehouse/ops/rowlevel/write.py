"""The files a planned delete or update writes, before any commit.

Copy-on-write: the affected files' live rows, without the matching ones (delete) or with the SET
expressions applied to them (update), stream through the normal writer, so rows land in the
partition folders their (possibly changed) values say. Merge-on-read: one positional delete file per
affected partition (Iceberg's `file_path`, `pos` with the reserved field ids), plus, for an update,
the changed rows appended as new data files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyiceberg.manifest import DataFile, DataFileContent, FileFormat, ManifestEntry
from pyiceberg.table import Table

from lakehouse.core.hive import partition_path
from lakehouse.core.schemas import duckdb_type, quote_ident, quote_literal
from lakehouse.errors import LakehouseError
from lakehouse.io.engine import Engine
from lakehouse.io.storage import is_s3, local_path
from lakehouse.io.writer import copy_to_data_files, data_location
from lakehouse.ops.rowlevel.plan import MERGE_ON_READ, ChangePlan
from lakehouse.ops.rowlevel.reading import live_relation
from lakehouse.table.deletes import POSITIONAL_PATH_ID, POSITIONAL_POS_ID


@dataclass
class ChangeWrite:
    """What a change wrote: new data files, new positional delete files."""

    write_id: str
    data_files: list[DataFile] = field(default_factory=list)
    delete_files: list[DataFile] = field(default_factory=list)

    @property
    def paths(self) -> list[str]:
        return [f.file_path for f in self.data_files + self.delete_files]

    @property
    def bytes(self) -> int:
        return sum(f.file_size_in_bytes for f in self.data_files + self.delete_files)


def write_change(engine: Engine, table: Table, plan: ChangePlan, write: ChangeWrite) -> None:
    """Write the plan's new files into `write` (the caller removes them if this fails)."""
    entries = list(plan.entries)
    deletes = list(plan.delete_entries)
    if plan.mode == MERGE_ON_READ:
        _write_positional_deletes(engine, table, plan, write)
        if plan.kind == "update":
            changed = f"SELECT {_updated(table, plan)} FROM ({live_relation(table, entries, deletes)}) AS lake_rows WHERE ({plan.predicate})"
            _expect(
                plan,
                "new rows",
                copy_to_data_files(engine, table, changed, write_id=write.write_id).data_files,
                write,
                plan.matching_rows,
            )
        return
    relation = f"({live_relation(table, entries, deletes)}) AS lake_rows"
    if plan.kind == "delete":
        columns = ", ".join(quote_ident(f.name) for f in table.schema().fields)
        sql = f"SELECT {columns} FROM {relation} WHERE ({plan.predicate}) IS NOT TRUE"
        expected = plan.rewrite_rows - plan.matching_rows
    else:
        sql = f"SELECT {_updated(table, plan)} FROM {relation}"
        expected = plan.rewrite_rows
    written = copy_to_data_files(engine, table, sql, write_id=write.write_id)
    _expect(plan, "rewritten rows", written.data_files, write, expected)


def _expect(plan: ChangePlan, what: str, files: list[DataFile], write: ChangeWrite, expected: int) -> None:
    write.data_files.extend(files)
    got = sum(f.record_count for f in files)
    if got != expected:
        raise LakehouseError(
            f"{plan.kind} of {plan.table} wrote {got} {what} where the plan expected {expected}; nothing was committed"
        )


def _updated(table: Table, plan: ChangePlan) -> str:
    """Each column, with the SET expression where the predicate holds."""
    sets = {a.column: a.expression for a in plan.assignments}
    out = []
    for f in table.schema().fields:
        name = quote_ident(f.name)
        if f.name in sets:
            value = f"CAST(({sets[f.name]}) AS {duckdb_type(f.field_type)})"
            if f.required:  # DuckDB raises while writing: nothing is committed, the files are removed
                message = f"--set {f.name}: the column is required and the value is NULL"
                value = f"coalesce({value}, error({quote_literal(message)}))"
            out.append(f"CASE WHEN ({plan.predicate}) THEN {value} ELSE {name} END AS {name}")
        else:
            out.append(name)
    return ", ".join(out)


def _write_positional_deletes(engine: Engine, table: Table, plan: ChangePlan, write: ChangeWrite) -> None:
    groups: dict[tuple[int, tuple[object, ...]], list[ManifestEntry]] = {}
    for entry in plan.entries:
        f = entry.data_file
        groups.setdefault((f.spec_id, tuple(f.partition[i] for i in range(len(f.partition)))), []).append(
            entry
        )
    expected = {f.path: f.matching for f in plan.files}
    ids = f"{{file_path: {POSITIONAL_PATH_ID}, pos: {POSITIONAL_POS_ID}}}"
    for index, entries in enumerate(groups.values()):
        first = entries[0].data_file
        spec = table.specs()[first.spec_id]
        directory = data_location(table)
        if spec.fields:
            directory += "/" + partition_path(spec, table.schema(), first.partition)
        if not is_s3(directory):
            local_path(directory).mkdir(parents=True, exist_ok=True)
        path = f"{directory}/{write.write_id}-deletes-{index:05d}.parquet"
        relation = live_relation(table, entries, list(plan.delete_entries), with_position=True)
        sql = (
            f"COPY (SELECT lake_filename AS file_path, CAST(lake_pos AS BIGINT) AS pos "
            f"FROM ({relation}) AS lake_rows WHERE ({plan.predicate}) ORDER BY file_path, pos) "
            f"TO {quote_literal(path)} (FORMAT parquet, COMPRESSION zstd, FIELD_IDS {ids}, RETURN_STATS true)"
        )
        rows = engine.rows(sql)
        count = sum(int(r[1]) for r in rows)
        want = sum(expected[e.data_file.file_path] for e in entries)
        write.delete_files.append(
            DataFile.from_args(
                content=DataFileContent.POSITION_DELETES,
                file_path=path,
                file_format=FileFormat.PARQUET,
                partition=first.partition,
                record_count=count,
                file_size_in_bytes=len(table.io.new_input(path)),
                spec_id=first.spec_id,
                sort_order_id=None,
                equality_ids=None,
                key_metadata=None,
            )  # fmt: skip
        )
        if count != want:
            raise LakehouseError(
                f"{plan.kind} of {plan.table} found {count} matching rows where the plan found {want}; nothing was committed"
            )
