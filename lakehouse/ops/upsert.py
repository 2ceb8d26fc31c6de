"""Upsert on key columns, copy-on-write: `lake ingest --mode merge --key` and `lake run`'s merge models.

The new rows are staged in DuckDB as `lake_new` by the caller. `plan_upsert` checks them (the keys exist,
are never NULL and are unique in the source), prunes the table's data files with the keys' bounds
(pyiceberg's partition and column-metrics evaluators: a file whose key range cannot hold a new key is
never read), and finds, in one scan of the remaining files read by field id with their delete files
applied, the files that hold a matching key. `write_upsert` rewrites only those files without the
matched rows, next to the new rows; `stage_upsert` commits it as one snapshot (`overwrite`, or `append`
when no file is replaced, as Iceberg's OverwriteFiles does) whose summary carries `lake.rows-updated`
and `lake.rows-inserted`.

Concurrency: a retry restages on the new head, so a concurrent append stays; a replaced file that is no
longer live (a compaction, another merge) or a delete file added since planning (a row deleted under
us, which the rewrite would bring back) fails the commit in one line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pyiceberg.expressions import (
    AlwaysTrue,
    And,
    BooleanExpression,
    GreaterThanOrEqual,
    In,
    LessThanOrEqual,
)
from pyiceberg.manifest import DataFile, DataFileContent, ManifestEntry
from pyiceberg.table import ManifestGroupPlanner, Table, Transaction
from pyiceberg.table.snapshots import Operation, Snapshot
from pyiceberg.types import PrimitiveType

from lakehouse.core.schemas import duckdb_type, quote_ident
from lakehouse.errors import CommitError, LakehouseError
from lakehouse.io.live import read_live
from lakehouse.io.storage import local_path
from lakehouse.io.writer import WrittenFiles, copy_to_data_files
from lakehouse.table.producers import stage_rewrite, table_io
from lakehouse.table.snapshots import live_entries

if TYPE_CHECKING:
    from pyiceberg.table.metadata import TableMetadata

    from lakehouse.io.engine import Engine

NEW = "lake_new"  # the staged relation of new rows
IN_LIST_MAX = 200  # pyiceberg evaluates IN with up to 200 values (IN_PREDICATE_LIMIT); beyond: min/max
_PRUNABLE = (int, float, str, Decimal, date, datetime, bytes)


class MergeKeyError(LakehouseError):
    """Bad merge keys or source rows: missing key columns, NULL or duplicate keys."""


@dataclass(frozen=True)
class MergeFile:
    """A data file holding at least one key of the new rows: it is rewritten without those rows."""

    path: str
    rows: int
    bytes: int
    matched: int

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "rows": self.rows, "bytes": self.bytes, "matched_rows": self.matched}


@dataclass(frozen=True)
class UpsertPlan:
    """What a merge will do; `--dry-run` prints it and `write_upsert` does exactly it."""

    table: str
    keys: tuple[str, ...]
    snapshot_id: int | None  # the snapshot planned on
    sequence_number: int
    files: tuple[MergeFile, ...]
    source_rows: int
    rows_updated: int  # source rows whose key is in the table
    rows_replaced: int  # table rows removed (more than rows_updated only if the table repeats a key)
    files_read: int  # data files left after pruning
    files_live: int
    match: str = NEW  # whose keys are replaced: more than NEW's when an increment rebuilds keys
    replaced: tuple[DataFile, ...] = field(default=(), repr=False, compare=False)
    # the replaced files' manifest entries and the snapshot's delete files, read back by `write_upsert`
    entries: tuple[ManifestEntry, ...] = field(default=(), repr=False, compare=False)

    @property
    def rows_inserted(self) -> int:
        return self.source_rows - self.rows_updated

    def summary(self) -> dict[str, str]:
        return {
            "lake.merge-keys": ",".join(self.keys),
            "lake.rows-updated": str(self.rows_updated),
            "lake.rows-inserted": str(self.rows_inserted),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "keys": list(self.keys),
            "snapshot_id": self.snapshot_id,
            "source_rows": self.source_rows,
            "rows_updated": self.rows_updated,
            "rows_inserted": self.rows_inserted,
            "rows_replaced": self.rows_replaced,
            "files_rewritten": [f.to_dict() for f in self.files],
            "bytes_rewritten": sum(f.bytes for f in self.files),
            "files_read": self.files_read,
            "files_live": self.files_live,
        }


def check_keys(
    engine: Engine, table: Table, table_name: str, keys: list[str], source: str, *, strict: bool = True
) -> tuple[str, ...]:
    """The key columns as the table spells them; refuses missing keys and (`strict`) NULL and duplicate
    keys in `NEW`: a source row must name exactly one row of the table."""
    if not keys:
        raise MergeKeyError("merge needs --key: the column(s) that identify a row")
    by_lower = {f.name.lower(): f for f in table.schema().fields}
    source_cols = {name.lower() for name, _ in engine.columns(f"SELECT * FROM {NEW}")}
    names = []
    for key in keys:
        found = by_lower.get(key.strip().lower())
        if found is None:
            raise MergeKeyError(f"merge key {key} is not a column of {table_name}")
        if not isinstance(found.field_type, PrimitiveType):
            raise MergeKeyError(
                f"merge key {key} of {table_name} is {found.field_type}; keys must be primitive"
            )
        if found.name.lower() not in source_cols:
            raise MergeKeyError(f"merge key {key} is not a column of the source {source}")
        names.append(found.name)
    if len({n.lower() for n in names}) != len(names):
        raise MergeKeyError(f"merge key columns repeat: {', '.join(keys)}")
    if strict:
        _refuse_null_and_duplicate_keys(engine, names, source)
    return tuple(names)


def _refuse_null_and_duplicate_keys(engine: Engine, names: list[str], source: str) -> None:
    cols = [quote_ident(n) for n in names]
    nulls = (
        engine.one(
            "SELECT " + ", ".join(f"count(*) FILTER (WHERE {c} IS NULL)" for c in cols) + f" FROM {NEW}"
        )
        or ()
    )
    for name, count in zip(names, nulls, strict=True):
        if count:
            raise MergeKeyError(f"merge key {name} is NULL in {count} rows of the source {source}")
    dupes = engine.rows(
        f"SELECT {', '.join(cols)}, count(*) AS n, count(*) OVER () AS keys FROM {NEW} "
        f"GROUP BY ALL HAVING count(*) > 1 ORDER BY n DESC LIMIT 3"
    )
    if dupes:
        shown = "; ".join(
            ", ".join(f"{n}={v!r}" for n, v in zip(names, row[: len(names)], strict=True))
            + f" ({row[len(names)]} rows)"
            for row in dupes
        )
        more = dupes[0][-1] - len(dupes)
        raise MergeKeyError(
            f"duplicate merge keys in the source {source}: {shown}"
            f"{f' and {more} more keys' if more > 0 else ''}; each key may appear once"
        )


def plan_upsert(
    engine: Engine,
    table: Table,
    table_name: str,
    keys: tuple[str, ...],
    snapshot_id: int | None,
    match: str = NEW,
) -> UpsertPlan:
    """Which files of snapshot `snapshot_id` hold a key of `match` (by default `NEW`, checked by
    `check_keys`): their rows with those keys are replaced by `NEW`'s."""
    snapshot = table.metadata.snapshot_by_id(snapshot_id) if snapshot_id is not None else None
    entries = live_entries(table.io, snapshot)
    data = [e for e in entries if e.data_file.content == DataFileContent.DATA]
    deletes = [e for e in entries if e.data_file.content != DataFileContent.DATA]
    source_rows = int(engine.value(f"SELECT count(*) FROM {NEW}"))
    wanted = source_rows if match == NEW else int(engine.value(f"SELECT count(*) FROM {match}"))
    candidates = _prune(engine, table, snapshot, keys, data, match) if snapshot and data and wanted else []
    files: list[MergeFile] = []
    replaced: list[DataFile] = []
    updated = 0
    if candidates:
        by_path = {_norm(e.data_file.file_path): e.data_file for e in candidates}
        on = " AND ".join(f"f.{quote_ident(k)} = n.{quote_ident(k)}" for k in keys)
        key_cols = ", ".join(f"f.{quote_ident(k)}" for k in keys)
        old = old_rows(table, candidates, deletes, with_filename=True)
        hits_sql = f"SELECT f.lake_filename, {key_cols} FROM ({old}) AS f SEMI JOIN {match} AS n ON {on}"
        with engine.temp_table("lake_hits", hits_sql):
            per_file = engine.rows("SELECT lake_filename, count(*) FROM lake_hits GROUP BY 1 ORDER BY 1")
            updated = int(engine.value(f"SELECT count(*) FROM {NEW} AS n SEMI JOIN lake_hits AS f ON {on}"))
        for path, matched in per_file:
            data_file = by_path[_norm(path)]
            replaced.append(data_file)
            files.append(
                MergeFile(
                    data_file.file_path, data_file.record_count, data_file.file_size_in_bytes, int(matched)
                )
            )
    hit = {f.file_path for f in replaced}
    return UpsertPlan(
        table=table_name,
        keys=keys,
        snapshot_id=snapshot_id,
        sequence_number=(snapshot.sequence_number or 0) if snapshot is not None else 0,
        files=tuple(files),
        source_rows=source_rows,
        rows_updated=updated,
        rows_replaced=sum(f.matched for f in files),
        files_read=len(candidates),
        files_live=len(data),
        match=match,
        replaced=tuple(replaced),
        entries=tuple([e for e in candidates if e.data_file.file_path in hit] + (deletes if hit else [])),
    )


