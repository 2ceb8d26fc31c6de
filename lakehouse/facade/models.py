"""ELT projects (lakehouse.elt): plan, run, test, lineage, provenance, docs."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lakehouse.facade.base import LakeBase
from lakehouse.read.plan import AsOf, ReadPlan

if TYPE_CHECKING:
    from lakehouse.elt.checks import CheckResult
    from lakehouse.elt.docsite import DocsResult
    from lakehouse.elt.lineage import Lineage
    from lakehouse.elt.plan import RunPlan
    from lakehouse.elt.results import ModelResult, RunResult
    from lakehouse.elt.seeds import SeedPlan, SeedResult


class ModelsAPI(LakeBase):
    """Model projects: plan and run with write-audit-publish, checks, lineage and provenance."""

    def plan_run(
        self, project: str | os.PathLike[str] = "sql", select: Any = None, *,
        full_refresh: bool = False, as_of: AsOf = None, engine: str = "duckdb",
        variables: dict[str, Any] | None = None, exclude: Any = None,
    ) -> RunPlan:  # fmt: skip
        """The `RunPlan` of `lake run`: models in order, rendered SQL, every input pinned to a snapshot,
        and the engine each model is built on (`engine="spark"`: Spark, but for DuckDB-only models).
        `variables` are dbt's `--vars`, over the project's `vars:`; `select` and `exclude` take dbt's
        selectors (lakehouse.elt.selectors)."""
        from lakehouse.elt.plan import plan_run
        from lakehouse.elt.project import Project

        return plan_run(
            self.reader, Project.load(project, variables), select, full_refresh=full_refresh, as_of=as_of,
            engine=engine, exclude=exclude,
        )  # fmt: skip

    def run(
        self, project: str | os.PathLike[str] = "sql", select: Any = None, *,
        full_refresh: bool = False, as_of: AsOf = None, on_model: Callable[[ModelResult], None] | None = None,
        plan: RunPlan | None = None, threads: int | None = None, engine: str = "duckdb",
        spark_master: str | None = None, spark_conf: dict[str, str] | None = None,
        variables: dict[str, Any] | None = None, exclude: Any = None, fail_fast: bool = False,
    ) -> RunResult:  # fmt: skip
        """Build the selected models with write-audit-publish; returns a `RunResult` (check `.ok`).
        Models whose SQL, config() and input snapshots are those of their table's last build are up
        to date and not rebuilt (`full_refresh=True` rebuilds every one). `plan=` (from `plan_run`)
        builds exactly that plan instead of making a new one. `threads` models are built at once
        (default: the profile's `lake.run.threads`, else one per core), on one shared DuckDB.
        `engine="spark"` writes the models on a Spark session (`spark_master`, default local; extra
        `spark_conf`), started once for the run and stopped after it; checks still run on DuckDB.
        `fail_fast=True` stops at the first model that fails: models not yet started are skipped."""
        from lakehouse.elt.execute import execute

        if plan is None:
            plan = self.plan_run(
                project, select, full_refresh=full_refresh, as_of=as_of, engine=engine, variables=variables,
                exclude=exclude,
            )  # fmt: skip
        # Open the shared database (every extension) and the reader here, not racing in worker threads.
        self.engine(locked=True).close()
        self.reader  # noqa: B018
        needed = any(s.engine == "spark" and not s.up_to_date for s in plan.steps)
        with self.spark_sessions(spark_master, spark_conf, needed=needed) as spark:
            return execute(
                plan, profile=self.profile, catalog=self.catalog, load=self.reader,
                engine=lambda: self.engine(locked=True), on_model=on_model, threads=self.run_threads(threads),
                spark=spark, fail_fast=fail_fast,
            )  # fmt: skip

    def plan_seeds(
        self, project: str | os.PathLike[str] = "sql", select: Any = None, *, full_refresh: bool = False,
        seed_paths: list[str | os.PathLike[str]] | None = None,
    ) -> SeedPlan:  # fmt: skip
        """The `SeedPlan` of `lake seed`: per seed CSV its table, types, rows and what loading does."""
        from lakehouse.elt.seeds import plan_seeds

        with self.engine(locked=False) as engine:
            return plan_seeds(
                self.profile, self.catalog, engine, project, select, full_refresh=full_refresh,
                seed_paths=seed_paths,
            )  # fmt: skip

    def seed(
        self, project: str | os.PathLike[str] = "sql", select: Any = None, *, full_refresh: bool = False,
        seed_paths: list[str | os.PathLike[str]] | None = None, plan: SeedPlan | None = None,
    ) -> SeedResult:  # fmt: skip
        """Load the project's seeds (every `*.csv` under its seed paths) into tables, one snapshot each;
        seeds whose file and types are those last loaded are skipped (`full_refresh=True` loads every
        one, recreating tables whose columns changed). `plan=` (from `plan_seeds`) does exactly that plan."""
        from lakehouse.elt.seeds import load_seeds

        if plan is None:
            plan = self.plan_seeds(project, select, full_refresh=full_refresh, seed_paths=seed_paths)
        with self.engine(locked=False) as engine:
            return load_seeds(plan, self.profile, self.catalog, engine)

    def run_threads(self, threads: int | None = None) -> int:
        """How many models `run` builds at once: `threads`, else the profile's, else the core count."""
        return threads or self.profile.settings.run_threads or os.cpu_count() or 1

    def test(
        self, project: str | os.PathLike[str] = "sql", select: Any = None, as_of: AsOf = None,
        variables: dict[str, Any] | None = None, exclude: Any = None,
    ) -> list[CheckResult]:  # fmt: skip
        """Run the checks of models (and sources) against current tables, or `as_of`: `CheckResult`s."""
        from lakehouse.elt.project import Project
        from lakehouse.elt.testing import check_project

        return check_project(
            self.reader, lambda: self.engine(locked=True), Project.load(project, variables), select, as_of,
            exclude,
        )  # fmt: skip

    def lineage(
        self, project: str | os.PathLike[str] = "sql", model: str | None = None, *, columns: bool = False
    ) -> Lineage:
        """The table DAG (and with `columns=True` the column lineage) of a project, as a `Lineage`."""
        from lakehouse.elt.lineage import build_lineage
        from lakehouse.elt.project import Project

        return build_lineage(Project.load(project), model, columns=columns, load=self.table)

    def provenance(self, name: str, as_of: str | int | None = None) -> dict[str, Any]:
        """The snapshot of `name` and, recursively, the input snapshots `lake run` built it from."""
        from lakehouse.elt.provenance import provenance

        return provenance(self.table, name, ReadPlan.at(name, as_of).ref(name))

    def docs(
        self, project: str | os.PathLike[str] = "sql", output: str | os.PathLike[str] | None = None
    ) -> DocsResult:
        """Write the documentation site of `project` into `output` (default `.lake/docs` under the
        project root): `index.html`, one page that opens offline (descriptions, columns, checks, SQL,
        the lineage graph, each table's latest snapshot and whether it is stale), and `docs.json`."""
        from lakehouse.elt.docsite import build_site, write_site
        from lakehouse.elt.project import Project

        where = output if output is not None else os.path.join(self.profile.base_dir, ".lake", "docs")
        return write_site(build_site(Project.load(project), self.table), where)
