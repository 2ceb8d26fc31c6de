"""A snapshot's file plan: its live data files with their partition values, read from the manifest
list and manifests with DuckDB's Avro reader (no pyiceberg).

A snapshot never changes, so its plan is cached by (table uuid, snapshot id): in memory for the life of
the process, and on disk (bounded, oldest dropped first) so that the next `lake query` from the shell
plans without reading a manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lakehouse.core.schemas import quote_literal
from lakehouse.io.engine import Engine
from lakehouse.table.metadata import Snapshot, TableMeta

PLAN_VERSION = 3
DEFAULT_CACHE_BYTES = 64 * 1024 * 1024
_TIME_TRANSFORMS = ("year", "month", "day", "hour")


@dataclass(frozen=True)
class DataFile:
    path: str
    spec_id: int
    # Partition values as text, the form a Hive path spells them: `2026-01-15`, `42`, `true`, `US`;
    # None for NULL. Values with no such text (binary) are marked so that no path can match them.
    partition: dict[str, str | None]
    record_count: int
    file_format: str
    snapshot_id: int | None  # the snapshot that added it, whose schema it was written with
    file_size: int


@dataclass(frozen=True)
class FilePlan:
    files: tuple[DataFile, ...]
    delete_files: int
    equality_delete_files: int
    # A year/month/day/hour partition value before 1970 (lakehouse/read/pruning.py says why it matters).
    before_1970: bool

    def to_json(self) -> str:
        doc = {"version": PLAN_VERSION, **asdict(self)}
        return json.dumps(doc, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> FilePlan | None:
        doc = json.loads(text)
        if doc.get("version") != PLAN_VERSION:
            return None
        files = tuple(DataFile(**f) for f in doc["files"])
        return cls(
            files, int(doc["delete_files"]), int(doc["equality_delete_files"]), bool(doc["before_1970"])
        )


class PlanCache:
    """File plans by snapshot: a dict, backed by a bounded directory of small JSON files."""

    def __init__(self, directory: Path | None = None, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._memory: dict[str, FilePlan] = {}

    def get(self, key: str) -> FilePlan | None:
        if key in self._memory:
            return self._memory[key]
        if self.directory is None:
            return None
        try:
            plan = FilePlan.from_json((self.directory / f"{key}.json").read_text())
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent, or written by another version: plan again
        if plan is not None:
            self._memory[key] = plan
        return plan

    def put(self, key: str, plan: FilePlan) -> None:
        self._memory[key] = plan
        if self.directory is None:
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = self.directory / f".{key}.{os.getpid()}.tmp"
            tmp.write_text(plan.to_json())
            tmp.replace(self.directory / f"{key}.json")  # atomic: a concurrent reader never sees half
            self._trim()
        except OSError:
            pass  # a cache that cannot be written only costs the next process a manifest read

    def _trim(self) -> None:
        assert self.directory is not None
        entries = []
        for path in self.directory.glob("*.json"):
            try:
                stat = path.stat()
            except OSError:
                continue
            entries.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in entries)
        if total <= self.max_bytes:
            return
        for _, size, path in sorted(entries):  # oldest first, down to three quarters of the bound
            path.unlink(missing_ok=True)
            total -= size
            if total <= self.max_bytes * 3 // 4:
                break


def default_cache_dir() -> Path:
    """Where the CLI keeps file plans: $LAKE_CACHE_DIR, else the user's cache directory (XDG)."""
    explicit = os.environ.get("LAKE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lake" / "plans"


def cache_key(meta: TableMeta, snapshot: Snapshot, warehouse: str) -> str:
    """Unique per warehouse, table and snapshot; the uuid keeps a re-created table from matching."""
    where = hashlib.sha256(warehouse.encode()).hexdigest()[:12]
    return f"{where}-{meta.table_uuid or meta.location.replace('/', '_')}-{snapshot.snapshot_id}"


def file_plan(meta: TableMeta, snapshot: Snapshot, engine: Callable[[], Engine]) -> FilePlan:
    """Read the plan of `snapshot` from its manifests (`engine` opens an engine with Avro loaded)."""
    if not snapshot.manifest_list:
        raise ValueError(f"snapshot {snapshot.snapshot_id} has no manifest list (a v1 table)")
    time_fields = {
        (spec.spec_id, f.name) for spec in meta.specs_by_id.values() for f in spec.fields
        if f.transform in _TIME_TRANSFORMS
    }  # fmt: skip
    with engine() as con:
        manifests = con.rows(
            "SELECT manifest_path, partition_spec_id, added_snapshot_id "
            f"FROM read_avro({quote_literal(snapshot.manifest_list)})"
        )
        files: list[DataFile] = []
        deletes = equality = 0
        before_1970 = False
        by_spec: dict[int, list[str]] = {}
        adder = {}  # an entry's snapshot id may be inherited from its manifest's (v2)
        for manifest_path, spec_id, added_by in manifests:
            by_spec.setdefault(int(spec_id or 0), []).append(str(manifest_path))
            adder[str(manifest_path)] = added_by
        for spec_id, paths in sorted(by_spec.items()):
            for (
                manifest,
                status,
                added_by,
                content,
                path,
                file_format,
                records,
                size,
                partition_json,
            ) in _entries(con, paths):
                if status == 2:  # DELETED
                    continue
                if content:
                    deletes += 1
                    equality += content == 2
                    continue
                partition = json.loads(partition_json) if partition_json else {}
                for name, value in partition.items():
                    if (spec_id, name) in time_fields and _before_1970(value):
                        before_1970 = True
                text = {k: _text(v) for k, v in partition.items()}
                added = added_by if added_by is not None else adder.get(str(manifest))
                files.append(
                    DataFile(
                        str(path), spec_id, text, int(records), str(file_format or "PARQUET").upper(),
                        None if added is None else int(added), int(size),
                    )
                )  # fmt: skip
    return FilePlan(tuple(files), deletes, equality, before_1970)


def _entries(con: Engine, paths: list[str]) -> list[tuple[Any, ...]]:
    """(manifest, status, snapshot id, content, path, format, record count, partition as JSON) of every
    entry of manifests of
    one spec: one read for all of them, or one each if their Avro schemas differ (v1 beside v2).
    Partition values come as JSON so that no value needs a Python type (a timestamptz would need pytz)."""
    listed = ", ".join(quote_literal(p) for p in paths)
    source = f"read_avro([{listed}], filename = true)"
    columns = (
        "data_file.file_path, data_file.file_format, data_file.record_count, data_file.file_size_in_bytes, "
        "to_json(data_file.partition)"
    )
    try:
        struct = dict(con.columns(f"SELECT data_file FROM {source}"))["data_file"]
        content = (
            "data_file.content"
            if struct.startswith('STRUCT("content"') or "content INTEGER" in struct
            else "0"
        )
        return con.rows(f"SELECT filename, status, snapshot_id, {content}, {columns} FROM {source}")
    except Exception:
        if len(paths) == 1:
            raise
        return [e for p in paths for e in _entries(con, [p])]


def _before_1970(value: Any) -> bool:
    """A year/month/hour ordinal below 0, or a day (JSON text `YYYY-MM-DD`) before 1970-01-01."""
    if isinstance(value, str):
        return value < "1970-01-01"
    return isinstance(value, int) and not isinstance(value, bool) and value < 0


# A value with this prefix has no Hive spelling (bytes, floats): it never equals a path segment.
NO_TEXT = "\x00"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, str)):
        return str(value)
    return NO_TEXT + repr(value)
