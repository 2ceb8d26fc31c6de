"""`Lakehouse`: the one object a script or a CLI command holds. It wires the profile's catalog,
storage and DuckDB engine to the modules that do the work, and never prints or exits. Its methods
are grouped by job in `lakehouse/facade/`."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from lakehouse.core.config import Profile, load_profile
from lakehouse.facade.changes import ChangesAPI
from lakehouse.facade.data import DataAPI
from lakehouse.facade.diff import DiffAPI
from lakehouse.facade.drift import DriftAPI
from lakehouse.facade.erase import EraseAPI
from lakehouse.facade.history import HistoryAPI
from lakehouse.facade.maintenance import MaintenanceAPI
from lakehouse.facade.models import ModelsAPI
from lakehouse.facade.schema import SchemaAPI

if TYPE_CHECKING:
    from lakehouse.read.execute import QueryResult

__all__ = ["Lakehouse", "QueryResult", "connect"]


class Lakehouse(
    DataAPI, ChangesAPI, DiffAPI, DriftAPI, EraseAPI, SchemaAPI, MaintenanceAPI, HistoryAPI, ModelsAPI
):
    """A lake described by one profile: Iceberg catalog + warehouse + DuckDB."""


def connect(
    profile: str | Profile | None = None, config: str | os.PathLike[str] | None = None,
    *, plan_cache: str | os.PathLike[str] | None = None,
) -> Lakehouse:  # fmt: skip
    """Open the lake of a profile (default: $LAKE_PROFILE, then catalog/lake.yaml's default, then `.lake/`).
    `plan_cache`: a directory where snapshots' file plans outlive the process (the CLI's)."""
    if not isinstance(profile, Profile):
        profile = load_profile(profile, config)
    return Lakehouse(profile, plan_cache=plan_cache)


def __getattr__(name: str) -> Any:
    """`QueryResult` on first use: it brings the SQL rewriter (sqlglot), which `lake tables` never needs."""
    if name == "QueryResult":
        from lakehouse.read.execute import QueryResult

        return QueryResult
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
