"""Pin tables at snapshots (tagging them if asked) and verify pins against the tables.

A pin's fingerprint hashes the snapshot's schema and every live file (content type, path, size in
bytes, record count), sorted by path. A snapshot's file list never changes, so the fingerprint stays
the same after later appends, overwrites and compactions; it changes only if the metadata were
rewritten by hand. `verify` also checks that every data file still exists with its recorded size.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from pyiceberg.manifest import DataFile
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

from lakehouse.errors import LakehouseError, RefError
from lakehouse.table.deletes import live_counts
from lakehouse.table.history import check_ref_name, create_ref
from lakehouse.table.pins import Pin, erasure_of, load_pins
from lakehouse.table.snapshots import iso_ms, live_files, resolve

# ---------------------------------------------------------------- pin


def _sorted_files(table: Table, snapshot: Snapshot) -> list[DataFile]:
    return sorted(live_files(table.io, snapshot), key=lambda f: f.file_path)


def fingerprint(table: Table, snapshot: Snapshot) -> str:
    """`sha256:<hex>` of a snapshot's schema and live files (data and delete files)."""
    files = _sorted_files(table, snapshot)
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


def pin_tables(
    names: list[str],
    load: Callable[[str], Table],
    snapshot_of: Callable[[Table, str], Snapshot],
    tag: str | None,
    profile: str,
    warehouse: str,
) -> list[Pin]:
    """Each table at the snapshot `snapshot_of` picks; with `tag`, each snapshot is also tagged so
    expiry keeps it. Every table and tag is checked before the first tag is created."""
    chosen = []
    for name in names:
        table = load(name)
        if tag is not None:
            check_ref_name(name, tag)
        chosen.append((table, name, snapshot_of(table, name)))
    if tag is not None:
        for table, name, snapshot in chosen:
            existing = table.metadata.refs.get(tag)
            if existing is not None and existing.snapshot_id != snapshot.snapshot_id:
                raise RefError(
                    f"{name} already has a tag {tag!r} at snapshot {existing.snapshot_id}, not "
                    f"{snapshot.snapshot_id}; choose another --tag name"
                )
        for table, name, snapshot in chosen:
            if tag not in table.metadata.refs:
                create_ref(table, name, tag, snapshot)
    return [make_pin(table, name, snapshot, profile, warehouse, tag) for table, name, snapshot in chosen]


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

    def check(f: DataFile) -> str | None:
        try:
            size = len(table.io.new_input(f.file_path))
        except (FileNotFoundError, OSError):
            return f"{f.file_path} is missing"
        if size != f.file_size_in_bytes:
            return f"{f.file_path} has {size} bytes, not {f.file_size_in_bytes}"
        return None

    with ThreadPoolExecutor(max_workers=8) as pool:
        return [r for r in pool.map(check, _sorted_files(table, snapshot)) if r]


def verify_pin(
    pin: Pin,
    load_table: Callable[[str], Table],
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
    except LakehouseError as exc:
        return fail(str(exc))
    if (erased := erasure_of(table.properties, pin.snapshot_id)) is not None:
        return fail(f"{erased.message()}; its data without the erased rows is snapshot {erased.new}")
    try:
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


def verify_pins(
    path: str | os.PathLike[str], load_table: Callable[[str], Table], warehouse: str, check_files: bool = True
) -> PinReport:
    """Check every pin of a lock file: its snapshot exists, matches its fingerprint and has its files."""
    report = PinReport(str(path))
    for pin in load_pins(path).pins:
        report.checks.append(verify_pin(pin, load_table, warehouse, check_files))
    return report