def old_rows(
    table: Table, data: list[ManifestEntry], deletes: list[ManifestEntry], *, with_filename: bool = False
) -> str:
    """The live rows of `data` (their delete files applied: a merge never brings back a deleted row) in
    the table's current schema, by field id."""
    return read_live(table, [*data, *deletes], with_filename=with_filename)


def write_upsert(
    engine: Engine, table: Table, plan: UpsertPlan, write_id: str, metadata: TableMetadata | None = None
) -> WrittenFiles:
    """The replaced files' rows without the matched ones, and the new rows, as new data files.

    `metadata` is the schema to write (an ingest with `--evolve` adds columns the old files lack).
    """
    target = (metadata or table.metadata).schema()
    cols = ", ".join(quote_ident(f.name) for f in target.fields)
    select = f"SELECT {cols} FROM {NEW}"
    if plan.replaced:
        have = {f.name for f in table.schema().fields}
        old_cols = ", ".join(
            quote_ident(f.name)
            if f.name in have
            else f"CAST(NULL AS {duckdb_type(f.field_type)}) AS {quote_ident(f.name)}"
            for f in target.fields
        )
        data = [e for e in plan.entries if e.data_file.content == DataFileContent.DATA]
        deletes = [e for e in plan.entries if e.data_file.content != DataFileContent.DATA]
        on = " AND ".join(f"f.{quote_ident(k)} = n.{quote_ident(k)}" for k in plan.keys)
        old = old_rows(table, data, deletes)
        select = f"SELECT {old_cols} FROM ({old}) AS f ANTI JOIN {plan.match} AS n ON {on} UNION ALL {select}"
    return copy_to_data_files(engine, table, select, metadata=metadata, write_id=write_id)


