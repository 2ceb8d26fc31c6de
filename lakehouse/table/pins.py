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

The fingerprint and `lake pin --verify` live in lakehouse/table/pinning.py.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lakehouse.core.textfiles import read_text_file
from lakehouse.errors import LakehouseError, PinError
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


# ---------------------------------------------------------------- files


def write_pins(path: str | os.PathLike[str], pins: Iterable[Pin]) -> PinFile:
    """Write the lock file atomically (a temp file renamed over the target)."""
    created = iso_ms(time.time_ns() // 1_000_000)
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


# ---------------------------------------------------------------- erasures

ERASURES_PROPERTY = "lake.erasures"  # JSON: old snapshot id -> [new id, erasure id, date]
ERASURES_KEPT = 1000


@dataclass(frozen=True)
class Erasure:
    """Snapshot `old` was re-created as `new` by erasure `erasure_id` on `at` (`lake erase`)."""

    old: int
    new: int
    erasure_id: str
    at: str

    def message(self) -> str:
        return f"snapshot {self.old} was rewritten by erasure {self.erasure_id} on {self.at}"


def _erasure_map(properties: dict[str, str]) -> dict[str, list[Any]]:
    try:
        data = json.loads(properties.get(ERASURES_PROPERTY, "{}"))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def record_erasures(properties: dict[str, str], rewritten: dict[int, int], erasure_id: str, at: str) -> str:
    """The table property after an erasure re-created `rewritten` (old id -> new id)."""
    data = _erasure_map(properties)
    data.update({str(old): [str(new), erasure_id, at] for old, new in rewritten.items()})
    return json.dumps(dict(list(data.items())[-ERASURES_KEPT:]), separators=(",", ":"))


def erasure_of(properties: dict[str, str], snapshot_id: int) -> Erasure | None:
    """How an erasure replaced `snapshot_id`: the erasure that rewrote it, and the snapshot that now
    holds its data (followed through later erasures); None if no erasure rewrote it."""
    data = _erasure_map(properties)
    first = data.get(str(snapshot_id))
    if not first:
        return None
    new, seen = str(first[0]), {str(snapshot_id)}
    while new in data and new not in seen:
        seen.add(new)
        new = str(data[new][0])
    return Erasure(snapshot_id, int(new), str(first[1]), str(first[2]))
