"""`Lakehouse`: the one object a script or a CLI command holds. It wires the profile's catalog,
storage and DuckDB engine to the modules that do the work, and never prints or exits."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any, Unpack

import pyarrow as pa

from lakehouse.core.config import Profile, load_profile
from lakehouse.core.schemas import parse_partition_terms, parse_schema
from lakehouse.errors import LakehouseError
from lakehouse.io.engine import Engine
from lakehouse.read.execute import QueryResult, open_reader, plan_sql, read_all, select_sql
from lakehouse.read.plan import AsOf, PinsArg, ReadPlan
from lakehouse.read.query import TableRead
from lakehouse.table import history, tables
from lakehouse.table.catalog import open_catalog, split_identifier
from lakehouse.table.pinning import PinReport, pin_tables, verify_pins
from lakehouse.table.pins import PinFile, write_pins

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot

    from lakehouse.elt.checks import CheckResult
    from lakehouse.elt.lineage import Lineage
    from lakehouse.elt.plan import RunPlan
    from lakehouse.elt.results import ModelResult, RunResult
    from lakehouse.ops.compaction import CompactionOptions, CompactionPlan, CompactionResult
    from lakehouse.ops.expire import ExpireResult
    from lakehouse.ops.gc import GcResult
    from lakehouse.ops.ingest import IngestResult
    from lakehouse.ops.maintain import MaintenancePlan, MaintenanceResult
    from lakehouse.table.claims import Claim
    from lakehouse.table.rollback import RollbackPlan


class Lakehouse:
    """A lake described by one profile: Iceberg catalog + warehouse + DuckDB."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile

    # ---------------------------------------------------------------- plumbing

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

    # ---------------------------------------------------------------- tables

    def tables(self, namespace: str | None = None) -> list[str]:
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

        split_identifier(name)
        terms = parse_partition_terms(partition_by)
        if schema is not None:
            return tables.create_table(self.catalog, name, parse_schema(schema), terms, properties)
        with self.engine(locked=False) as engine:
            inferred = infer_schema(engine, resolve_sources(self.profile, [like or ""], "auto"))
        return tables.create_table(self.catalog, name, inferred, terms, properties)

    def describe(self, name: str, as_of: str | int | None = None) -> dict[str, Any]:
        table = self.table(name)
        return tables.describe(table, name, ReadPlan.at(name, as_of).snapshot(table, name))

    def files(self, name: str, as_of: str | int | None = None) -> list[dict[str, Any]]:
        table = self.table(name)
        return tables.snapshot_files(table, ReadPlan.at(name, as_of).snapshot(table, name))

    def drop(self, name: str, purge: bool = False, *, dry_run: bool = False) -> dict[str, Any]:
        """Drop a table; `purge` deletes only files under its own location that no other catalog
        entry reaches, and lists the others as kept."""
        from lakehouse.ops.drop import DropResult, apply_drop, plan_drop

        plan = plan_drop(self.catalog, name, purge)
        if dry_run:
            return DropResult(plan, dry_run=True).to_dict()
        return apply_drop(self.catalog, plan, self.profile).to_dict()

    # ---------------------------------------------------------------- ingest

    def ingest(
        self, name: str, sources: list[str] | str, *, format: str = "auto", mode: str = "append",
        create: bool = False, partition_by: str | None = None, evolve: bool = False,
        properties: dict[str, str] | None = None, on_progress: Callable[[float], None] | None = None,
    ) -> IngestResult:  # fmt: skip
        """Append (or overwrite with) CSV, JSON Lines or Parquet files as one snapshot; `create=True`
        makes the table from the sources first."""
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
            )  # fmt: skip

    # ---------------------------------------------------------------- reads

    def plan_query(self, sql: str, as_of: AsOf = None, pins: PinsArg = None) -> tuple[str, list[TableRead]]:
        """The DuckDB SQL a query runs (lake tables replaced by snapshot scans), and what it reads."""
        return plan_sql(sql, ReadPlan.parse(as_of, pins), self.table)

    def query_reader(
        self, sql: str, as_of: AsOf = None, batch_size: int = 65536, pins: PinsArg = None
    ) -> QueryResult:
        """Stream a query's result as Arrow record batches, in a locked-down engine."""
        rewritten, reads = self.plan_query(sql, as_of, pins)
        return open_reader(self.engine(locked=True), rewritten, reads, batch_size)

    def query(self, sql: str, as_of: AsOf = None, pins: PinsArg = None) -> pa.Table:
        """Run DuckDB SQL in which `namespace.table` names are lake tables; returns an Arrow table.

        `pins="training.lock"` reads every table at the snapshot the lock file pins (a table the
        file does not pin is an error); `as_of={"t": ref}` still overrides single tables.
        """
        return read_all(self.query_reader(sql, as_of, pins=pins))

    def read(
        self, name: str, columns: list[str] | None = None, where: str | None = None, *,
        snapshot_id: int | None = None, as_of: str | int | None = None, pins: PinsArg = None,
    ) -> pa.Table:  # fmt: skip
        """A table (or a snapshot of it) as Arrow; `where` is a DuckDB SQL predicate.

        `snapshot_id=`, `as_of=` (id, ISO time, tag) or `pins="training.lock"` choose the snapshot.
        """
        sql, refs = select_sql(name, columns, where, snapshot_id, as_of)
        return self.query(sql, refs, pins=pins)

    def batches(
        self, name: str, columns: list[str] | None = None, where: str | None = None, *,
        snapshot_id: int | None = None, as_of: str | int | None = None, batch_size: int = 65536,
        pins: PinsArg = None,
    ) -> Iterator[pa.RecordBatch]:  # fmt: skip
        """Record batches of a table, streamed: memory stays at about one batch."""
        sql, refs = select_sql(name, columns, where, snapshot_id, as_of)
        result = self.query_reader(sql, refs, batch_size, pins=pins)
        try:
            yield from result.reader
        finally:
            result.close()

    # ---------------------------------------------------------------- maintenance (lakehouse.ops.compaction, .maintenance)

    def plan_compaction(self, name: str, **options: Unpack[CompactionOptions]) -> CompactionPlan:
        """What `compact` would rewrite (options: target_size, min_size, max_size, min_input_files,
        where, sort_by); nothing is written."""
        from lakehouse.ops.compaction import plan_compaction

        return plan_compaction(self.table(name), name, **options)

    def compact(
        self, name: str | CompactionPlan, *, dry_run: bool = False,
        on_progress: Callable[[float], None] | None = None, **options: Unpack[CompactionOptions],
    ) -> CompactionResult:  # fmt: skip
        """Rewrite small files into target-sized ones as one `replace` snapshot. Give a table name and
        options to plan and apply at once, or a `CompactionPlan` from `plan_compaction` to apply exactly it."""
        from lakehouse.ops.compaction import CompactionPlan, compact

        if isinstance(name, CompactionPlan) and options:
            raise LakehouseError("a compaction plan carries its own options; pass the plan alone")
        plan = name if isinstance(name, CompactionPlan) else self.plan_compaction(name, **options)
        with self.engine(locked=False) as engine:
            load = lambda: self.table(plan.table)  # noqa: E731
            return compact(self.profile, engine, load, plan, dry_run=dry_run, on_progress=on_progress)

    def expire(
        self, name: str, *, older_than: str = "5d", retain_last: int = 1, dry_run: bool = False
    ) -> ExpireResult:
        """Expire old snapshots (never a tagged or branch one) and delete the files only they reached."""
        from lakehouse.ops.expire import ExpireResult, apply_expire, plan_expire

        table = self.table(name)
        claims = self._claims(table)  # another profile's table at the same path
        plan = plan_expire(self.profile, table, name, older_than, retain_last, claims=claims)
        if dry_run:
            return ExpireResult.preview(plan)
        return apply_expire(self.profile, lambda: self.table(name), plan)

    def gc(
        self, name: str, *, older_than: str = "3d", dry_run: bool = False, force: bool = False
    ) -> GcResult:
        """Delete files under the table's location that no metadata reaches and are older than the window
        (3 days at least, unless `force`: a shorter window can take the files of a write in flight)."""
        from lakehouse.ops.gc import GcResult, apply_gc, plan_gc

        table = self.table(name)
        plan = plan_gc(self.profile, table, name, older_than, force=force, claims=self._claims(table))
        if dry_run:
            return GcResult.preview(plan)
        return apply_gc(self.profile, lambda: self.table(name), plan, claims=lambda: self._claims(table))

    def _claims(self, table: Table) -> list[Claim]:
        """Other catalog entries keeping files under the table's location (another profile on this
        database, or another table given the same location)."""
        from lakehouse.table.claims import claims

        return claims(self.catalog, ".".join(table.name()), table.location())

    def rewrite_manifests(self, name: str, *, dry_run: bool = False) -> dict[str, Any]:
        """Merge small manifests into few (a `replace` snapshot) so planning stays fast."""
        from lakehouse.ops.manifests import ManifestsResult, apply_manifests, plan_manifests

        plan = plan_manifests(self.table(name), name)
        if dry_run:
            return ManifestsResult(plan, dry_run=True).to_dict()
        return apply_manifests(self.profile, lambda: self.table(name), plan).to_dict()

    def maintain(
        self,
        name: str,
        *,
        plan: MaintenancePlan | None = None,
        dry_run: bool = False,
        on_progress: Callable[[float], None] | None = None,
    ) -> MaintenanceResult:
        """Compact, rewrite manifests, expire and gc with the defaults; `dry_run` returns the preview
        (a `MaintenanceResult` whose `.plan` can be passed back to execute exactly that plan)."""
        from lakehouse.ops.maintain import MaintenanceResult, apply_maintenance, plan_maintenance

        plan = plan or plan_maintenance(self.profile, self.table(name), name, self._claims(self.table(name)))
        if dry_run:
            return MaintenanceResult(plan, dry_run=True)
        with self.engine(locked=False) as engine:
            return apply_maintenance(
                self.profile, engine, lambda: self.table(name), plan, on_progress=on_progress,
                claims=lambda: self._claims(self.table(name)),
            )  # fmt: skip

    # ---------------------------------------------------------------- history (lakehouse.table.history, .rollback, .pinning)

    def snapshots(self, name: str) -> list[dict[str, Any]]:
        """Every snapshot of a table, oldest first, with its operation, row counts and refs."""
        return history.list_snapshots(self.table(name))

    def tags(self, name: str) -> list[dict[str, Any]]:
        """The table's tags and branches (including `main`)."""
        return history.list_refs(self.table(name))

    def tag(
        self, name: str, tag: str, as_of: str | int | None = None, *,
        retain_days: float | None = None, branch: bool = False, delete: bool = False,
    ) -> dict[str, Any]:  # fmt: skip
        """Tag (or branch) the current snapshot, or the one `as_of` names; `delete=True` removes it."""
        table = self.table(name)
        if delete:
            return history.delete_ref(table, name, tag)
        snapshot = ReadPlan.at(name, as_of).require(table, name)
        return history.create_ref(table, name, tag, snapshot, retain_days=retain_days, branch=branch)

    def plan_rollback(self, name: str, to: str | int) -> RollbackPlan:
        """What `rollback` would commit (`--dry-run` prints it); nothing is written."""
        from lakehouse.table.rollback import plan_rollback

        table = self.table(name)
        return plan_rollback(table, name, ReadPlan.at(name, to).require(table, name))

    def rollback(self, name: str, to: str | int | RollbackPlan) -> dict[str, Any]:
        """Make snapshot `to` current again as a new snapshot with its files; deletes nothing."""
        from lakehouse.table.commits import RetryPolicy
        from lakehouse.table.rollback import execute_rollback

        plan = self.plan_rollback(name, to) if isinstance(to, (str, int)) else to
        policy = RetryPolicy.of(self.profile)
        return {**plan.to_dict(), "snapshot_id": execute_rollback(plan, lambda: self.table(name), policy)}

    def pin(
        self,
        names: list[str] | str,
        output: str | os.PathLike[str],
        as_of: AsOf = None,
        *,
        tag: str | None = None,
    ) -> PinFile:
        """Record each table's snapshot (current, or `as_of`) in a lock file; `tag` also tags each one."""
        names = [names] if isinstance(names, str) else list(names)
        if not names:
            raise LakehouseError("name at least one table to pin")
        chosen = ReadPlan.parse(as_of).require  # each table's snapshot: current, or as_of's
        pins = pin_tables(names, self.table, chosen, tag, self.profile.name, self.profile.warehouse)
        return write_pins(output, pins)

    def verify_pins(self, path: str | os.PathLike[str], *, check_files: bool = True) -> PinReport:
        """Check that every pinned snapshot still exists, matches its fingerprint and has its files."""
        return verify_pins(path, self.table, self.profile.warehouse, check_files)

    # ---------------------------------------------------------------- ELT models (lakehouse.elt)

    def plan_run(
        self, project: str | os.PathLike[str] = "sql", select: Any = None, *,
        full_refresh: bool = False, as_of: AsOf = None,
    ) -> RunPlan:  # fmt: skip
        """The `RunPlan` of `lake run`: models in order, rendered SQL, every input pinned to a snapshot."""
        from lakehouse.elt.plan import plan_run
        from lakehouse.elt.project import Project

        return plan_run(self.table, Project.load(project), select, full_refresh=full_refresh, as_of=as_of)

    def run(
        self, project: str | os.PathLike[str] = "sql", select: Any = None, *,
        full_refresh: bool = False, as_of: AsOf = None, on_model: Callable[[ModelResult], None] | None = None,
        plan: RunPlan | None = None,
    ) -> RunResult:  # fmt: skip
        """Build the selected models with write-audit-publish; returns a `RunResult` (check `.ok`).
        `plan=` (from `plan_run`) builds exactly that plan instead of making a new one."""
        from lakehouse.elt.execute import execute

        if plan is None:
            plan = self.plan_run(project, select, full_refresh=full_refresh, as_of=as_of)
        return execute(
            plan, profile=self.profile, catalog=self.catalog, load=self.table,
            engine=lambda: self.engine(locked=True), on_model=on_model,
        )  # fmt: skip

    def test(
        self, project: str | os.PathLike[str] = "sql", select: Any = None, as_of: AsOf = None
    ) -> list[CheckResult]:
        """Run the checks of models (and sources) against current tables, or `as_of`: `CheckResult`s."""
        from lakehouse.elt.project import Project
        from lakehouse.elt.testing import check_project

        return check_project(
            self.table, lambda: self.engine(locked=True), Project.load(project), select, as_of
        )

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


def connect(profile: str | Profile | None = None, config: str | os.PathLike[str] | None = None) -> Lakehouse:
    """Open the lake of a profile (default: $LAKE_PROFILE, then catalog/lake.yaml's default, then `.lake/`)."""
    if isinstance(profile, Profile):
        return Lakehouse(profile)
    return Lakehouse(load_profile(profile, config))
