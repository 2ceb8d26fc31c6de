"""Pin files: the exact snapshots a training set was read from, in one small JSON lock file.

A lock file looks like this (snapshot ids are written as strings so that tools which parse JSON
numbers as doubles, such as JavaScript or jq 1.6, cannot round a 64-bit id):

    {
      "lake_pin_version": 1,
      "created_at": "2026-01-15T09:30:00.000Z",
      "tables": [
        {
          "table": "gold.training",
          "snapshot_id": "8744736658442914487",
          "committed_at": "2026-01-15T09:12:44.310Z",
          "schema_id": 0,
          "rows": 120000,
          "data_files": 12,
          "fingerprint": "sha256:5f1c...",
          "tag": "train-2026-01",
          "profile": "prod",
          "warehouse": "s3://lake/warehouse"
        }
      ]
    }

The fingerprint hashes the snapshot's schema and every live file (content type, path, size in
bytes, record count), sorted by path. A snapshot's file list never changes, so the fingerprint stays
the same after later appends, overwrites and compactions; it changes only if the metadata were
rewritten by hand. `verify` also checks that every data file still exists with its recorded size.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

from lakehouse.core.textfiles import read_text_file
from lakehouse.errors import LakehouseError, PinError
from lakehouse.table.deletes import live_counts
from lakehouse.table.snapshots import iso_ms

PIN_VERSION = 1


@dataclass(frozen=True)
class Pin:
    """One table at one snapshot, as recorded in a lock file."""

    table: str
    snapshot_id: int
    committed_at: str
    schema_id: int | None
    rows: int
    data_files: int
    fingerprint: str
    profile: str
    warehouse: str
    tag: str | None = None
    delete_files: int = 0  # row-level delete files another engine wrote; `rows` counts after them
    rows_exact: bool = True  # False: equality deletes make `rows` an upper bound

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "snapshot_id": str(self.snapshot_id)}

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> Pin:
        try:
            return cls(
                table=str(data["table"]),
                snapshot_id=int(str(data["snapshot_id"])),
                committed_at=str(data["committed_at"]),
                schema_id=None if data.get("schema_id") is None else int(data["schema_id"]),
                rows=int(data["rows"]),
                data_files=int(data.get("data_files", 0)),
                fingerprint=str(data["fingerprint"]),
                profile=str(data.get("profile", "")),
                warehouse=str(data.get("warehouse", "")),
                tag=data.get("tag"),
                delete_files=int(data.get("delete_files", 0)),
                rows_exact=bool(data.get("rows_exact", True)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise PinError(
                f"{where}: a table entry is missing or has a bad field ({exc}); re-create it with lake pin"
            ) from None


@dataclass
class PinFile:
    """A loaded lock file. `as_of()` gives the `--as-of TABLE=ID` mapping that reproduces it."""

    pins: list[Pin]
    created_at: str = ""
    path: str | None = None

    def snapshot_ids(self) -> dict[str, int]:
        return {p.table: p.snapshot_id for p in self.pins}

    def as_of(self) -> dict[str, str]:
        return {p.table.lower(): str(p.snapshot_id) for p in self.pins}

    def get(self, table: str) -> Pin | None:
        return next((p for p in self.pins if p.table.lower() == table.lower()), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "lake_pin_version": PIN_VERSION,
            "created_at": self.created_at,
            "tables": [p.to_dict() for p in self.pins],
        }


# ---------------------------------------------------------------- fingerprint


def live_files(table: Table, snapshot: Snapshot) -> list[Any]:
    files = []
    for manifest in snapshot.manifests(table.io):
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            files.append(entry.data_file)
    return sorted(files, key=lambda f: f.file_path)


def fingerprint(table: Table, snapshot: Snapshot) -> str:
    """`sha256:<hex>` of a snapshot's schema and live files (data and delete files)."""
    files = live_files(table, snapshot)
    digest = hashlib.sha256()
    schema = table.schemas().get(snapshot.schema_id) if snapshot.schema_id is not None else table.schema()
    digest.update(f"schema\t{schema.model_dump_json() if schema else ''}\n".encode())
    for f in files:
        digest.update(f"{int(f.content)}\t{f.file_path}\t{f.file_size_in_bytes}\t{f.record_count}\n".encode())
    return f"sha256:{digest.hexdigest()}"


