"""`lake compact --where`: the partitions that may hold a row matching a DuckDB SQL predicate.

The predicate is the SQL `lake query` takes, checked and translated into a pyiceberg expression by
`lakehouse.read.predicate` (one translator for compact, delete and update), then planned by pyiceberg
over the partitions and column bounds. A predicate, or a part of an AND, that cannot be translated
only widens the choice (compaction keeps every row either way); one that cannot prune at all
compacts every partition, with a warning saying so.
"""

from __future__ import annotations

import warnings

from pyiceberg.expressions import BooleanExpression
from pyiceberg.manifest import DataFile, DataFileContent, ManifestEntry
from pyiceberg.table import Table

from lakehouse.errors import LakehouseWarning
from lakehouse.read.predicate import NO_PRUNING, where_filter


def files_matching(
    table: Table, where: str, snapshot_id: int, entries: list[ManifestEntry]
) -> list[DataFile] | None:
    """The data files that may hold a row matching `where`, or None when it cannot prune (every file)."""
    _tree, expression = where_filter(where, table.schema())
    if expression is None:
        _cannot_prune(where, NO_PRUNING)
        return None
    try:
        if any(e.data_file.content == DataFileContent.EQUALITY_DELETES for e in entries):
            return _in_partitions(table, expression, entries)  # pyiceberg cannot plan those
        return [task.file for task in table.scan(row_filter=expression, snapshot_id=snapshot_id).plan_files()]
    except Exception as exc:  # a literal pyiceberg cannot bind to the column's type
        _cannot_prune(where, str(exc).splitlines()[0])
        return None


def _cannot_prune(where: str, why: str) -> None:
    warnings.warn(
        f"--where {where!r} cannot select partitions ({why}); every partition is a candidate",
        LakehouseWarning,
        stacklevel=3,
    )


def _in_partitions(
    table: Table, expression: BooleanExpression, entries: list[ManifestEntry]
) -> list[DataFile]:
    """The data files whose partition values may hold a row matching `expression` (its inclusive
    projection)."""
    from pyiceberg.expressions.visitors import expression_evaluator, inclusive_projection
    from pyiceberg.schema import Schema

    evaluators = {}
    for spec_id, spec in table.specs().items():
        projected = inclusive_projection(table.schema(), spec)(expression)
        evaluators[spec_id] = expression_evaluator(
            Schema(*spec.partition_type(table.schema()).fields), projected, True
        )
    return [
        e.data_file
        for e in entries
        if e.data_file.content == DataFileContent.DATA
        and evaluators[e.data_file.spec_id](e.data_file.partition)
    ]
