"""Plan an erasure: which data files hold a row matching the predicate (deleted rows included, since
their bytes are still in the file), which snapshots reach them, and what each becomes.

A snapshot still reachable (a tag's, a branch's, or one inside the retention window that `lake expire`
would keep) is re-created without the rows, and its tags and branches move to the new snapshot. A
snapshot that expire would drop anyway is removed. The plan never holds the matching values, only
counts, paths and the predicate's SHA-256; the predicate itself is kept out of `to_dict`.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import sqlglot
from pyiceberg.manifest import DataFile, DataFileContent, ManifestEntry
from pyiceberg.table import Table

from lakehouse.core.sizes import parse_duration
from lakehouse.errors import LakehouseError, QueryError
from lakehouse.io.engine import short_error
from lakehouse.io.fieldids import read_by_field_id
from lakehouse.io.paths import normalize, under
from lakehouse.ops.expire import DEFAULT_EXPIRE_AGE, DEFAULT_RETAIN_LAST, expired_snapshot_ids
from lakehouse.ops.reach import ManifestCache, reach
from lakehouse.table.deletes import deleted_positions, is_data
from lakehouse.table.snapshots import iso_ms

if TYPE_CHECKING:
    from lakehouse.io.engine import Engine

ERASED_PROPERTY = "lake.erased"  # snapshot summary: "<erasure id> sha256:<predicate hash>"
ERASED_AT_PROPERTY = "lake.erased-at"
ERASED_FROM_PROPERTY = "lake.erased-from"  # the snapshot this one re-creates


@dataclass(frozen=True)
class ErasedFile:
    """A data file holding matching rows: removed from every snapshot, replaced where one is kept."""

    path: str
    rows: int
    matching: int
    bytes: int


@dataclass(frozen=True)
class Rewrite:
    """One new data file: `source` without the matching rows and without `positions` (the rows the
    snapshot's positional deletes already remove, so its delete files no longer need to apply)."""

    source: str
    positions: frozenset[int]
    schema_id: int  # the snapshot's schema: the new file is written in it, as the source was


@dataclass(frozen=True)
class ErasedSnapshot:
    snapshot_id: int
    committed_at: str
    refs: tuple[str, ...]
    files: tuple[str, ...]  # the data files it loses
    recreate: bool  # False: outside the retention window, it is removed (expire would drop it)
    rewrites: tuple[Rewrite, ...] = ()
    schema_id: int | None = None  # the re-created snapshot keeps it


@dataclass(frozen=True)
class ErasePlan:
    table: str
    erasure_id: str
    predicate_sha256: str
    planned_at: str
    files: tuple[ErasedFile, ...] = ()
    snapshots: tuple[ErasedSnapshot, ...] = ()
    refs: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType({})
    )  # as seen: checked at commit
    doomed: Mapping[str, tuple[str, int]] = field(default_factory=lambda: MappingProxyType({}))
    spelled: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # as deleted
    # another engine's equality delete files in the table: their key values are not searched or
    # rewritten (a Flink upsert of the erased key may still name it); listed so the user knows
    equality_deletes: tuple[str, ...] = ()
    predicate: str = field(default="", repr=False)  # the values: never printed, never recorded

    @property
    def matching_rows(self) -> int:
        return sum(f.matching for f in self.files)

    @property
    def rewrites(self) -> list[Rewrite]:
        return sorted(
            {r for s in self.snapshots for r in s.rewrites},
            key=lambda r: (r.source, r.schema_id, sorted(r.positions)),
        )

    def to_dict(self) -> dict[str, Any]:
        moved = [(name, s.snapshot_id) for s in self.snapshots for name in s.refs]
        return {
            "table": self.table,
            "erasure_id": self.erasure_id,
            "predicate_sha256": self.predicate_sha256,
            "planned_at": self.planned_at,
            "matching_rows": self.matching_rows,
            "files": [f.__dict__ for f in self.files],
            "snapshots": [
                {
                    "snapshot_id": s.snapshot_id,
                    "committed_at": s.committed_at,
                    "action": "recreate" if s.recreate else "remove",
                    "refs": list(s.refs),
                    "files": list(s.files),
                }
                for s in self.snapshots
            ],
            "refs": [{"name": name, "snapshot_id": sid} for name, sid in moved],
            "files_deleted_at_most": sorted(self.doomed),
            "equality_delete_files_not_searched": list(self.equality_deletes),
        }


def predicate_hash(predicate: str) -> str:
    return "sha256:" + hashlib.sha256(predicate.strip().encode()).hexdigest()