def stage_upsert(
    plan: UpsertPlan, written: WrittenFiles, summary: dict[str, str], branch: str | None = "main"
) -> Callable[[Transaction], None]:
    """One snapshot replacing the plan's files with `written`; re-checked on every attempt."""
    summary = {**summary, **plan.summary()}
    operation = Operation.OVERWRITE if plan.replaced else Operation.APPEND
    rewrite = stage_rewrite(plan.replaced, written.data_files, summary, operation, branch=branch)

    def stage(tx: Transaction) -> None:
        if plan.replaced:
            _refuse_new_deletes(tx, plan)
        rewrite(tx)  # removing a file that is no longer live fails there (a compaction got there first)

    return stage


def _refuse_new_deletes(tx: Transaction, plan: UpsertPlan) -> None:
    """A delete file committed since planning may remove a row our rewrite still holds."""
    head = tx.table_metadata.current_snapshot()
    if head is None or head.snapshot_id == plan.snapshot_id:
        return
    for entry in live_entries(table_io(tx), head):
        if (
            entry.data_file.content != DataFileContent.DATA
            and (entry.sequence_number or 0) > plan.sequence_number
        ):
            raise CommitError(
                f"merge into {plan.table} conflicts with a concurrent delete ({entry.data_file.file_path}); "
                "nothing was committed, run it again"
            )


def _prune(
    engine: Engine,
    table: Table,
    snapshot: Snapshot,
    keys: tuple[str, ...],
    data: list[ManifestEntry],
    match: str = NEW,
) -> list[ManifestEntry]:
    """The data files whose partition and column bounds may hold a key of `match`."""
    row_filter = _key_filter(engine, table, keys, match)
    if isinstance(row_filter, AlwaysTrue):
        return data
    live = {e.data_file.file_path: e for e in data}
    kept: dict[str, ManifestEntry] = {}
    try:
        planner = ManifestGroupPlanner(table.metadata, table.io, row_filter)
        for group in planner.plan_manifest_entries(snapshot.manifests(table.io)):
            for entry in group:
                if entry.data_file.file_path in live:
                    kept[entry.data_file.file_path] = live[entry.data_file.file_path]
    except Exception:  # pruning is an optimisation: what pyiceberg cannot evaluate is read in full
        return data
    return list(kept.values())


def _key_filter(engine: Engine, table: Table, keys: tuple[str, ...], match: str = NEW) -> BooleanExpression:
    """IN (the keys) for one key column with few distinct values, else each key's [min, max]."""
    if len(keys) == 1:
        key = quote_ident(keys[0])
        if int(engine.value(f"SELECT count(DISTINCT {key}) FROM {match}")) <= IN_LIST_MAX:
            values = [row[0] for row in engine.rows(f"SELECT DISTINCT {key} FROM {match}")]
            if values and all(_prunable(v) for v in values):
                return In(keys[0], values)  # type: ignore[call-arg, arg-type]  # pyiceberg's pydantic init
    bounds = engine.one(
        "SELECT "
        + ", ".join(f"min({quote_ident(k)}), max({quote_ident(k)})" for k in keys)
        + f" FROM {match}"
    )
    result: BooleanExpression = AlwaysTrue()
    for i, name in enumerate(keys):
        low, high = (bounds or ())[2 * i : 2 * i + 2] or (None, None)
        if _prunable(low) and _prunable(high):
            within = And(GreaterThanOrEqual(name, low), LessThanOrEqual(name, high))  # type: ignore[call-arg, arg-type]
            result = within if isinstance(result, AlwaysTrue) else And(result, within)
    return result


def _prunable(value: Any) -> bool:
    """A value pyiceberg's evaluators compare exactly (no NaN, no bool posing as int)."""
    if isinstance(value, float) and value != value:
        return False
    return isinstance(value, _PRUNABLE) and not isinstance(value, bool)


def _norm(path: str) -> str:
    return str(local_path(path)) if path.startswith("file://") else path
