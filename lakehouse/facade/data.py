"""Tables, ingest and reads: the facade methods a script uses most."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from lakehouse.core.schemas import parse_partition_terms, parse_schema
from lakehouse.errors import LakehouseError
from lakehouse.facade.base import LakeBase
from lakehouse.read.plan import AsOf, PinsArg, ReadPlan
from lakehouse.table import sqlcatalog
from lakehouse.table.catalog import split_identifier

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.table import Table

    from lakehouse.ops.ingest import IngestResult
    from lakehouse.read.execute import QueryResult
    from lakehouse.read.tableread import TableRead

# lakehouse.table.tables (pyiceberg), lakehouse.read.execute (sqlglot) and pyarrow are imported by the
# methods that use them: `lake tables` on a SQL catalog needs none of them.


class DataAPI(LakeBase):
    """List, create, describe, drop and fill tables; query and read them at any snapshot."""

    # ---------------------------------------------------------------- tables

    def tables(self, namespace: str | None = None) -> list[str]:
        """`namespace.table` names, sorted: of every top-level namespace, or of `namespace`."""
        if sqlcatalog.is_light(self.profile):  # SQLite or PostgreSQL: read without pyiceberg
            return sqlcatalog.list_tables(self.profile, namespace)
        from lakehouse.table import tables

        return tables.list_tables(self.catalog, namespace)

    def create(
        self,
        name: str,
        schema: str | None = None,
        *,
        like: str | None = None,
        partition_by: str | None = None,
        properties: dict[str, str] | None = None,
    ) -> Table:
        if (schema is None) == (like is None):
            raise LakehouseError("give exactly one of --schema or --like")
        from lakehouse.io.sources import resolve_sources
        from lakehouse.ops.columns import infer_schema
        from lakehouse.table import tables

        split_identifier(name)
        terms = parse_partition_terms(partition_by)
        if schema is not None:
            return tables.create_table(self.catalog, name, parse_schema(schema), terms, properties)
        with self.engine(locked=False) as engine:
            inferred = infer_schema(engine, resolve_sources(self.profile, [like or ""], "auto"))
        return tables.create_table(self.catalog, name, inferred, terms, properties)

    def describe(self, name: str, as_of: str | int | None = None) -> dict[str, Any]:
        from lakehouse.read import overview

        meta, snapshot = self.reader.at(name, ReadPlan.at(name, as_of).ref(name))
        files = overview.table_files(meta, self.reader.plan_of(meta, snapshot))
        if files is not None:
            counts = overview.Counts.of_files(files)
        else:  # delete files apply, or a value only pyiceberg prints: its view of the files
            files, live = self._files_and_counts(name, snapshot)
            counts = overview.Counts(
                live.data_files, live.delete_files, live.data_rows, live.rows, live.exact
            )
        return overview.describe(meta, name, snapshot, files, counts, time_travel=as_of is not None)

    def files(self, name: str, as_of: str | int | None = None) -> list[dict[str, Any]]:
        from lakehouse.read import overview

        meta, snapshot = self.reader.at(name, ReadPlan.at(name, as_of).ref(name))
        found = overview.table_files(meta, self.reader.plan_of(meta, snapshot))
        return found if found is not None else self._files_and_counts(name, snapshot)[0]

    def _files_and_counts(self, name: str, snapshot: Any) -> tuple[list[dict[str, Any]], Any]:
        from lakehouse.table import tables

        table = self.table(name)
        return tables.files_and_counts(
            table, table.snapshot_by_id(snapshot.snapshot_id) if snapshot else None
        )

    def drop(
        self, name: str, purge: bool = False, *, dry_run: bool = False,
        confirm: Callable[[dict[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Drop a table; `purge` deletes only files under its own location that no other catalog
        entry reaches, and lists the others as kept. `confirm` is shown the dry run's result and
        drops exactly that plan only if it returns True (else the result is the dry run's, with
        `"dropped": False`). The result's `warnings` name the tags and branches other than main, and
        the pin files (`*.lock`) in the working directory that pin the table."""
        from pathlib import Path

        from lakehouse.ops.drop import DropResult, apply_drop, plan_drop

        plan = plan_drop(self.catalog, name, purge, pins_in=Path.cwd())
        if dry_run:
            return DropResult(plan, dry_run=True).to_dict()
        if confirm is not None and not confirm(DropResult(plan, dry_run=True).to_dict()):
            return {**DropResult(plan, dry_run=True).to_dict(), "dropped": False}
        return apply_drop(self.catalog, plan, self.profile).to_dict()

    # ---------------------------------------------------------------- ingest

    def ingest(
        self, name: str, sources: list[str] | str, *, format: str = "auto", mode: str = "append",
        create: bool = False, partition_by: str | None = None, evolve: bool = False,
        properties: dict[str, str] | None = None, on_progress: Callable[[float], None] | None = None,
        key: list[str] | str | None = None, dry_run: bool = False,
    ) -> IngestResult:  # fmt: skip
        """Append (overwrite with, or merge on `key`) CSV, JSON Lines or Parquet files as one snapshot;
        `create=True` makes the table from the sources first. `mode="merge"` is an upsert: a source
        row whose key is in the table replaces that row, the others are inserted (`dry_run` plans it)."""
        from lakehouse.io.sources import resolve_sources
        from lakehouse.ops.ingest import ingest_into

        split_identifier(name)
        found = resolve_sources(
            self.profile, [sources] if isinstance(sources, str) else list(sources), format
        )
        with self.engine(locked=False) as engine:
            return ingest_into(
                self.profile, self.catalog, engine, name, found, mode=mode, create=create,
                partition_by=partition_by, evolve=evolve, properties=properties, on_progress=on_progress,
                key=_keys(key), dry_run=dry_run,
            )  # fmt: skip

    def merge(
        self, name: str, sources: list[str] | str, *, key: list[str] | str, format: str = "auto",
        evolve: bool = False, dry_run: bool = False, on_progress: Callable[[float], None] | None = None,
    ) -> IngestResult:  # fmt: skip
        """Upsert the sources into `name` on the `key` column(s), copy-on-write, as one snapshot: only
        the files holding a key are rewritten. Repeated or NULL keys in the sources are refused."""
        return self.ingest(
            name, sources, format=format, mode="merge", key=key, evolve=evolve, dry_run=dry_run,
            on_progress=on_progress,
        )  # fmt: skip

    # ---------------------------------------------------------------- reads

    def plan_query(self, sql: str, as_of: AsOf = None, pins: PinsArg = None) -> tuple[str, list[TableRead]]:
        """The DuckDB SQL a query runs (lake tables replaced by snapshot scans), and what it reads."""
        from lakehouse.read.execute import plan_sql

        return plan_sql(sql, ReadPlan.parse(as_of, pins), self.reader, self.tables)

    def query_reader(
        self, sql: str, as_of: AsOf = None, batch_size: int = 65536, pins: PinsArg = None
    ) -> QueryResult:
        """Stream a query's result as Arrow record batches, in a locked-down engine."""
        from lakehouse.read.execute import open_reader, scan_extensions

        rewritten, reads = self.plan_query(sql, as_of, pins)
        return open_reader(
            self.engine(locked=True, extensions=scan_extensions(reads)), rewritten, reads, batch_size
        )

    def query(self, sql: str, as_of: AsOf = None, pins: PinsArg = None) -> pa.Table:
        """Run DuckDB SQL in which `namespace.table` names are lake tables; returns an Arrow table.

        `pins="training.lock"` reads every table at the snapshot the lock file pins (a table the
        file does not pin is an error); `as_of={"t": ref}` still overrides single tables.
        """
        from lakehouse.read.execute import read_all

        return read_all(self.query_reader(sql, as_of, pins=pins))

    def read(
        self, name: str, columns: list[str] | None = None, where: str | None = None, *,
        snapshot_id: int | None = None, as_of: str | int | None = None, pins: PinsArg = None,
        order_by: str | list[str] | None = None, as_: str = "arrow",
    ) -> Any:  # fmt: skip
        """A table (or a snapshot of it); `where` is a DuckDB SQL predicate.

        `snapshot_id=`, `as_of=` (id, ISO time, tag) or `pins="training.lock"` choose the snapshot.
        Rows come in no stable order, even from one pinned snapshot (files are read in parallel):
        pass `order_by=` (a column or a list) when order matters. `as_` is "arrow" (a `pa.Table`),
        "pandas" or "polars" (a DataFrame; `pip install 'lakehouse[pandas]'` or `[polars]`), or
        "duckdb" (a relation on a new in-memory DuckDB connection of its own, valid while you hold it).
        """
        from lakehouse.read.outputs import check_output, convert

        check_output(as_)
        sql, refs = self._select(name, columns, where, snapshot_id, as_of, order_by)
        return convert(self.query(sql, refs, pins=pins), as_)

    def batches(
        self, name: str, columns: list[str] | None = None, where: str | None = None, *,
        snapshot_id: int | None = None, as_of: str | int | None = None, batch_size: int = 65536,
        pins: PinsArg = None, order_by: str | list[str] | None = None,
    ) -> Iterator[pa.RecordBatch]:  # fmt: skip
        """Record batches of a table, streamed: memory stays at about one batch. As with `read`, the
        order of rows is not stable unless `order_by=` names it (sorting then holds the rows)."""
        sql, refs = self._select(name, columns, where, snapshot_id, as_of, order_by)
        result = self.query_reader(sql, refs, batch_size, pins=pins)
        try:
            yield from result.reader
        finally:
            result.close()

    def _select(
        self, name: str, columns: list[str] | None, where: str | None, snapshot_id: int | None,
        as_of: str | int | None, order_by: str | list[str] | None,
    ) -> tuple[str, AsOf]:  # fmt: skip
        from lakehouse.read.execute import select_sql
        from lakehouse.read.outputs import order_clause

        sql, refs = select_sql(name, columns, where, snapshot_id, as_of)
        if order_by is None:
            return sql, refs
        meta = self.reader.meta(name)
        known = [f.name for f in meta.schemas_by_id[meta.current_schema_id].fields]
        return sql + order_clause(order_by, known, name), refs


def _keys(key: list[str] | str | None) -> list[str] | None:
    """`"a,b"` or `["a", "b"]`."""
    if key is None:
        return None
    parts = key.split(",") if isinstance(key, str) else [p for k in key for p in k.split(",")]
    return [p.strip() for p in parts if p.strip()] or None
