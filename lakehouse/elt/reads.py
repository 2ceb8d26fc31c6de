"""How models and checks read: their SQL rewritten to scan the snapshot ids a run pinned.

The ids were resolved once, when the run was planned; here they only become a `ReadPlan` of ids,
which names each table's snapshot without parsing `--as-of` or reading a lock file again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import pyarrow as pa

from lakehouse.errors import QueryError
from lakehouse.io.engine import short_error
from lakehouse.read.execute import plan_sql
from lakehouse.read.plan import ReadPlan
from lakehouse.read.tables import TableReader

if TYPE_CHECKING:
    from pyiceberg.table import Table

    from lakehouse.io.engine import Engine


def pinned(ids: Mapping[str, int | None]) -> ReadPlan:
    """Each table at its snapshot id; a table with none (new or empty when planned) at its current one.
    Tables read in their current schema: a pinned id is for repeatability, not time travel."""
    plan = ReadPlan.parse({name: sid for name, sid in ids.items() if sid is not None})
    return dataclasses.replace(plan, current_schema=True)


def rewrite_pinned(
    sql: str, load: Callable[[str], Table], reads: ReadPlan, relations: Mapping[str, str] | None = None
) -> str:
    """DuckDB SQL reading each lake table at the snapshot `reads` names, as `lake query` does, or the
    SQL `relations` gives in its place (by lower-case name)."""
    return plan_sql(sql, reads, TableReader.of(load), relations=relations)[0]


def pinned_query(
    engine: Engine, load: Callable[[str], Table], reads: ReadPlan, views: Mapping[str, str] | None = None
) -> Callable[[str], pa.Table]:
    """The `query` function checks run through: SQL over pinned snapshots, DuckDB errors as QueryError.
    `views` maps a view or ephemeral model (lower case) to its SQL, read in its place at the same pins."""
    relations = {name: rewrite_pinned(sql, load, reads) for name, sql in (views or {}).items()}

    def query(sql: str) -> pa.Table:
        rewritten = rewrite_pinned(sql, load, reads, relations)
        try:
            return engine.arrow(rewritten)
        except Exception as exc:
            raise QueryError(short_error(exc)) from None

    return query