def make_pin(
    table: Table, identifier: str, snapshot: Snapshot, profile: str, warehouse: str, tag: str | None
) -> Pin:
    digest, counts = fingerprint(table, snapshot), live_counts(table, snapshot)
    return Pin(
        table=identifier,
        snapshot_id=snapshot.snapshot_id,
        committed_at=iso_ms(snapshot.timestamp_ms),
        schema_id=snapshot.schema_id,
        rows=counts.rows,
        data_files=counts.data_files,
        delete_files=counts.delete_files,
        rows_exact=counts.exact,
        fingerprint=digest,
        profile=profile,
        warehouse=warehouse,
        tag=tag,
    )


# ---------------------------------------------------------------- files


def write_pins(path: str | os.PathLike[str], pins: Iterable[Pin]) -> PinFile:
    """Write the lock file atomically (a temp file renamed over the target)."""
    created = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    pin_file = PinFile(list(pins), created, str(path))
    target = Path(path)
    if target.parent and not target.parent.exists():
        raise PinError(f"cannot write {target}: directory {target.parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(pin_file.to_dict(), out, indent=2)
            out.write("\n")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return pin_file


def load_pins(path: str | os.PathLike[str]) -> PinFile:
    """Read a lock file written by `lake pin` (or `Lakehouse.pin`)."""
    where = str(path)
    if not os.path.lexists(where):
        raise PinError(f"pin file {where} does not exist; create it with `lake pin TABLE --output {where}`")
    try:  # capped and regular files only: `--pins /dev/zero` would otherwise read until MemoryError
        text = read_text_file(where, "pin file")
    except LakehouseError as exc:
        raise PinError(str(exc)) from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PinError(f"pin file {where} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("tables"), list):
        raise PinError(f'{where} is not a lake pin file (no "tables" list)')
    version = data.get("lake_pin_version")
    if version != PIN_VERSION:
        raise PinError(f"{where} has pin file version {version!r}; this lake reads version {PIN_VERSION}")
    return PinFile([Pin.from_dict(t, where) for t in data["tables"]], str(data.get("created_at", "")), where)


# ---------------------------------------------------------------- verify


@dataclass
class PinCheck:
    table: str
    snapshot_id: int
    ok: bool
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PinReport:
    path: str
    checks: list[PinCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def failures(self) -> list[PinCheck]:
        return [c for c in self.checks if not c.ok]

    def message(self) -> str:
        bad = self.failures()
        if not bad:
            return f"{self.path}: all {len(self.checks)} pinned snapshots match"
        return f"{self.path}: " + "; ".join(f"{c.table}@{c.snapshot_id} {c.reason}" for c in bad)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "ok": self.ok, "tables": [c.to_dict() for c in self.checks]}


def _missing_files(table: Table, snapshot: Snapshot) -> list[str]:
    """Data files of the snapshot that are gone or changed size in storage."""

    def check(f: Any) -> str | None:
        try:
            size = len(table.io.new_input(f.file_path))
        except (FileNotFoundError, OSError):
            return f"{f.file_path} is missing"
        if size != f.file_size_in_bytes:
            return f"{f.file_path} has {size} bytes, not {f.file_size_in_bytes}"
        return None

    with ThreadPoolExecutor(max_workers=8) as pool:
        return [r for r in pool.map(check, live_files(table, snapshot)) if r]


def verify_pin(
    pin: Pin,
    load_table: Callable[[str], Table],
    resolve: Callable[[Table, str, int], Snapshot],
    warehouse: str,
    check_files: bool = True,
) -> PinCheck:
    def fail(reason: str) -> PinCheck:
        return PinCheck(pin.table, pin.snapshot_id, False, reason)

    if pin.warehouse and pin.warehouse.rstrip("/") != warehouse.rstrip("/"):
        return fail(
            f"was pinned in warehouse {pin.warehouse} (profile {pin.profile}), but this profile uses "
            f"{warehouse}; pass --profile {pin.profile}"
        )
    try:
        table = load_table(pin.table)
        snapshot = resolve(table, pin.table, pin.snapshot_id)
    except LakehouseError as exc:
        return fail(str(exc))
    digest = fingerprint(table, snapshot)
    if digest != pin.fingerprint:
        rows = live_counts(table, snapshot).rows
        return fail(
            f"no longer matches its fingerprint ({digest} != {pin.fingerprint}; {rows} rows, pinned {pin.rows})"
        )
    if check_files:
        missing = _missing_files(table, snapshot)
        if missing:
            more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
            return fail(f"data files are gone from storage: {missing[0]}{more}")
    return PinCheck(pin.table, pin.snapshot_id, True, f"{pin.rows} rows, fingerprint matches")
