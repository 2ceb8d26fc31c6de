"""Snapshot producers pyiceberg 0.12 lacks: rewrite data and delete files in one snapshot, `replace`
snapshots (compaction, manifest rewrites), and delete manifests."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import TypeAlias

from pyiceberg.manifest import (
    DataFile,
    DataFileContent,
    ManifestContent,
    ManifestEntry,
    ManifestEntryStatus,
    ManifestFile,
    ManifestWriter,
    ManifestWriterV2,
)
from pyiceberg.table import Transaction
from pyiceberg.table.snapshots import Operation, Snapshot, Summary
from pyiceberg.table.update.snapshot import _SnapshotProducer

# (manifests to keep as they are, groups of manifests to merge into one each)
Packing: TypeAlias = Callable[[list[ManifestFile], int], tuple[list[ManifestFile], list[list[ManifestFile]]]]


def commit_uuid(summary: dict[str, str]) -> uuid.UUID:
    """Manifests are named after the commit UUID; starting it with the write id lets cleanup find them
    (e.g. a manifest's incomplete multipart upload after a failed commit)."""
    write_id = summary.get("lake.write-id", "")
    if len(write_id) == 16 and all(c in "0123456789abcdef" for c in write_id):
        return uuid.UUID(write_id + uuid.uuid4().hex[:16])
    return uuid.uuid4()


def stage_append(files: Iterable[DataFile], summary: dict[str, str]) -> Callable[[Transaction], None]:
    files = list(files)

    def stage(tx: Transaction) -> None:
        merge = tx.table_metadata.properties.get("commit.manifest-merge.enabled", "false").lower() == "true"
        update = tx.update_snapshot(snapshot_properties=summary)
        producer = update.merge_append() if merge else update.fast_append()
        producer.commit_uuid = commit_uuid(summary)
        with producer as append:
            for data_file in files:
                append.append_data_file(data_file)

    return stage


def stage_rewrite(
    deleted: Iterable[DataFile],
    added: Iterable[DataFile],
    summary: dict[str, str],
    operation: Operation,
    branch: str | None = "main",
    keep_sequence: dict[str, int] | None = None,
) -> Callable[[Transaction], None]:
    """One snapshot that removes `deleted` and adds `added` (`overwrite`, or `append` on an empty table).

    Both may hold delete files as well as data files. `keep_sequence` maps an added file's path to
    the data sequence number it keeps (a restored file must keep its own, or a positional delete
    with a lower one would no longer apply to it). pyiceberg cannot summarise a `replace`;
    compaction makes those with `compaction.ReplaceSummary`.
    """
    deleted, added = list(deleted), list(added)

    def stage(tx: Transaction) -> None:
        producer = RewriteFiles(
            operation, tx, branch, summary, commit_uuid(summary), deleted, added, keep_sequence or {}
        )
        with producer:
            pass

    return stage


class DeleteManifestWriter(ManifestWriterV2):
    """pyiceberg 0.12 writes data manifests only; delete files belong in `content=deletes` ones."""

    def content(self) -> ManifestContent:
        return ManifestContent.DELETES

    @property
    def _meta(self) -> dict[str, str]:
        return {**super()._meta, "content": "deletes"}


class RewriteFiles(_SnapshotProducer["RewriteFiles"]):
    """Remove and add data and delete files in one snapshot.

    pyiceberg's `_OverwriteFiles` handles data files only: it cannot remove a delete file ("Missing
    required files to delete") and writes every added file into a data manifest.
    """

    def __init__(
        self,
        operation: Operation,
        tx: Transaction,
        branch: str | None,
        summary: dict[str, str],
        commit_id: uuid.UUID,
        deleted: list[DataFile],
        added: list[DataFile],
        keep_sequence: dict[str, int],
    ) -> None:
        super().__init__(operation, tx, tx._table.io, commit_id, summary, branch)
        self._added_data_files = list(added)  # pyiceberg's summary counts data and delete files apart
        self._deleted_data_files = set(deleted)
        self._keep_sequence = keep_sequence
        self._entries: dict[int, list[tuple[ManifestFile, list[ManifestEntry]]]] = {}

    def _validate_concurrency(self) -> None:
        """Nothing beyond `_deleted_entries`: on a retry every removed file must still be live."""

    def _parent_entries(self) -> list[tuple[ManifestFile, list[ManifestEntry]]]:
        parent = (
            self._transaction.table_metadata.snapshot_by_id(self._parent_snapshot_id)
            if self._parent_snapshot_id is not None
            else None
        )
        if parent is None:
            return []
        if parent.snapshot_id not in self._entries:  # read once per attempt (a retry has a new parent)
            self._entries[parent.snapshot_id] = [
                (m, m.fetch_manifest_entry(self._io, discard_deleted=True))
                for m in parent.manifests(self._io)
            ]
        return self._entries[parent.snapshot_id]

    def _deleted_entries(self) -> list[ManifestEntry]:
        from pyiceberg.exceptions import ValidationException

        paths = {f.file_path for f in self._deleted_data_files}
        found = [
            ManifestEntry.from_args(
                status=ManifestEntryStatus.DELETED,
                snapshot_id=self._snapshot_id,
                sequence_number=e.sequence_number,
                file_sequence_number=e.file_sequence_number,
                data_file=e.data_file,
            )
            for _, entries in self._parent_entries()
            for e in entries
            if e.data_file.file_path in paths
        ]
        if missing := sorted(paths - {e.data_file.file_path for e in found}):
            raise ValidationException(f"files to remove are no longer in the table: {', '.join(missing[:3])}")
        return found

    def _existing_manifests(self) -> list[ManifestFile]:
        paths = {f.file_path for f in self._deleted_data_files}
        kept = []
        for manifest, entries in self._parent_entries():
            if not self._touches(manifest, entries, paths):
                kept.append(manifest)
                continue
            rest = [e for e in entries if e.data_file.file_path not in paths]
            if rest:
                with self._writer(manifest.content, manifest.partition_spec_id) as writer:
                    for entry in rest:
                        writer.existing(entry)
                kept.append(writer.to_manifest_file())
        return kept

    def _touches(self, manifest: ManifestFile, entries: list[ManifestEntry], removed: set[str]) -> bool:
        """Whether a parent manifest must be rewritten: one of its live entries is a removed file."""
        return any(e.data_file.file_path in removed for e in entries)

    def _writer(self, content: ManifestContent, spec_id: int) -> ManifestWriter:
        if content == ManifestContent.DATA:
            return self.new_manifest_writer(self.spec(spec_id))
        return DeleteManifestWriter(
            self.spec(spec_id),
            self.schema(),
            self.new_manifest_output(),
            self._snapshot_id,
            self._compression,
        )

    def _added_entry(self, data_file: DataFile) -> tuple[ManifestEntry, int]:
        """An ADDED entry for `data_file`, and the spec id it is written under."""
        # An explicit data sequence number on an ADDED entry is what Java's RewriteFiles writes to keep
        # one; readers inherit the snapshot's only when it is null.
        entry = ManifestEntry.from_args(
            status=ManifestEntryStatus.ADDED,
            snapshot_id=self._snapshot_id,
            sequence_number=self._keep_sequence.get(data_file.file_path),
            file_sequence_number=None,
            data_file=data_file,
        )
        # Files we write carry no spec id; pyiceberg adds them under the default spec too.
        return entry, getattr(data_file, "_spec_id", self._transaction.table_metadata.default_spec_id)

    def _manifests(self) -> list[ManifestFile]:
        # Added and deleted entries go to separate manifests, as pyiceberg and Java write them: a
        # manifest of deleted entries is reachable from this snapshot only, so expiry can drop it.
        groups: dict[tuple[ManifestEntryStatus, ManifestContent, int], list[ManifestEntry]] = defaultdict(
            list
        )
        for entry in self._deleted_entries():
            groups[entry.status, _content(entry.data_file), entry.data_file.spec_id].append(entry)
        for data_file in self._added_data_files:
            entry, spec_id = self._added_entry(data_file)
            groups[entry.status, _content(data_file), spec_id].append(entry)
        written = []
        for (_, content, spec_id), entries in groups.items():
            with self._writer(content, spec_id) as writer:
                for entry in entries:
                    writer.add_entry(entry)
            written.append(writer.to_manifest_file())
        return written + self._existing_manifests()


def _content(data_file: DataFile) -> ManifestContent:
    return ManifestContent.DATA if data_file.content == DataFileContent.DATA else ManifestContent.DELETES


class ReplaceSummary:
    """Records a snapshot as `replace`: pyiceberg 0.12 builds summaries for append/overwrite/delete only."""

    _operation: Operation

    def _summary(self, snapshot_properties: dict[str, str] = {}) -> Summary:  # noqa: B006 - as pyiceberg
        self._operation = Operation.OVERWRITE
        try:
            summary = super()._summary(snapshot_properties)  # type: ignore[misc]
        finally:
            self._operation = Operation.REPLACE
        return Summary(operation=Operation.REPLACE, **summary.additional_properties)


class ReplaceFiles(ReplaceSummary, RewriteFiles):
    """Remove the inputs (data and delete files) and add the outputs; a conflict is what `check` says
    about the new head."""

    def __init__(
        self, tx: Transaction, summary: dict[str, str], check: Callable[[Transaction, Snapshot | None], None]
    ):
        super().__init__(Operation.REPLACE, tx, "main", summary, commit_uuid(summary), [], [], {})
        self._check = check

    def _validate_concurrency(self) -> None:
        # pyiceberg's own retry: a concurrent append is fine, a removed input file or new deletes are not.
        if self._commit_window is not None and not self._commit_window.is_empty():
            self._check(self._transaction, self._commit_window.head)


class RewriteManifests(ReplaceSummary, _SnapshotProducer["RewriteManifests"]):
    """A `replace` snapshot with the same live files in fewer, larger manifests; `pack` splits the current
    manifests into those kept as they are and groups to merge."""

    def __init__(self, tx: Transaction, summary: dict[str, str], target: int, pack: Packing) -> None:
        super().__init__(Operation.REPLACE, tx, tx._table.io, snapshot_properties=summary, branch="main")
        self._target = target
        self._pack = pack

    def _deleted_entries(self) -> list[ManifestEntry]:
        return []

    def _validate_concurrency(self) -> None:
        """Nothing to validate: each attempt rebuilds from the current head, so concurrent appends stay."""

    def _existing_manifests(self) -> list[ManifestFile]:
        snapshot = self._transaction.table_metadata.snapshot_by_name(self._target_branch)
        if snapshot is None:
            return []
        keep, merge = self._pack(snapshot.manifests(self._io), self._target)
        for group in merge:
            with self.new_manifest_writer(self.spec(group[0].partition_spec_id)) as writer:
                for manifest in group:
                    for entry in manifest.fetch_manifest_entry(self._io, discard_deleted=True):
                        writer.add_entry(
                            ManifestEntry.from_args(
                                status=ManifestEntryStatus.EXISTING,
                                snapshot_id=entry.snapshot_id,
                                sequence_number=entry.sequence_number,
                                file_sequence_number=entry.file_sequence_number,
                                data_file=entry.data_file,
                            )
                        )
            keep.append(writer.to_manifest_file())
        return keep
