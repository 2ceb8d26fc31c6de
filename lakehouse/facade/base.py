"""The facade's plumbing: one profile's catalog, DuckDB engines and tables, opened lazily."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from lakehouse.core.config import Profile
from lakehouse.io.engine import Engine
from lakehouse.read.plan import ReadPlan
from lakehouse.table import tables
from lakehouse.table.catalog import open_catalog

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot


class LakeBase:
    """A lake described by one profile: Iceberg catalog + warehouse + DuckDB."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile

    @cached_property
    def catalog(self) -> Catalog:
        return open_catalog(self.profile)

    @cached_property
    def _locked_engine(self) -> Engine:
        engine = Engine(self.profile)
        engine.lock_down([self.profile.warehouse])
        return engine

    def engine(self, *, locked: bool = True) -> Engine:
        """A DuckDB engine for this lake. Locked engines are cursors on one shared, locked-down
        database, so extensions load once per Lakehouse; close the returned handle when done."""
        return self._locked_engine.cursor() if locked else Engine(self.profile)

    def table(self, name: str) -> Table:
        """The pyiceberg `Table`, for anything lake does not wrap."""
        return tables.load_table(self.catalog, name)

    def snapshot(self, name: str, as_of: str | int | None = None) -> Snapshot | None:
        return ReadPlan.at(name, as_of).snapshot(self.table(name), name)
