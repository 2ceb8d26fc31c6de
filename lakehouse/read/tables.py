"""Find a lake's tables and plan how a query scans each one, with as little as the read needs.

On a SQL catalog (SQLite, PostgreSQL) the metadata location comes from the catalog's table and the
metadata JSON is parsed directly, so a query imports neither pyiceberg nor SQLAlchemy; other catalogs
(REST, Glue, Hive) load the table through pyiceberg. Either way the read path sees one `TableMeta`.

A scan is `read_parquet` over the snapshot's file plan when lakehouse/read/scan.py proves it reads the
same rows, else `iceberg_scan`; equality deletes are applied by `read_live` (DuckDB gets NULLs wrong).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from lakehouse.core.config import Profile
from lakehouse.core.schemas import quote_literal
from lakehouse.io.engine import Engine
from lakehouse.io.storage import local_path
from lakehouse.read.files import FilePlan, PlanCache, cache_key, file_plan
from lakehouse.read.plan import erased_ref
from lakehouse.read.pruning import duckdb_may_prune
from lakehouse.read.scan import ParquetScan, parquet_scan
from lakehouse.read.tableread import TableRead, current_projection
from lakehouse.table import metadata, sqlcatalog
from lakehouse.table.catalog import split_identifier
from lakehouse.table.metadata import Schema, Snapshot, TableMeta
from lakehouse.table.snapshots import choose

if TYPE_CHECKING:
    from pyiceberg.table import Table

# What each kind of scan needs loaded in DuckDB, besides httpfs on S3.
AVRO = ("avro",)
ICEBERG = ("avro", "iceberg")
EngineFactory = Callable[[Iterable[str]], Engine]


class TableReader:
    """One lake's tables, for reading: metadata by location and file plans by snapshot, cached."""

    def __init__(
        self,
        profile: Profile,
        engine: EngineFactory,
        load: Callable[[str], Table],
        cache: PlanCache | None = None,
        views: Callable[[str], str | None] | None = None,
    ) -> None:
        self.views = views  # a name that is no table -> the SQL of the view stored under it, if any
        self.profile = profile
        self.engine = engine  # a locked engine with at least the given extensions loaded
        self.load = load  # pyiceberg, for catalogs lake cannot read directly and for equality deletes
        self.cache = cache if cache is not None else PlanCache()
        self._scans: dict[tuple[str, int, int], tuple[bool, str | None, ParquetScan | None]] = {}

    def __call__(self, identifier: str) -> Table:
        """The pyiceberg table, for whatever needs more than reading (a reader is also a loader)."""
        return self.load(identifier)

    @staticmethod
    def of(load: Callable[[str], Table]) -> TableReader:
        """The reader behind a loader that code writing tables was handed (the facade passes its reader)."""
        if not isinstance(load, TableReader):
            raise TypeError("reads need the Lakehouse's TableReader (Lakehouse.reader), not a bare loader")
        return load

    def meta(self, identifier: str) -> TableMeta:
        split_identifier(identifier)  # a bad name is refused before any catalog sees it
        if sqlcatalog.is_light(self.profile):  # matches names as pyiceberg's lookup does, same errors
            return metadata.load(
                identifier, sqlcatalog.metadata_location(self.profile, identifier), self._read_bytes
            )
        return metadata.of_table(self.load(identifier), identifier)

    def plan(self, meta: TableMeta, snapshot: Snapshot) -> FilePlan:
        key = cache_key(meta, snapshot, self.profile.warehouse)
        found = self.cache.get(key)
        if found is None:
            found = file_plan(meta, snapshot, lambda: self.engine(AVRO))
            self.cache.put(key, found)
        return found

    def at(self, identifier: str, ref: str | int | None) -> tuple[TableMeta, Snapshot | None]:
        """The table and the snapshot `ref` names (None: the current one; an empty table has none)."""
        meta = self.meta(identifier)
        return meta, choose(meta, identifier, erased_ref(meta, ref))

    def plan_of(self, meta: TableMeta, snapshot: Snapshot | None) -> FilePlan | None:
        """The snapshot's file plan; None for no snapshot, or a v1 one without a manifest list."""
        return self.plan(meta, snapshot) if snapshot is not None and snapshot.manifest_list else None

    def read(
        self,
        identifier: str,
        ref: str | int | None,
        *,
        current_schema: bool = False,
        meta: TableMeta | None = None,
    ) -> TableRead:
        """How a query scans `identifier` at `ref`: the current state in the current schema (as Spark
        does), time travel in the schema the snapshot was written with (unless `current_schema`)."""
        meta = meta or self.meta(identifier)
        ref = erased_ref(meta, ref)
        snapshot = choose(meta, identifier, ref)
        schema = meta.schema()
        written = schema
        if snapshot is not None and snapshot.schema_id is not None:
            written = meta.schemas_by_id.get(snapshot.schema_id, schema)
        if ref is not None and not current_schema:
            schema = written
        if snapshot is None:
            return TableRead(identifier, meta.metadata_location, None, schema.columns())
        key = (meta.metadata_location, snapshot.snapshot_id, schema.schema_id)
        if key not in self._scans:  # a snapshot read in one schema always scans the same way
            self._scans[key] = self._scan(identifier, meta, snapshot, schema)
        pushdown, live, parquet = self._scans[key]
        return TableRead(
            identifier, meta.metadata_location, snapshot.snapshot_id, schema.columns(),
            current_projection(schema, written), pushdown, live, parquet,
        )  # fmt: skip

    def _scan(
        self, identifier: str, meta: TableMeta, snapshot: Snapshot, schema: Schema
    ) -> tuple[bool, str | None, ParquetScan | None]:
        """(may DuckDB prune partitions, read_live SQL, read_parquet SQL) for one snapshot and schema."""
        plan = self.plan_of(meta, snapshot)
        live = (
            self._live_sql(identifier, snapshot, schema)
            if plan is None or plan.equality_delete_files
            else None
        )
        parquet = None
        if plan is not None and live is None and self.profile.settings.read_parquet:
            parquet = parquet_scan(meta, schema, plan, not self.profile.is_s3)
        return plan is not None and duckdb_may_prune(meta, plan), live, parquet

    def _live_sql(self, identifier: str, snapshot: Snapshot, schema: Schema) -> str | None:
        """The snapshot's live rows when it has equality deletes (or is a v1 snapshot without a manifest
        list, which only pyiceberg reads here): read through pyiceberg's view of the table."""
        from lakehouse.read.pruning import live_sql

        table = self.load(identifier)
        return live_sql(
            table, table.metadata.snapshot_by_id(snapshot.snapshot_id), table.schemas()[schema.schema_id]
        )

    def _read_bytes(self, location: str) -> bytes:
        if location.startswith("s3://"):
            with self.engine(()) as con:
                return bytes(con.value(f"SELECT content FROM read_blob({quote_literal(location)})"))
        return local_path(location).read_bytes()
