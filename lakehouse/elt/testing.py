"""`lake test`: run the checks of a project's models and sources against their tables, each table
read at one snapshot (its current one, or the one `--as-of` names), resolved once."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from lakehouse.elt.checks import Check, CheckResult, parse_checks, run_checks
from lakehouse.elt.contracts import not_null_checks
from lakehouse.elt.project import Project
from lakehouse.elt.reads import pinned, pinned_query
from lakehouse.elt.selectors import builds
from lakehouse.read.plan import AsOf, ReadPlan

if TYPE_CHECKING:
    from pyiceberg.table import Table

    from lakehouse.io.engine import Engine


def check_project(
    load: Callable[[str], Table],
    engine: Callable[[], Engine],
    project: Project,
    select: str | list[str] | tuple[str, ...] | None = None,
    as_of: AsOf = None,
    exclude: str | list[str] | tuple[str, ...] | None = None,
) -> list[CheckResult]:
    """Run the checks of the selected models (and of every source when nothing is selected).

    `load` opens a table by name, `engine` a (locked-down) DuckDB engine, closed when done."""
    owners: list[tuple[str, list[Check]]] = []
    if not select:
        owners += [(s.name, parse_checks(s.name, s.checks)) for s in project.sources.values()]
    for name in project.select(select, exclude, last_build=builds(load)):
        model = project.models[name]
        owners.append(
            (
                model.name,
                [
                    *not_null_checks(model.name, model.config.columns),
                    *parse_checks(model.name, model.config.checks),
                ],
            )
        )
    views = {n: project.models[n].sql for n in project.models if project.models[n].config.inline}
    needed = {
        t
        for name, checks in owners
        if checks
        for t in [name, *(x for c in checks for x in c.tables(name))]
        if t.lower() not in views
    }
    for name in views:  # a view or ephemeral model is checked over its SQL, at the same snapshots
        needed |= set(project.models[name].depends_on)
    snapshots = ReadPlan.parse(as_of).snapshot_ids(load, sorted(needed))
    results: list[CheckResult] = []
    with engine() as opened:
        query = pinned_query(opened, load, pinned(snapshots), views)
        for name, checks in owners:
            results += run_checks(query, name, checks, snapshots.get(name.lower()))
    return results
