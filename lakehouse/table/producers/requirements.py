"""Commit requirements and a metadata update of our own, checked or applied by pyiceberg's catalogs
atomically with their compare-and-swap (REST servers get only the standard ones)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import Field
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.snapshots import SnapshotLogEntry
from pyiceberg.table.update import (
    ValidatableTableRequirement,
    _apply_table_update,
    _TableMetadataUpdateContext,
)
from pyiceberg.typedef import IcebergBaseModel


class AssertSnapshotsLive(ValidatableTableRequirement):
    """The catalog commits only while these snapshots are still in the table's metadata.

    Rollback relinks a target snapshot's files; `lake expire` removes that snapshot in one commit and
    then deletes files that only expired snapshots reach. The catalog checks this requirement against
    the metadata it is about to replace, and its compare-and-swap makes the check and the swap one
    step, so an expiry that commits first makes the rollback fail (then its retry says why), and a
    rollback that commits first is seen by expire's post-commit reload, which keeps its files.
    """

    type: Literal["lake-assert-snapshots-live"] = Field(default="lake-assert-snapshots-live")
    snapshot_ids: list[int] = Field(alias="snapshot-ids")

    def validate(self, base_metadata: TableMetadata | None) -> None:  # type: ignore[override]
        gone = [
            i for i in self.snapshot_ids if base_metadata is None or base_metadata.snapshot_by_id(i) is None
        ]
        if gone:
            raise CommitFailedException(f"Requirement failed: snapshot {gone[0]} was expired")


class AssertUnreferenced(ValidatableTableRequirement):
    """The catalog commits an expiry only while no tag or branch (other than those it removes) points
    at a snapshot it removes. pyiceberg applies RemoveSnapshots to the catalog's current metadata and
    silently drops such refs: a `lake tag` or `pin --tag` committed meanwhile would vanish with its
    snapshot. This way the expiry fails its compare-and-swap, and its retry sees the tag."""

    type: Literal["lake-assert-unreferenced"] = Field(default="lake-assert-unreferenced")
    snapshot_ids: list[int] = Field(alias="snapshot-ids")
    removed_refs: list[str] = Field(alias="removed-refs")

    def validate(self, base_metadata: TableMetadata | None) -> None:  # type: ignore[override]

        refs = base_metadata.refs if base_metadata else {}
        ids = set(self.snapshot_ids)
        if taken := sorted(n for n, r in refs.items() if r.snapshot_id in ids and n not in self.removed_refs):
            raise CommitFailedException(f"Requirement failed: {taken[0]} now points at a snapshot to expire")


def cleared_log(metadata: TableMetadata, ids: Iterable[int]) -> list[SnapshotLogEntry]:
    """The snapshot-log entries Iceberg Java's RemoveSnapshots drops: every entry up to the last one
    whose snapshot is removed (or already gone), since the history before it is no longer whole."""
    gone = set(ids) | {
        e.snapshot_id for e in metadata.snapshot_log if metadata.snapshot_by_id(e.snapshot_id) is None
    }
    last = max((i for i, e in enumerate(metadata.snapshot_log) if e.snapshot_id in gone), default=-1)
    return list(metadata.snapshot_log[: last + 1])


class ClearSnapshotLogUpdate(IcebergBaseModel):
    """Java's RemoveSnapshots history rule, which pyiceberg lacks: it keeps the entries before an
    expired snapshot, and a time in that snapshot's span then reads the older one. Applied by the
    catalog in this process; a REST catalog gets only RemoveSnapshots (Java servers clear it there)."""

    action: Literal["lake-clear-snapshot-log"] = Field(default="lake-clear-snapshot-log")
    snapshot_ids: list[int] = Field(alias="snapshot-ids")


@_apply_table_update.register(ClearSnapshotLogUpdate)
def _clear_snapshot_log(  # type: ignore[misc]
    update: ClearSnapshotLogUpdate, base_metadata: TableMetadata, context: _TableMetadataUpdateContext
) -> TableMetadata:
    cleared = len(cleared_log(base_metadata, update.snapshot_ids))
    context.add_update(update)  # type: ignore[arg-type]
    return base_metadata.model_copy(update={"snapshot_log": base_metadata.snapshot_log[cleared:]})
