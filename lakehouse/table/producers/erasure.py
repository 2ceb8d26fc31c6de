"""Erasure's snapshot producer: re-create a snapshot without some files, and leave no trace of them.

`RewriteFiles` records removed files as DELETED manifest entries, and keeps a parent manifest as it is
when none of its live entries is removed. Both keep the removed files' column bounds, which can hold
the very values an erasure removes. `EraseFiles` writes no DELETED entries, and rewrites every parent
manifest that names a scrubbed file in any entry (deleted ones too), keeping its live entries only.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable

from pyiceberg.manifest import DataFile, ManifestContent, ManifestEntry, ManifestFile
from pyiceberg.table import Transaction
from pyiceberg.table.refs import SnapshotRef
from pyiceberg.table.snapshots import Operation
from pyiceberg.table.update import AddSnapshotUpdate, UpdatesAndRequirements

from lakehouse.table.producers.files import RewriteFiles, _content, commit_uuid


class EraseFiles(RewriteFiles):
    def __init__(
        self,
        tx: Transaction,
        branch: str,
        summary: dict[str, str],
        commit_id: uuid.UUID,
        deleted: list[DataFile],
        added: list[DataFile],
        keep_sequence: dict[str, int],
        scrub: frozenset[str],
        schema_id: int | None,
        parent_id: int | None,
    ) -> None:
        super().__init__(Operation.OVERWRITE, tx, branch, summary, commit_id, deleted, added, keep_sequence)
        self._scrub = scrub
        self._schema_id = schema_id
        self._parent_id = parent_id

    def _commit(self) -> UpdatesAndRequirements:
        """The re-created snapshot keeps the schema of the one it replaces (pyiceberg takes the
        table's current one), so time travel to it reads the columns it was written with, and its
        parent is the replaced one's parent (or that parent's re-created snapshot), not the replaced one."""
        updates, requirements = super()._commit()
        change: dict[str, int | None] = {"parent_snapshot_id": self._parent_id}
        if self._schema_id is not None:
            change["schema_id"] = self._schema_id
        fixed = tuple(
            AddSnapshotUpdate(snapshot=u.snapshot.model_copy(update=change))
            if isinstance(u, AddSnapshotUpdate)
            else u
            for u in updates
        )
        return fixed, requirements

    def _manifests(self) -> list[ManifestFile]:
        self._deleted_entries()  # still checks that every removed file is in the parent
        written = []
        by_group: dict[tuple[ManifestContent, int], list[ManifestEntry]] = {}
        for data_file in self._added_data_files:
            entry, spec_id = self._added_entry(data_file)
            by_group.setdefault((_content(data_file), spec_id), []).append(entry)
        for (content, spec_id), entries in by_group.items():
            with self._writer(content, spec_id) as writer:
                for entry in entries:
                    writer.add_entry(entry)
            written.append(writer.to_manifest_file())
        return written + self._existing_manifests()

    def _touches(self, manifest: ManifestFile, entries: list[ManifestEntry], removed: set[str]) -> bool:
        """Any entry naming a scrubbed or removed file, deleted ones too: their bounds may hold the values."""
        every = manifest.fetch_manifest_entry(self._io, discard_deleted=False)
        return any(e.data_file.file_path in self._scrub or e.data_file.file_path in removed for e in every)


def stage_erase(
    branch: str,
    deleted: Iterable[DataFile],
    added: Iterable[DataFile],
    summary: dict[str, str],
    keep_sequence: dict[str, int],
    scrub: Iterable[str],
    schema_id: int | None = None,
    parent_id: int | None = None,
) -> Callable[[Transaction], None]:
    """One `overwrite` snapshot on `branch` without `deleted`, with `added`, no trace of `scrub`."""
    deleted, added, scrubbed = list(deleted), list(added), frozenset(scrub)

    def stage(tx: Transaction) -> None:
        producer = EraseFiles(
            tx,
            branch,
            summary,
            commit_uuid(summary),
            deleted,
            added,
            keep_sequence,
            scrubbed,
            schema_id,
            parent_id,
        )
        with producer:
            pass

    return stage


def point_ref(tx: Transaction, name: str, snapshot_id: int, like: SnapshotRef) -> None:
    """Move tag or branch `name` to `snapshot_id`, keeping its type and retention settings."""
    tx._stage(
        *tx._set_ref_snapshot(
            snapshot_id=snapshot_id,
            ref_name=name,
            type=like.snapshot_ref_type,
            max_ref_age_ms=like.max_ref_age_ms,
            max_snapshot_age_ms=like.max_snapshot_age_ms,
            min_snapshots_to_keep=like.min_snapshots_to_keep,
        )
    )