def check_predicate(predicate: str, identifier: str) -> str:
    """One boolean SQL expression, without a subquery or a query of its own."""
    text = (predicate or "").strip()
    if not text:
        raise LakehouseError(
            f"erase {identifier}: --where is empty; give the rows to erase, e.g. \"email = 'a@b.c'\""
        )
    try:
        parsed = sqlglot.parse(f"SELECT 1 WHERE ({text})", read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise QueryError(
            f"erase {identifier}: --where is not a SQL predicate: {str(exc).splitlines()[0]}"
        ) from None
    if len(parsed) != 1 or parsed[0] is None or any(True for _ in parsed[0].find_all(sqlglot.exp.Subquery)):
        raise QueryError(f"erase {identifier}: --where must be one predicate over the table's columns")
    return text


def _entries(table: Table, snapshot_id: int, cache: dict[str, list[ManifestEntry]]) -> list[ManifestEntry]:
    snapshot = table.metadata.snapshot_by_id(snapshot_id)
    assert snapshot is not None
    out = []
    for manifest in snapshot.manifests(table.io):
        if manifest.manifest_path not in cache:
            cache[manifest.manifest_path] = manifest.fetch_manifest_entry(table.io, discard_deleted=True)
        out.extend(cache[manifest.manifest_path])
    return out


def matching_files(engine: Engine, table: Table, files: list[DataFile], predicate: str) -> dict[str, int]:
    """Normalized path -> rows matching the predicate, every row in the file counted (a row that a
    delete file hides is still in its bytes). DuckDB prunes row groups by their statistics."""
    if not files:
        return {}
    relation = read_by_field_id(table, files, with_filename=True)
    sql = f"SELECT lake_filename, count(*) FROM ({relation}) AS lake_rows WHERE ({predicate}) GROUP BY 1"
    try:
        rows = engine.rows(sql)
    except Exception as exc:  # DuckDB's binder and parser errors: a bad column or expression
        raise QueryError(
            f"--where cannot be evaluated on {'.'.join(table.name())}: {short_error(exc)}"
        ) from None
    by_name = {normalize(f.file_path): f.file_path for f in files}
    return {normalize(name): int(count) for name, count in rows if normalize(name) in by_name}


def plan_erase(
    engine: Engine,
    table: Table,
    identifier: str,
    predicate: str,
    older_than: str | timedelta = DEFAULT_EXPIRE_AGE,
    retain_last: int = DEFAULT_RETAIN_LAST,
) -> ErasePlan:
    predicate = check_predicate(predicate, identifier)
    now = datetime.now(UTC)
    metadata = table.metadata
    cutoff_ms = int((now - parse_duration(older_than)).timestamp() * 1000)
    dropped = set(expired_snapshot_ids(metadata, cutoff_ms, retain_last))
    cache: dict[str, list[ManifestEntry]] = {}
    per_snapshot = {s.snapshot_id: _entries(table, s.snapshot_id, cache) for s in metadata.snapshots}
    distinct: dict[str, DataFile] = {}
    for entries in per_snapshot.values():
        for e in entries:
            if is_data(e):
                distinct.setdefault(normalize(e.data_file.file_path), e.data_file)
    matches = matching_files(engine, table, list(distinct.values()), predicate)
    erased = tuple(
        ErasedFile(distinct[p].file_path, distinct[p].record_count, n, distinct[p].file_size_in_bytes)
        for p, n in sorted(matches.items())
    )
    refs_at: dict[int, list[str]] = {}
    for name, ref in metadata.refs.items():
        refs_at.setdefault(ref.snapshot_id, []).append(name)
    snapshots = []
    for snapshot in metadata.snapshots:
        entries = per_snapshot[snapshot.snapshot_id]
        hit = [e for e in entries if is_data(e) and normalize(e.data_file.file_path) in matches]
        if not hit:
            continue
        recreate = snapshot.snapshot_id not in dropped
        rewrites: tuple[Rewrite, ...] = ()
        if recreate:
            removed = deleted_positions(table, entries) if not all(is_data(e) for e in entries) else {}
            schema_id = metadata.current_schema_id if snapshot.schema_id is None else snapshot.schema_id
            rewrites = tuple(
                Rewrite(e.data_file.file_path, frozenset(removed.get(e.data_file.file_path, ())), schema_id)
                for e in hit
            )
        snapshots.append(
            ErasedSnapshot(
                snapshot.snapshot_id,
                iso_ms(snapshot.timestamp_ms),
                tuple(sorted(refs_at.get(snapshot.snapshot_id, []))),
                tuple(sorted(e.data_file.file_path for e in hit)),
                recreate,
                rewrites,
                snapshot.schema_id,
            )
        )
    doomed, spelled = _doomed(table, [s.snapshot_id for s in snapshots])
    return ErasePlan(
        identifier,
        uuid.uuid4().hex[:12],
        predicate_hash(predicate),
        now.isoformat(timespec="seconds"),
        files=erased,
        snapshots=tuple(snapshots),
        refs=MappingProxyType({name: ref.snapshot_id for name, ref in metadata.refs.items()}),
        doomed=MappingProxyType(doomed),
        spelled=MappingProxyType(spelled),
        equality_deletes=tuple(
            sorted(
                {
                    e.data_file.file_path
                    for entries in per_snapshot.values()
                    for e in entries
                    if e.data_file.content == DataFileContent.EQUALITY_DELETES
                }
            )
        ),
        predicate=predicate,
    )


def _doomed(table: Table, ids: list[int]) -> tuple[dict[str, tuple[str, int]], dict[str, str]]:
    """Files only the replaced snapshots reach: deleted after the commit unless the new snapshots
    still reach them (a manifest that names no erased file is kept as it is)."""
    metadata = table.metadata
    cache = ManifestCache(table)
    gone = reach(table, metadata, ids, cache)
    stay = reach(
        table, metadata, [s.snapshot_id for s in metadata.snapshots if s.snapshot_id not in ids], cache
    )
    doomed = {p: v for p, v in gone.files.items() if p not in stay.files and under(table.location(), p)}
    return doomed, {p: gone.spelled[p] for p in doomed}


def positions_sql(positions: frozenset[int]) -> str:
    """A DuckDB list literal of row positions (the rows a positional delete removes)."""
    return "[" + ", ".join(str(p) for p in sorted(positions)) + "]::BIGINT[]" if positions else "[]::BIGINT[]"
