"""Drop a table, and with `purge` delete the files it reaches under its own location.

`plan_drop` decides what goes (the `PurgePlan` lists the files to delete and those kept: outside the
location, or reached by another catalog entry sharing it); `apply_drop` drops the catalog entry and
deletes exactly the planned files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyiceberg.table import Table

from lakehouse.errors import LakehouseError, StorageError
from lakehouse.io.paths import normalize, under
from lakehouse.io.storage import delete_files
from lakehouse.ops.reach import claimed_reach, reachable
from lakehouse.table.claims import claims
from lakehouse.table.pins import load_pins
from lakehouse.table.tables import load_table

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pyiceberg.catalog import Catalog

    from lakehouse.core.config import Profile
    from lakehouse.table.claims import Claim


@dataclass(frozen=True)
class PurgePlan:
    """What `drop --purge` deletes: the files the table's metadata reaches under its own location.
    Files it references elsewhere (`add_files` of another table's file) and files another catalog
    entry under the same location reaches are kept and listed."""

    table: str
    location: str
    files: tuple[str, ...] = ()  # as the metadata spells them
    bytes: int = 0  # of the files to delete whose size the metadata records (not metadata.json)
    kept_outside: tuple[str, ...] = ()
    kept_shared: tuple[str, ...] = ()
    shared_with: tuple[Claim, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": len(self.files),
            "bytes": self.bytes,
            "kept_outside_location": list(self.kept_outside),
            "kept_shared": list(self.kept_shared),
            "shared_with": [str(c) for c in self.shared_with],
        }


@dataclass(frozen=True)
class Ref:
    """A tag, or a branch other than main: someone kept a snapshot on purpose (`lake pin --tag`
    records its pins as tags), so dropping the table loses what they kept."""

    name: str
    type: str  # "tag" or "branch"
    snapshot_id: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "snapshot_id": self.snapshot_id}


@dataclass(frozen=True)
class DropPlan:
    table: str
    name: tuple[str, ...]  # as the catalog spells it (names match case-insensitively)
    location: str
    purge: PurgePlan | None = None
    refs: tuple[Ref, ...] = ()  # tags and branches other than main
    pin_files: tuple[str, ...] = ()  # lock files found beside the caller that pin this table

    @property
    def warnings(self) -> list[str]:
        out = []
        if self.refs:
            listed = ", ".join(f"{r.type} {r.name}" for r in self.refs)
            refs = (
                "a tag or branch that keeps"
                if len(self.refs) == 1
                else f"{len(self.refs)} tags or branches that keep"
            )
            out.append(f"{self.table} has {refs} snapshots: {listed}")
        if self.pin_files:
            listed = ", ".join(self.pin_files)
            out.append(f"{self.table} is pinned by {listed}: reading those pins will fail once it is dropped")
        return out

    def to_dict(self) -> dict[str, Any]:
        out = {
            "table": self.table,
            "purged": self.purge is not None,
            "location": self.location,
            "refs": [r.to_dict() for r in self.refs],
            "pin_files": list(self.pin_files),
            "warnings": self.warnings,
        }
        return {**out, **self.purge.to_dict()} if self.purge else out


@dataclass(frozen=True)
class DropResult:
    plan: DropPlan
    dry_run: bool
    deleted_files: int | None = None  # with a purge

    def to_dict(self) -> dict[str, Any]:
        if self.dry_run:
            return {**self.plan.to_dict(), "dry_run": True}
        extra = {"deleted_files": self.deleted_files} if self.plan.purge else {}
        return {**self.plan.to_dict(), **extra}


def plan_purge(table: Table, identifier: str, claims: Sequence[Claim] = ()) -> PurgePlan:
    found = reachable(table)
    shared = claimed_reach(table, claims, identifier).files
    files: list[str] = []
    outside: list[str] = []
    kept: list[str] = []
    for key, path in sorted(found.spelled.items()):
        if not under(table.location(), path):
            outside.append(path)
        elif key in shared:
            kept.append(path)
        else:
            files.append(path)
    size = sum(found.files[normalize(path)][1] for path in files)
    return PurgePlan(
        identifier, table.location(), tuple(files), size, tuple(outside), tuple(kept), tuple(claims)
    )


def kept_refs(table: Table) -> tuple[Ref, ...]:
    """Tags and branches other than main, sorted by name."""
    return tuple(
        Ref(name, str(ref.snapshot_ref_type.value), ref.snapshot_id)
        for name, ref in sorted(table.metadata.refs.items())
        if name != "main"
    )


def pinning_files(directory: Path, identifier: str) -> tuple[str, ...]:
    """The `*.lock` pin files directly in `directory` that pin `identifier` (lake keeps no registry of
    pin files; other `.lock` files and unreadable ones are passed over)."""
    found = []
    for path in sorted(directory.glob("*.lock")):
        try:
            if load_pins(path).get(identifier) is not None:
                found.append(str(path))
        except (LakehouseError, OSError):
            continue
    return tuple(found)


def plan_drop(catalog: Catalog, identifier: str, purge: bool, pins_in: Path | None = None) -> DropPlan:
    """With `purge`, the files the table reaches under its own location, except those another catalog
    entry there reaches (listed, with those outside, as kept). Its tags and branches, and the pin
    files in `pins_in` that pin it, are listed for a warning."""
    table = load_table(catalog, identifier)
    purging = None
    if purge:
        purging = plan_purge(table, identifier, claims(catalog, ".".join(table.name()), table.location()))
    pinned = pinning_files(pins_in, identifier) if pins_in is not None else ()
    return DropPlan(identifier, table.name(), table.location(), purging, kept_refs(table), pinned)


def apply_drop(catalog: Catalog, plan: DropPlan, profile: Profile) -> DropResult:
    """Drop from the catalog, then delete the purge plan's files in batches (a file already gone is
    not an error)."""
    catalog.drop_table(plan.name)
    if plan.purge is None:
        return DropResult(plan, dry_run=False)
    try:
        deleted = delete_files(profile, plan.purge.files)
    except StorageError as exc:
        raise StorageError(f"dropped {plan.table}, but {exc}; delete what is left by hand") from None
    return DropResult(plan, dry_run=False, deleted_files=deleted)
