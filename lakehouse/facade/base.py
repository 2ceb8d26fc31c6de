"""The facade's plumbing: one profile's catalog, DuckDB engines and tables, opened lazily."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from lakehouse.core.config import Profile
from lakehouse.io.engine import EXTENSIONS, Engine
from lakehouse.read.files import PlanCache
from lakehouse.read.plan import ReadPlan
from lakehouse.table.catalog import open_catalog

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot

    from lakehouse.io.spark.session import SparkSession
    from lakehouse.read.tables import TableReader

# Modules that import pyiceberg, sqlglot or pyarrow are imported by the methods that use them, so a
# command that needs none of them (`lake tables` on a SQL catalog) starts without them:
# tests/test_imports.py keeps it so.


class LakeBase:
    """A lake described by one profile: Iceberg catalog + warehouse + DuckDB."""

    def __init__(self, profile: Profile, *, plan_cache: str | os.PathLike[str] | None = None) -> None:
        """`plan_cache`: a directory where snapshots' file plans are kept between processes (the CLI
        passes one); without it they are cached in memory for the life of this object."""
        self.profile = profile
        self._plan_cache = PlanCache(Path(plan_cache) if plan_cache is not None else None)
        self._locked: Engine | None = None
        self._loaded: frozenset[str] = frozenset()
        self._roots: frozenset[str] = frozenset()

    @cached_property
    def catalog(self) -> Catalog:
        return open_catalog(self.profile)

    @cached_property
    def reader(self) -> TableReader:
        """The read path's view of the tables: metadata and file plans, cached by snapshot."""
        from lakehouse.read.tables import TableReader
        from lakehouse.table.views import view_sql

        return TableReader(
            self.profile, lambda extensions: self.engine(locked=True, extensions=extensions), self.table,
            self._plan_cache, lambda identifier: view_sql(self.catalog, identifier),
        )  # fmt: skip

    def engine(self, *, locked: bool = True, extensions: Iterable[str] = EXTENSIONS) -> Engine:
        """A DuckDB engine for this lake. Locked engines are cursors on one shared, locked-down
        database, so extensions load once per Lakehouse; close the returned handle when done.
        Loading an extension costs up to 0.1 s, so a locked database loads only those asked for so
        far (httpfs always on S3); asking for more opens a new one with them all."""
        wanted = frozenset(extensions) | ({"httpfs"} if self.profile.is_s3 else set())
        roots = self._storage_roots()
        if not locked:
            return Engine(self.profile, extensions=sorted(wanted))
        if self._locked is None or not wanted <= self._loaded or not roots <= self._roots:
            self._loaded |= wanted
            self._roots |= roots
            engine = Engine(self.profile, extensions=sorted(self._loaded))
            engine.lock_down(sorted(self._roots))
            self._locked = engine  # cursors of a replaced database keep it open until they close
        return self._locked.cursor()

    def _storage_roots(self) -> frozenset[str]:
        """Where the lake's files may be: the warehouse location, and (for a REST catalog, whose
        warehouse may be a name) each table location the catalog handed out so far. Keys the
        catalog vended that are about to expire are refreshed first."""
        from lakehouse.table.catalog import noted_locations, refresh_expiring

        catalog = self.__dict__.get("catalog")  # only a catalog already opened has handed out tables
        refresh_expiring(catalog)
        found = noted_locations(catalog)
        return found | {self.profile.warehouse_location} if self.profile.warehouse_location else found

    def table(self, name: str) -> Table:
        """The pyiceberg `Table`, for anything lake does not wrap."""
        from lakehouse.table import tables

        return tables.load_table(self.catalog, name)

    def snapshot(self, name: str, as_of: str | int | None = None) -> Snapshot | None:
        return ReadPlan.at(name, as_of).snapshot(self.table(name), name)

    @contextmanager
    def spark_sessions(
        self, master: str | None = None, conf: Mapping[str, str] | None = None, *, needed: bool = True
    ) -> Iterator[Callable[[], SparkSession]]:
        """A getter of one Spark session for this lake, started on first use (Spark takes seconds to
        start) and stopped when the block ends. `needed`: fail now, before any work, without a Spark
        environment (`make spark`)."""
        env = None
        if needed:
            from lakehouse.io.spark.env import find_spark_env

            env = find_spark_env(self.profile.base_dir)
        lock = threading.Lock()
        started: list[SparkSession] = []

        def get() -> SparkSession:
            from lakehouse.io.spark.session import SparkSession

            with lock:
                if not started:
                    started.append(SparkSession(self.profile, master=master, conf=conf, env=env))
                return started[0]

        try:
            yield get
        finally:
            for session in started:
                session.close()


def column_names(value: list[str] | str | None) -> list[str]:
    """Column names given as `"a,b"` or `["a", "b"]` (or `["a,b"]`), stripped, empty ones dropped."""
    if value is None:
        return []
    parts = value.split(",") if isinstance(value, str) else [p for v in value for p in v.split(",")]
    return [p.strip() for p in parts if p.strip()]


def snapshot_at(table: Table, name: str, ref: str | int | None) -> Snapshot | None:
    """The snapshot `ref` names (anything `--as-of` takes; `@file.lock` is the table's pin), None for
    an empty table; `ref` None is the current snapshot."""
    from lakehouse.read.plan import erased_ref
    from lakehouse.table.snapshots import choose

    resolved = ReadPlan.at(name, ref).ref(name) if ref is not None else None
    return choose(table, name, erased_ref(table, resolved))
