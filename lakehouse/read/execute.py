"""Run a read: rewrite its SQL to scan each table at the snapshot the `ReadPlan` names, then stream
the result from a locked-down engine as Arrow record batches."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lakehouse.core.schemas import quote_ident
from lakehouse.errors import LakehouseError, NoSuchTableError, QueryError
from lakehouse.io.engine import Engine, short_error
from lakehouse.read.plan import AsOf, ReadPlan
from lakehouse.read.query import Lister, rewrite
from lakehouse.read.tableread import TableRead
from lakehouse.read.tables import ICEBERG, TableReader
from lakehouse.table.catalog import split_identifier

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass
class QueryResult:
    """A streaming query result, plus the snapshot each table was read at."""

    reader: pa.RecordBatchReader
    reads: list[TableRead]
    engine: Engine

    def read_all(self) -> pa.Table:
        try:
            return self.reader.read_all()
        finally:
            self.engine.close()

    def close(self) -> None:
        self.engine.close()

    def snapshots(self) -> dict[str, int | None]:
        return {r.identifier: r.snapshot_id for r in self.reads}


def plan_sql(
    sql: str,
    plan: ReadPlan,
    tables: TableReader,
    list_tables: Lister | None = None,
    relations: Mapping[str, str] | None = None,
) -> tuple[str, list[TableRead]]:
    """The DuckDB SQL a query runs (lake tables replaced by snapshot scans), and what it reads;
    `list_tables` lists the lake's tables for SHOW TABLES; `relations` maps a table (lower case) to the
    SQL read in its place, in its current schema (a snapshot-incremental model's new rows of an input)."""

    def read(identifier: str, sql_ref: str | None) -> TableRead:
        relation = (relations or {}).get(identifier.lower()) if sql_ref is None else None
        if relation is not None:  # read in place of the table (which may not exist: a view)
            return TableRead(identifier, "", None, [], live_sql=relation)
        try:
            meta = tables.meta(identifier)  # first: a missing table says so before any pin is looked up
        except NoSuchTableError:
            view = tables.views(identifier) if tables.views is not None and sql_ref is None else None
            if view is None:
                raise
            return TableRead(
                identifier, "", None, [], live_sql=plan_sql(view, plan, tables, relations=relations)[0]
            )
        current = plan.current_schema and sql_ref is None  # `FOR ... AS OF` in the SQL is time travel
        return tables.read(identifier, plan.sql_ref(identifier, sql_ref), current_schema=current, meta=meta)

    def changes(identifier: str, old: str, new: str | None) -> str:
        # imported only when a query calls changes(): the plain query path stays light
        from lakehouse.read.diff.compare import changes_between

        to = plan.ref(identifier) if new is None else plan.sql_ref(identifier, new)
        return changes_between(tables, identifier, plan.sql_ref(identifier, old), to)

    return rewrite(sql, read, list_tables, changes)


def scan_extensions(reads: list[TableRead]) -> tuple[str, ...]:
    """The DuckDB extensions a query's scans need: iceberg (and avro, which it loads) for iceberg_scan."""
    return ICEBERG if any(r.scan in ("iceberg_scan", "read_live") for r in reads) else ()


def open_reader(engine: Engine, sql: str, reads: list[TableRead], batch_size: int) -> QueryResult:
    """Start streaming `sql` on `engine`, which the result then owns (and closes)."""
    try:
        reader = engine.reader(sql, batch_size)
    except Exception as exc:
        engine.close()
        if isinstance(exc, LakehouseError):
            raise
        raise QueryError(short_error(exc)) from None
    return QueryResult(reader, reads, engine)


def read_all(result: QueryResult) -> pa.Table:
    """The whole result as one Arrow table; an engine error is a one-line QueryError."""
    try:
        return result.read_all()
    except Exception as exc:
        raise QueryError(short_error(exc)) from None


def select_sql(
    name: str, columns: list[str] | None, where: str | None, snapshot_id: int | None, as_of: str | int | None
) -> tuple[str, AsOf]:
    """`Lakehouse.read`/`batches` as a query: its SQL, and its table's reference (an id wins)."""
    split_identifier(name)
    cols = ", ".join(quote_ident(c) for c in columns) if columns else "*"
    sql = f"SELECT {cols} FROM {name}"
    if where:
        sql += f" WHERE {where}"
    ref = snapshot_id if snapshot_id is not None else as_of
    return sql, None if ref is None else {name: str(ref)}
