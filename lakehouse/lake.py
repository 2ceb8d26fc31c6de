"""`Lakehouse`: the one object a script or a CLI command holds. It wires the profile's catalog,
storage and DuckDB engine to the modules that do the work, and never prints or exits."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from lakehouse.core.config import Profile, load_profile
from lakehouse.core.schemas import parse_partition_terms, parse_schema, quote_ident
from lakehouse.errors import LakehouseError, NoSuchTableError, QueryError
from lakehouse.io.engine import Engine, short_error
from lakehouse.read.plan import AsOf, PinsArg, ReadPlan, table_read
from lakehouse.read.query import TableRead, rewrite
from lakehouse.table import tables
from lakehouse.table.catalog import open_catalog, split_identifier

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot

    from lakehouse.ops.compaction import CompactionPlan, CompactionResult
    from lakehouse.ops.ingest import IngestResult
    from lakehouse.table.history import RollbackPlan
    from lakehouse.table.pins import PinFile, PinReport


@dataclass
class QueryResult:
    """A streaming query result, plus the snapshot each table was read at."""

    reader: pa.RecordBatchReader
    reads: list[TableRead]
    engine: Engine

    def read_all(self) -> pa.Table:
        try:
            return self.reader.read_all()
        finally:
            self.engine.close()

    def close(self) -> None:
        self.engine.close()

    def snapshots(self) -> dict[str, int | None]:
        return {r.identifier: r.snapshot_id for r in self.reads}


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
        if locked:
            return self._locked_engine.cursor()
        return Engine(self.profile)

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
        split_identifier(name)
        terms = parse_partition_terms(partition_by)
        iceberg_schema = parse_schema(schema) if schema is not None else self._schema_of_sources([like or ""])
        return tables.create_table(self.catalog, name, iceberg_schema, terms, properties)

    def _schema_of_sources(self, sources: list[str], fmt: str = "auto") -> Any:
        from lakehouse.io.sources import resolve_sources

        return self._schema_of(resolve_sources(self.profile, sources, fmt))

    def _schema_of(self, found: Any) -> Any:
        from lakehouse.ops.columns import infer_schema

        with self.engine(locked=False) as engine:
            return infer_schema(engine, found)

    def describe(self, name: str, as_of: str | int | None = None) -> dict[str, Any]:
        table = self.table(name)
        return tables.describe(table, name, ReadPlan.at(name, as_of).snapshot(table, name))

    def files(self, name: str, as_of: str | int | None = None) -> list[dict[str, Any]]:
        table = self.table(name)
        return tables.snapshot_files(table, ReadPlan.at(name, as_of).snapshot(table, name))

    def drop(self, name: str, purge: bool = False, *, dry_run: bool = False) -> dict[str, Any]:
        """Drop a table; `purge` deletes only files under its own location that no other catalog
        entry reaches, and lists the others as kept."""
        return tables.drop_table(self.catalog, name, purge, dry_run=dry_run, profile=self.profile)

    # ---------------------------------------------------------------- ingest

    def ingest(
        self,
        name: str,
        sources: list[str] | str,
        *,
        format: str = "auto",
        mode: str = "append",
        create: bool = False,
        partition_by: str | None = None,
        evolve: bool = False,
        properties: dict[str, str] | None = None,
        on_progress: Callable[[float], None] | None = None,
    ) -> IngestResult:
        from lakehouse.io.sources import resolve_sources
        from lakehouse.ops.ingest import ingest

        split_identifier(name)
        paths = [sources] if isinstance(sources, str) else list(sources)
        found = resolve_sources(self.profile, paths, format)
        try:
            self.table(name)
        except NoSuchTableError:
            if not create:
                raise NoSuchTableError(
                    f"table {name} does not exist; pass --create to make it from the source"
                ) from None
            tables.create_table(
                self.catalog, name, self._schema_of(found), parse_partition_terms(partition_by), properties
            )
            created = True
        else:
            created = False
            if partition_by:
                raise LakehouseError(
                    f"table {name} exists; --partition-by applies only with --create on a new table"
                )
        try:
            with self.engine(locked=False) as engine:
                return ingest(
                    self.profile, engine, lambda: self.table(name), name, found,
                    mode=mode, evolve=evolve, on_progress=on_progress,
                )  # fmt: skip
        except BaseException:
            if created:  # a failed --create ingest leaves no empty table behind...
                tables.drop_if_empty(self.catalog, name)  # ...but keeps one another writer filled
            raise

    # ---------------------------------------------------------------- reads

    def plan_query(self, sql: str, as_of: AsOf = None, pins: PinsArg = None) -> tuple[str, list[TableRead]]:
        """The DuckDB SQL a query runs (lake tables replaced by snapshot scans), and what it reads."""
        plan = ReadPlan.parse(as_of, pins)

        def read(identifier: str, sql_ref: str | None) -> TableRead:
            table = self.table(identifier)  # first: a missing table says so before any pin is looked up
            # `FOR ... AS OF` in the SQL names its own reference (a `@lockfile` too); else the plan's.
            ref = (
                plan.ref(identifier) if sql_ref is None else ReadPlan.at(identifier, sql_ref).ref(identifier)
            )
            return table_read(table, identifier, ref)

        return rewrite(sql, read)

    def query_reader(
        self, sql: str, as_of: AsOf = None, batch_size: int = 65536, pins: PinsArg = None
    ) -> QueryResult:
        """Stream a query's result as Arrow record batches, in a locked-down engine."""
        rewritten, reads = self.plan_query(sql, as_of, pins)
        engine = self.engine(locked=True)
        try:
            reader = engine.reader(rewritten, batch_size)
        except Exception as exc:
            engine.close()
            if isinstance(exc, LakehouseError):
                raise
            raise QueryError(short_error(exc)) from None
        return QueryResult(reader, reads, engine)

    def query(self, sql: str, as_of: AsOf = None, pins: PinsArg = None) -> pa.Table:
        """Run DuckDB SQL in which `namespace.table` names are lake tables; returns an Arrow table.

        `pins="training.lock"` reads every table at the snapshot the lock file pins (a table the
        file does not pin is an error); `as_of={"t": ref}` still overrides single tables.
        """
        result = self.query_reader(sql, as_of, pins=pins)
        try:
            return result.read_all()
        except Exception as exc:
            raise QueryError(short_error(exc)) from None

    def _read_sql(self, name: str, columns: list[str] | None, where: str | None) -> str:
        split_identifier(name)
        cols = ", ".join(quote_ident(c) for c in columns) if columns else "*"
        sql = f"SELECT {cols} FROM {name}"
        if where:
            sql += f" WHERE {where}"
        return sql

    def read(
        self,
        name: str,
        columns: list[str] | None = None,
        where: str | None = None,
        *,
        snapshot_id: int | None = None,
        as_of: str | int | None = None,
        pins: PinsArg = None,
    ) -> pa.Table:
        """A table (or a snapshot of it) as Arrow; `where` is a DuckDB SQL predicate.

        `snapshot_id=`, `as_of=` (id, ISO time, tag) or `pins="training.lock"` choose the snapshot.
        """
        ref = snapshot_id if snapshot_id is not None else as_of
        return self.query(
            self._read_sql(name, columns, where), None if ref is None else {name: str(ref)}, pins=pins
        )

    def batches(
        self,
        name: str,
        columns: list[str] | None = None,
        where: str | None = None,
        *,
        snapshot_id: int | None = None,
        as_of: str | int | None = None,
        batch_size: int = 65536,
        pins: PinsArg = None,
    ) -> Iterator[pa.RecordBatch]:
        """Record batches of a table, streamed: memory stays at about one batch."""
        ref = snapshot_id if snapshot_id is not None else as_of
        result = self.query_reader(
            self._read_sql(name, columns, where), None if ref is None else {name: str(ref)}, batch_size,
            pins=pins,
        )  # fmt: skip
        try:
            yield from result.reader
        finally:
            result.close()

    # ---------------------------------------------------------------- maintenance (lakehouse.ops.compaction, .maintenance)

    def plan_compaction(
        self,
        name: str,
        *,
        target_size: str | int | None = None,
        min_size: str | int | None = None,
        max_size: str | int | None = None,
        min_input_files: int = 5,
        where: str | None = None,
        sort_by: list[str] | str | None = None,
    ) -> CompactionPlan:
        """What `compact` would rewrite (see there for the options); nothing is written."""
        from lakehouse.ops.compaction import plan_compaction

        return plan_compaction(
            self.table(name), name, target_size=target_size, min_size=min_size, max_size=max_size,
            min_input_files=min_input_files, where=where, sort_by=sort_by,
        )  # fmt: skip

    def compact(
        self,
        name: str | CompactionPlan,
        *,
        target_size: str | int | None = None,
        min_size: str | int | None = None,
        max_size: str | int | None = None,
        min_input_files: int = 5,
        where: str | None = None,
        sort_by: list[str] | str | None = None,
        dry_run: bool = False,
        on_progress: Callable[[float], None] | None = None,
    ) -> CompactionResult:
        """Rewrite small files into target-sized ones as one `replace` snapshot. Give a table name and
        options to plan and apply at once, or a `CompactionPlan` from `plan_compaction` to apply exactly it."""
        from lakehouse.ops.compaction import CompactionPlan, compact

        if isinstance(name, CompactionPlan):
            options = (target_size, min_size, max_size, where, sort_by)
            if any(o is not None for o in options) or min_input_files != 5:
                raise LakehouseError("a compaction plan carries its own options; pass the plan alone")
            plan = name
        else:
            plan = self.plan_compaction(
                name, target_size=target_size, min_size=min_size, max_size=max_size,
                min_input_files=min_input_files, where=where, sort_by=sort_by,
            )  # fmt: skip
        with self.engine(locked=False) as engine:
            return compact(
                self.profile, engine, lambda: self.table(plan.table), plan, dry_run=dry_run,
                on_progress=on_progress,
            )  # fmt: skip

    def expire(
        self, name: str, *, older_than: str = "5d", retain_last: int = 1, dry_run: bool = False
    ) -> Any:
        """Expire old snapshots (never a tagged or branch one) and delete the files only they reached."""
        from lakehouse.ops import maintenance

        table = self.table(name)
        claims = self._claims(table)  # another profile's table at the same path
        plan = maintenance.plan_expire(self.profile, table, name, older_than, retain_last, claims=claims)
        return maintenance.expire(self.profile, lambda: self.table(name), plan, dry_run=dry_run)

    def gc(self, name: str, *, older_than: str = "3d", dry_run: bool = False, force: bool = False) -> Any:
        """Delete files under the table's location that no metadata reaches and are older than the window
        (3 days at least, unless `force`: a shorter window can take the files of a write in flight)."""
        from lakehouse.ops import maintenance

        table = self.table(name)
        plan = maintenance.plan_gc(
            self.profile, table, name, older_than, force=force, claims=self._claims(table)
        )
        return maintenance.gc(
            self.profile, lambda: self.table(name), plan, dry_run=dry_run,
            claims=lambda: self._claims(table),
        )  # fmt: skip

    def _claims(self, table: Table) -> list[Any]:
        """Other catalog entries keeping files under the table's location (another profile on this
        database, or another table given the same location)."""
        from lakehouse.table.claims import claims

        return claims(self.catalog, ".".join(table.name()), table.location())

    def rewrite_manifests(self, name: str, *, dry_run: bool = False) -> dict[str, Any]:
        """Merge small manifests into few (a `replace` snapshot) so planning stays fast."""
        from lakehouse.ops import maintenance

        plan = maintenance.plan_manifests(self.table(name), name)
        return maintenance.rewrite_manifests(self.profile, lambda: self.table(name), plan, dry_run=dry_run)

    def maintain(
        self,
        name: str,
        *,
        plan: Any = None,
        dry_run: bool = False,
        on_progress: Callable[[float], None] | None = None,
    ) -> Any:
        """Compact, rewrite manifests, expire and gc with the defaults; `dry_run` returns the preview
        (a `MaintenanceResult` whose `.plan` can be passed back to execute exactly that plan)."""
        from lakehouse.ops import maintenance

        with self.engine(locked=False) as engine:
            return maintenance.maintain(
                self.profile, engine, lambda: self.table(name), name, plan=plan, dry_run=dry_run,
                on_progress=on_progress, claims=lambda: self._claims(self.table(name)),
            )  # fmt: skip

    # ---------------------------------------------------------------- history (lakehouse.table.history, .pins)

    def snapshots(self, name: str) -> list[dict[str, Any]]:
        """Every snapshot of a table, oldest first, with its operation, row counts and refs."""
        from lakehouse.table.history import list_snapshots

        return list_snapshots(self.table(name))

    def tags(self, name: str) -> list[dict[str, Any]]:
        """The table's tags and branches (including `main`)."""
        from lakehouse.table.history import list_refs

        return list_refs(self.table(name))

    def tag(
        self,
        name: str,
        tag: str,
        as_of: str | int | None = None,
        *,
        retain_days: float | None = None,
        branch: bool = False,
        delete: bool = False,
    ) -> dict[str, Any]:
        """Tag (or branch) the current snapshot, or the one `as_of` names; `delete=True` removes it."""
        from lakehouse.table.history import create_ref, delete_ref

        table = self.table(name)
        if delete:
            return delete_ref(table, name, tag)
        snapshot = self._snapshot_of(table, name, as_of)
        return create_ref(table, name, tag, snapshot, retain_days=retain_days, branch=branch)

    def plan_rollback(self, name: str, to: str | int) -> RollbackPlan:
        from lakehouse.table.history import plan_rollback

        return plan_rollback(self.table(name), name, ReadPlan.at(name, to).ref(name) or to)

    def rollback(self, name: str, to: str | int | RollbackPlan) -> dict[str, Any]:
        """Make snapshot `to` current again as a new snapshot with its files; deletes nothing."""
        from lakehouse.table.history import execute_rollback

        plan = self.plan_rollback(name, to) if isinstance(to, (str, int)) else to
        new_id = execute_rollback(self.table(name), lambda: self.table(name), plan)
        return {**plan.to_dict(), "snapshot_id": new_id}

    def pin(
        self,
        names: list[str] | str,
        output: str | os.PathLike[str],
        as_of: AsOf = None,
        *,
        tag: str | None = None,
    ) -> PinFile:
        """Record each table's snapshot (current, or `as_of`) in a lock file; `tag` also tags each one."""
        from lakehouse.table.history import check_ref_name, create_ref
        from lakehouse.table.pins import make_pin, write_pins

        names = [names] if isinstance(names, str) else list(names)
        if not names:
            raise LakehouseError("name at least one table to pin")
        reads = ReadPlan.parse(as_of)
        chosen = []
        for name in names:
            table = self.table(name)
            if tag is not None:
                check_ref_name(name, tag)
            chosen.append((table, name, self._snapshot_of(table, name, reads.ref(name))))
        if tag is not None:
            for table, name, snapshot in chosen:
                existing = table.metadata.refs.get(tag)
                if existing is not None and existing.snapshot_id != snapshot.snapshot_id:
                    from lakehouse.errors import RefError

                    raise RefError(
                        f"{name} already has a tag {tag!r} at snapshot {existing.snapshot_id}, not "
                        f"{snapshot.snapshot_id}; choose another --tag name"
                    )
            for table, name, snapshot in chosen:
                if tag not in table.metadata.refs:
                    create_ref(table, name, tag, snapshot)
        pins = [
            make_pin(table, name, snapshot, self.profile.name, self.profile.warehouse, tag)
            for table, name, snapshot in chosen
        ]
        return write_pins(output, pins)

    def verify_pins(self, path: str | os.PathLike[str], *, check_files: bool = True) -> PinReport:
        """Check that every pinned snapshot still exists, matches its fingerprint and has its files."""
        from lakehouse.table.pins import PinReport, load_pins, verify_pin
        from lakehouse.table.snapshots import resolve

        pin_file = load_pins(path)
        report = PinReport(str(path))
        for pin in pin_file.pins:
            report.checks.append(verify_pin(pin, self.table, resolve, self.profile.warehouse, check_files))
        return report

    # ---------------------------------------------------------------- ELT models (lakehouse.elt.runner, .lineage)

    def plan_run(
        self, project: str | os.PathLike[str] = "sql", select: Any = None, *,
        full_refresh: bool = False, as_of: AsOf = None,
    ) -> Any:  # fmt: skip
        """The `RunPlan` of `lake run`: models in order, rendered SQL, every input pinned to a snapshot."""
        from lakehouse.elt.project import Project
        from lakehouse.elt.runner import plan_run

        return plan_run(self, Project.load(project), select, full_refresh=full_refresh, as_of=as_of)

    def run(
        self, project: str | os.PathLike[str] = "sql", select: Any = None, *,
        full_refresh: bool = False, as_of: AsOf = None, on_model: Callable[[Any], None] | None = None,
    ) -> Any:  # fmt: skip
        """Build the selected models with write-audit-publish; returns a `RunResult` (check `.ok`)."""
        from lakehouse.elt.project import Project
        from lakehouse.elt.runner import execute, plan_run

        loaded = Project.load(project)
        plan = plan_run(self, loaded, select, full_refresh=full_refresh, as_of=as_of)
        return execute(self, loaded, plan, on_model)

    def test(self, project: str | os.PathLike[str] = "sql", select: Any = None, as_of: AsOf = None) -> Any:
        """Run the checks of models (and sources) against current tables, or `as_of`: `CheckResult`s."""
        from lakehouse.elt.project import Project
        from lakehouse.elt.runner import check_project

        return check_project(self, Project.load(project), select, as_of)

    def lineage(
        self, project: str | os.PathLike[str] = "sql", model: str | None = None, *, columns: bool = False
    ) -> Any:
        """The table DAG (and with `columns=True` the column lineage) of a project, as a `Lineage`."""
        from lakehouse.elt.lineage import build_lineage
        from lakehouse.elt.project import Project

        return build_lineage(Project.load(project), model, columns=columns, lake=self)

    def provenance(self, name: str, as_of: str | int | None = None) -> dict[str, Any]:
        """The snapshot of `name` and, recursively, the input snapshots `lake run` built it from."""
        from lakehouse.elt.provenance import provenance

        return provenance(self.table, name, ReadPlan.at(name, as_of).ref(name))

    def _snapshot_of(self, table: Table, name: str, ref: str | int | None) -> Snapshot:
        snapshot = ReadPlan.at(name, ref).snapshot(table, name)
        if snapshot is None:
            from lakehouse.errors import SnapshotNotFoundError

            raise SnapshotNotFoundError(f"{name} has no snapshots yet; write to it first")
        return snapshot


def connect(profile: str | Profile | None = None, config: str | os.PathLike[str] | None = None) -> Lakehouse:
    """Open the lake of a profile (default: $LAKE_PROFILE, then catalog/lake.yaml's default, then `.lake/`)."""
    if isinstance(profile, Profile):
        return Lakehouse(profile)
    return Lakehouse(load_profile(profile, config))
