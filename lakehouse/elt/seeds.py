"""`lake seed`: load the project's seed CSVs into Iceberg tables, one snapshot each, as `dbt seed` does.

`plan_seeds` reads every selected seed (strictly, with its `column_types`, else the types `lake ingest`
infers), so a bad file or value fails before any table changes, and decides per seed: create the
table, overwrite it (its content or types changed), recreate it (`full_refresh` with changed columns),
or leave it (up to date: the sha256 of its file and types is the `lake.seed-hash` its current snapshot
recorded). `load_seeds` does exactly that plan through the ingest path (`lakehouse.ops.ingest`).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lakehouse.core.schemas import parse_schema, quote_ident
from lakehouse.elt.seedconfig import Seed, SeedError, discover_seeds, lake_type
from lakehouse.errors import LakehouseError, NoSuchTableError

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

    from lakehouse.core.config import Profile
    from lakehouse.io.engine import Engine
    from lakehouse.io.sources import SourceSet

SEED_HASH = "lake.seed-hash"  # snapshot summary: sha256 of the seed file and its column types
SEED_NAME = "lake.seed"


@dataclass(frozen=True)
class SeedStep:
    seed: Seed
    action: str  # create | overwrite | recreate | up_to_date
    reason: str
    columns: tuple[tuple[str, str], ...]  # (name, lake type) of the table it loads
    rows: int
    seed_hash: str
    snapshot_id: int | None  # the table's current snapshot when planned
    sources: SourceSet = field(repr=False, compare=False)

    @property
    def schema(self) -> str:
        """`lake create --schema` syntax."""
        return ", ".join(f"{quote_ident(n)} {t}" for n, t in self.columns)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.seed.to_dict(), "action": self.action, "reason": self.reason,
            "columns": [{"name": n, "type": t} for n, t in self.columns], "rows": self.rows,
            "seed_hash": self.seed_hash, "snapshot_id": self.snapshot_id,
        }  # fmt: skip


@dataclass(frozen=True)
class SeedPlan:
    project: str
    steps: tuple[SeedStep, ...]
    full_refresh: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"project": self.project, "full_refresh": self.full_refresh,
                "seeds": [s.to_dict() for s in self.steps]}  # fmt: skip


@dataclass
class SeedResult:
    plan: SeedPlan
    loaded: dict[str, int | None] = field(default_factory=dict)  # table -> new snapshot id
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        seeds = []
        for step in self.plan.steps:
            done = step.seed.table in self.loaded
            snapshot = self.loaded[step.seed.table] if done else step.snapshot_id
            seeds.append({**step.to_dict(), "status": "loaded" if done else step.action,
                          "snapshot_id": snapshot})  # fmt: skip
        return {"project": self.plan.project, "full_refresh": self.plan.full_refresh,
                "seeds": seeds, "loaded": len(self.loaded), "seconds": self.seconds}  # fmt: skip


# ---------------------------------------------------------------- plan


def plan_seeds(
    profile: Profile,
    catalog: Catalog,
    engine: Engine,
    project: str | os.PathLike[str],
    select: str | list[str] | tuple[str, ...] | None = None,
    *,
    full_refresh: bool = False,
    seed_paths: list[str | os.PathLike[str]] | None = None,
) -> SeedPlan:
    """What `lake seed` does for each selected seed; reads the files, writes nothing."""
    seeds = select_seeds(discover_seeds(project, seed_paths), select)
    steps = tuple(_plan_one(profile, catalog, engine, seed, full_refresh) for seed in seeds)
    return SeedPlan(str(project), steps, full_refresh)


def select_seeds(seeds: list[Seed], select: str | list[str] | tuple[str, ...] | None) -> list[Seed]:
    """Seeds named by `select` (a seed name, its table `ns.name`, or a glob of either); all when None."""
    terms = [select] if isinstance(select, str) else list(select or [])
    parts = [p for term in terms for p in term.replace(",", " ").split()]
    if not parts:
        return seeds
    chosen: set[str] = set()
    for part in parts:
        pattern = part.lower()
        hits = {
            s.table
            for s in seeds
            if any(fnmatch.fnmatchcase(n, pattern) for n in (s.name.lower(), s.table.lower()))
        }
        if not hits:
            known = ", ".join(s.name for s in seeds) or "none"
            raise SeedError(f"--select {part!r} matches no seed; seeds: {known}")
        chosen |= hits
    return [s for s in seeds if s.table in chosen]


def _plan_one(profile: Profile, catalog: Catalog, engine: Engine, seed: Seed, full_refresh: bool) -> SeedStep:
    from lakehouse.io.sources import resolve_sources
    from lakehouse.ops.columns import infer_schema

    try:
        sources = resolve_sources(profile, [str(seed.path)], "csv")
        inferred = infer_schema(engine, sources)
    except LakehouseError as exc:
        raise SeedError(_about(seed, exc)) from None
    columns = _columns(seed, [(f.name, str(f.field_type)) for f in inferred.fields])
    rows = _read_typed(engine, seed, sources, columns)
    seed_hash = _hash(seed, columns)
    try:
        table = _load(catalog, seed.table)
    except NoSuchTableError:
        return SeedStep(seed, "create", "new table", columns, rows, seed_hash, None, sources)
    snapshot = table.metadata.current_snapshot()
    snapshot_id = snapshot.snapshot_id if snapshot else None
    if change := _column_change(seed, [(f.name, str(f.field_type)) for f in table.schema().fields], columns):
        if not full_refresh:
            raise SeedError(f"{change}; run lake seed --full-refresh to recreate the table")
        return SeedStep(seed, "recreate", change, columns, rows, seed_hash, snapshot_id, sources)
    recorded = (
        snapshot.summary.additional_properties.get(SEED_HASH) if snapshot and snapshot.summary else None
    )
    if recorded == seed_hash and not full_refresh:
        return SeedStep(
            seed, "up_to_date", "file and types unchanged", columns, rows, seed_hash, snapshot_id, sources
        )
    reason = (
        "full refresh" if full_refresh else "file or types changed" if recorded else "not loaded by lake seed"
    )
    return SeedStep(seed, "overwrite", reason, columns, rows, seed_hash, snapshot_id, sources)


def _about(seed: Seed, exc: BaseException) -> str:
    message = str(exc)
    return message if str(seed.path) in message else f"seed {seed.path}: {message}"


def _columns(seed: Seed, inferred: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """The table's columns: the CSV's, typed by column_types where given, else as inferred."""
    declared = {k.lower(): (k, v) for k, v in seed.column_types.items()}
    names = {n.lower() for n, _ in inferred}
    if unknown := [k for k in seed.own_columns if k not in names]:
        raise SeedError(
            f"seed {seed.path}: column_types names column {sorted(unknown)[0]}, which is not in its header "
            f"({', '.join(n for n, _ in inferred)})"
        )
    out = []
    for name, kind in inferred:
        if name.lower() in declared:
            column, text = declared[name.lower()]
            kind = str(parse_schema(f"c {lake_type(seed, column, text)}").fields[0].field_type)
        out.append((name, kind))
    return tuple(out)


def _read_typed(engine: Engine, seed: Seed, sources: SourceSet, columns: tuple[tuple[str, str], ...]) -> int:
    """Read every value as its column's type (the read the ingest does): a value that does not parse
    fails here, naming the file, line and column, before any table changes. Returns the row count."""
    from lakehouse.io.explain import explain_source_error
    from lakehouse.io.inference import source_relation

    schema = parse_schema(", ".join(f"{quote_ident(n)} {t}" for n, t in columns))
    counts = ", ".join(f"count({quote_ident(n)})" for n, _ in columns)
    try:
        relation = source_relation(engine, sources, schema)
        row = engine.one(f"SELECT count(*), {counts} FROM ({relation}) AS seed")
    except LakehouseError as exc:
        raise SeedError(_about(seed, exc)) from None
    except Exception as exc:  # DuckDB's conversion error: name the column it could not read
        message = explain_source_error(exc, sources)
        column = next((n for n, _ in columns if f'"{n}"' in str(exc) or f"column {n}" in str(exc)), None)
        named = column is None or f"column {column}" in message or f'"{column}"' in message
        where = "" if named else f" (column {column})"
        raise SeedError(_about(seed, SeedError(message + where))) from None
    assert row is not None
    _refuse_fractions(engine, seed, sources, [n for n, t in columns if t in ("int", "long")])
    return int(row[0])


def _refuse_fractions(engine: Engine, seed: Seed, sources: SourceSet, names: list[str]) -> None:
    """DuckDB's CSV reader rounds "10.5" into an integer column; a seed's declared integer refuses it."""
    from lakehouse.io.relations import csv_groups, csv_text_relation

    for name in names:
        c = quote_ident(name)
        for group in csv_groups(sources):
            bad = engine.one(
                f"SELECT {c} FROM ({csv_text_relation(group)}) WHERE trim({c}) <> '' "
                f"AND NOT regexp_full_match(trim({c}), '[+-]?[0-9]+') LIMIT 1"
            )
            if bad is not None:
                raise SeedError(f"seed {seed.path}: column {name} holds {bad[0]!r}, not an integer")


def _hash(seed: Seed, columns: tuple[tuple[str, str], ...]) -> str:
    digest = hashlib.sha256()
    with open(seed.path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    digest.update(json.dumps(columns).encode())
    return digest.hexdigest()


def _column_change(seed: Seed, old: list[tuple[str, str]], new: tuple[tuple[str, str], ...]) -> str | None:
    """The first column whose type, or presence, differs between the table and the seed; None if none."""
    before = {n.lower(): (n, t) for n, t in old}
    after = {n.lower(): (n, t) for n, t in new}
    for key, (name, kind) in after.items():
        if key not in before:
            return f"seed {seed.path} has a new column {name}, which table {seed.table} lacks"
        if before[key][1] != kind:
            return f"seed {seed.path} makes column {name} {kind}, but table {seed.table} has it as {before[key][1]}"
    for key, (name, _) in before.items():
        if key not in after:
            return f"seed {seed.path} has no column {name}, which table {seed.table} has"
    return None


def _load(catalog: Catalog, name: str) -> Any:
    from lakehouse.table.tables import load_table

    return load_table(catalog, name)


# ---------------------------------------------------------------- apply


def load_seeds(plan: SeedPlan, profile: Profile, catalog: Catalog, engine: Engine) -> SeedResult:
    """Do `plan`: one snapshot per seed to load (a recreated table: dropped first); others untouched."""
    start = time.perf_counter()
    result = SeedResult(plan)
    for step in plan.steps:
        if step.action == "up_to_date":
            continue
        result.loaded[step.seed.table] = _apply_one(step, profile, catalog, engine)
    result.seconds = round(time.perf_counter() - start, 3)
    return result


def _apply_one(step: SeedStep, profile: Profile, catalog: Catalog, engine: Engine) -> int | None:
    from lakehouse.ops.ingest import ingest_into
    from lakehouse.table.tables import create_table, drop_if_empty

    seed = step.seed
    if _hash(seed, step.columns) != step.seed_hash:
        raise SeedError(f"seed {seed.path} changed since it was planned; run lake seed again")
    summary = {SEED_HASH: step.seed_hash, SEED_NAME: seed.name}
    if step.action == "recreate":
        from lakehouse.ops.drop import apply_drop, plan_drop

        apply_drop(catalog, plan_drop(catalog, seed.table, purge=True), profile)
    created = step.action in ("create", "recreate")
    if created:
        create_table(catalog, seed.table, parse_schema(step.schema), [])
    try:
        loaded = ingest_into(
            profile, catalog, engine, seed.table, step.sources, mode="overwrite", summary=summary
        )
    except BaseException:
        if created:
            drop_if_empty(catalog, seed.table)
        raise
    return loaded.snapshot_id
