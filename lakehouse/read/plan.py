"""One read planner: which snapshot every table is read at.

`--as-of` values, `pins=` and `@lockfile` references are parsed once into a `ReadPlan`; the plan then
names one reference per table (a snapshot id, an ISO time, a tag or branch, or none for the current
snapshot), and lakehouse/read/tables.py resolves it once to the snapshot and schema a query scans.
Query, read, batches, pin, run and test all go through it.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeAlias

from lakehouse.errors import ErasedSnapshotWarning, LakehouseError, SnapshotNotFoundError
from lakehouse.table.catalog import split_identifier
from lakehouse.table.pins import PinFile, erasure_of, load_pins
from lakehouse.table.snapshots import choose

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot

    from lakehouse.table.metadata import TableMeta

AsOf: TypeAlias = "str | int | Mapping[str, str | int] | list[str] | tuple[str, ...] | None"
PinsArg: TypeAlias = "str | os.PathLike[str] | PinFile | None"
Ref: TypeAlias = "str | int | None"


@dataclass(frozen=True)
class ReadPlan:
    """The snapshot reference of every table a read names: a per-table one first, then the lock
    file's pin (a table the file does not pin is an error), then the one for every table."""

    default: str | None = None
    per_table: Mapping[str, str | int] = field(default_factory=dict)  # lower-case identifier -> ref
    pins: PinFile | None = None
    # A run pins its inputs' snapshot ids for repeatable reads, but reads them in the schema the
    # tables have now, so a model sees a rename or an added column at once (not time travel).
    current_schema: bool = False

    @classmethod
    def parse(cls, as_of: AsOf = None, pins: PinsArg = None) -> ReadPlan:
        """`"2026-01-15"` or `"@training.lock"` applies to every table; `"silver.events=123"`
        (repeatable) to one table; a mapping gives one reference per table."""
        default, per_table = _split(as_of)
        pin_file = _pin_file(pins) if pins is not None else None
        if pin_file is not None and default is not None:
            raise LakehouseError(f"give pins or one --as-of for every table ({default!r}), not both")
        if default is not None and default.startswith("@"):
            pin_file, default = load_pins(default[1:]), None
        for name, ref in per_table.items():
            if isinstance(ref, str) and ref.startswith("@"):  # `TABLE=@file`: that table's pin, read once
                per_table[name] = _pinned(load_pins(ref[1:]), name, ref[1:])
        return cls(default, per_table, pin_file)

    @classmethod
    def at(cls, identifier: str, ref: Ref) -> ReadPlan:
        """One table at one reference (None: its current snapshot)."""
        return cls.parse(None if ref is None else {identifier: ref})

    def ref(self, identifier: str) -> Ref:
        key = identifier.lower()
        if key in self.per_table:
            return self.per_table[key]
        if self.pins is not None:
            return _pinned(self.pins, identifier, self.pins.path or "the pins")
        return self.default

    def snapshot(self, table: Table, identifier: str) -> Snapshot | None:
        return choose(table, identifier, erased_ref(table, self.ref(identifier)))

    def require(self, table: Table, identifier: str) -> Snapshot:
        """As `snapshot`, but an empty table is an error (there is nothing to tag or pin)."""
        snapshot = self.snapshot(table, identifier)
        if snapshot is None:
            raise SnapshotNotFoundError(f"{identifier} has no snapshots yet; write to it first")
        return snapshot

    def sql_ref(self, identifier: str, sql_ref: str | None) -> Ref:
        """The reference a query reads `identifier` at: `FOR ... AS OF` in the SQL names its own
        (a `@lockfile` too); else the plan's."""
        return self.ref(identifier) if sql_ref is None else ReadPlan.at(identifier, sql_ref).ref(identifier)

    def snapshot_ids(self, load: Callable[[str], Table], identifiers: list[str]) -> dict[str, int | None]:
        """Each table's snapshot id under this plan (None for an empty table), resolved once."""
        ids = {}
        for identifier in identifiers:
            snapshot = self.snapshot(load(identifier), identifier)
            ids[identifier] = snapshot.snapshot_id if snapshot else None
        return ids


def erased_ref(table: Table | TableMeta, ref: Ref) -> Ref:
    """A snapshot id that `lake erase` re-created reads the re-created snapshot, with a warning
    (an ErasedSnapshotWarning: the CLI prints warnings on stderr); any other reference is as given."""
    if ref is None or not str(ref).strip().lstrip("-").isdigit() or table.metadata.snapshot_by_id(int(ref)):
        return ref
    erased = erasure_of(table.properties, int(ref))
    if erased is None:
        return ref
    warnings.warn(
        f"{'.'.join(table.name())}: {erased.message()}; reading snapshot {erased.new}, without the erased rows",
        ErasedSnapshotWarning,
        stacklevel=2,
    )
    return erased.new


def _split(as_of: AsOf) -> tuple[str | None, dict[str, str | int]]:
    if as_of is None:
        return None, {}
    if isinstance(as_of, Mapping):
        return None, {k.lower(): v if isinstance(v, int) else str(v) for k, v in as_of.items()}
    items = [str(as_of)] if isinstance(as_of, (str, int)) else [str(a) for a in as_of]
    default: str | None = None
    per_table: dict[str, str | int] = {}
    for item in items:
        name, sep, ref = item.partition("=")
        if sep and not item.startswith("@") and "." in name and " " not in name and ":" not in name:
            split_identifier(name.strip())
            per_table[name.strip().lower()] = ref.strip()
        elif default is not None:
            raise LakehouseError(
                f"two --as-of values for every table ({default!r}, {item!r}); use TABLE=REF for one table"
            )
        else:
            default = item
    return default, per_table


def _pin_file(pins: str | os.PathLike[str] | PinFile) -> PinFile:
    if isinstance(pins, PinFile):
        if not pins.path:
            raise LakehouseError("pins must be the path of a lock file written by `lake pin`")
        return pins
    if not os.fspath(pins):
        raise LakehouseError("pins must be the path of a lock file written by `lake pin`")
    return load_pins(pins)


def _pinned(pins: PinFile, identifier: str, where: str) -> int:
    pin = pins.get(identifier)
    if pin is None:
        listed = ", ".join(p.table for p in pins.pins) or "none"
        raise SnapshotNotFoundError(
            f"{identifier} is not pinned in {where} (it pins {listed}); pin it too or read it without the pins"
        )
    return pin.snapshot_id
