"""Drop a table, and with `purge` delete the files it reaches under its own location.

`plan_drop` decides what goes (the `PurgePlan` lists the files to delete and those kept: outside the
location, or reached by another catalog entry sharing it); `apply_drop` drops the catalog entry and
deletes exactly the planned files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyiceberg.table import Table

from lakehouse.errors import StorageError
from lakehouse.io.paths import normalize, under
from lakehouse.io.storage import delete_files
from lakehouse.ops.reach import claimed_reach, reachable
from lakehouse.table.claims import claims
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

    @property
    def warnings(self) -> list[str]:
        if not self.refs:
            return []
        listed = ", ".join(f"{r.type} {r.name}" for r in self.refs)
        return [f"{self.table} has {len(self.refs)} tags or branches that keep snapshots: {listed}"]

    def to_dict(self) -> dict[str, Any]:
        out = {
            "table": self.table,
            "purged": self.purge is not None,
            "location": self.location,
            "refs": [r.to_dict() for r in self.refs],
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


def plan_drop(catalog: Catalog, identifier: str, purge: bool) -> DropPlan:
    """With `purge`, the files the table reaches under its own location, except those another catalog
    entry there reaches (listed, with those outside, as kept)."""
    table = load_table(catalog, identifier)
    purging = None
    if purge:
        purging = plan_purge(table, identifier, claims(catalog, ".".join(table.name()), table.location()))
    return DropPlan(identifier, table.name(), table.location(), purging, kept_refs(table))


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
