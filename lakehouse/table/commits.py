"""Commit pre-written data files as one snapshot, retrying lost races with backoff and jitter.

The data files are written once, before the first attempt. Each attempt reloads the table and
re-stages only metadata, so a retry can never re-read a drained source or duplicate rows.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pyiceberg.exceptions import CommitFailedException, CommitStateUnknownException
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
from pyiceberg.table import Table, Transaction
from pyiceberg.table.snapshots import Operation
from pyiceberg.table.update import AddSnapshotUpdate
from pyiceberg.table.update.snapshot import _SnapshotProducer

from lakehouse.core.hooks import checkpoint
from lakehouse.errors import CommitError, StorageError
from lakehouse.table.upstream import install as install_upstream_fixes

# Every write of ours imports this module: pyiceberg must read double partition values exactly before
# any manifest is read or rewritten (lakehouse/table/upstream.py).
install_upstream_fixes()

# pyiceberg's own inner retries are kept short; this loop adds the patient, jittered ones.
INNER_RETRY_PROPERTIES = {
    "commit.retry.num-retries": "2",
    "commit.retry.min-wait-ms": "20",
    "commit.retry.max-wait-ms": "200",
}


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 40
    base_delay: float = 0.05
    max_delay: float = 2.0

    @classmethod
    def from_properties(cls, props: dict[str, str], where: str = "lake settings") -> RetryPolicy:
        """`lake.commit.*` of a profile or a table; a bad value is a one-line ConfigError naming it."""
        from lakehouse.core.config import commit_settings

        attempts, base_ms, max_ms = commit_settings(
            props, where, (cls.attempts, cls.base_delay * 1000, cls.max_delay * 1000)
        )
        return cls(attempts=attempts, base_delay=base_ms / 1000, max_delay=max_ms / 1000)

    def delay(self, attempt: int) -> float:
        """Full jitter (AWS architecture blog): uniform in [0, min(max, base * 2^attempt)]."""
        return random.uniform(0, min(self.max_delay, self.base_delay * (2**attempt)))


def commit_with_retry(
    load: Callable[[], Table],
    stage: Callable[[Transaction], None],
    policy: RetryPolicy,
    what: str,
) -> Table:
    """Reload, stage and commit until the compare-and-swap wins; conflicts that cannot be retried raise."""
    from pyiceberg.exceptions import ValidationException

    last: Exception | None = None
    for attempt in range(policy.attempts):
        table = load()
        tx = table.transaction()
        try:
            stage(tx)
            checkpoint("before-commit")
            require_new_files(tx, what)
            committed = tx.commit_transaction()
            checkpoint("after-commit")
            return committed
        except CommitFailedException as exc:
            last = exc
            time.sleep(policy.delay(attempt))
        except ValidationException as exc:
            raise CommitError(f"{what} conflicts with a concurrent change: {exc}") from None
        except CommitStateUnknownException as exc:
            raise CommitError(
                f"{what}: the catalog did not confirm the commit; check `lake snapshots`: {exc}"
            ) from None
        except OSError as exc:  # pyarrow/fsspec could not write metadata or manifests (after their retries)
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StorageError(f"{what}: could not write table metadata: {first}") from None
        except Exception as exc:
            if _is_transient_catalog_error(exc):
                last = exc
                time.sleep(policy.delay(attempt))
                continue
            raise
    raise CommitError(f"{what} failed after {policy.attempts} attempts: {last}")


def require_new_files(tx: Transaction, what: str) -> None:
    """Refuse to swap in a snapshot whose new files are gone (e.g. `lake gc --force` with a short window
    took a write in flight): the commit would succeed and leave the table unreadable. One stat or HEAD
    per added file, after the new manifest list and manifests are checked and read."""
    io = tx._table.io

    def require(paths: list[str]) -> None:
        with ThreadPoolExecutor(max_workers=8) as pool:
            present = list(pool.map(lambda path: io.new_input(path).exists(), paths))
        if missing := [p for p, ok in zip(paths, present, strict=True) if not ok]:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise CommitError(
                f"{what}: its new file {missing[0]}{more} is gone (deleted by `lake gc --force`?); "
                "nothing was committed"
            )

    for update in tx._updates:
        if not isinstance(update, AddSnapshotUpdate):
            continue
        snapshot = update.snapshot
        require([snapshot.manifest_list])
        new = [m for m in snapshot.manifests(io) if m.added_snapshot_id == snapshot.snapshot_id]
        manifests = [m for m in new if m.has_added_files()]
        require([m.manifest_path for m in new])
        require(
            [
                e.data_file.file_path
                for m in manifests
                for e in m.fetch_manifest_entry(io, discard_deleted=True)
                if e.status == ManifestEntryStatus.ADDED
            ]
        )


def _is_transient_catalog_error(exc: Exception) -> bool:
    """SQLite says `database is locked` under concurrent writers; PostgreSQL can report serialization failures."""
    text = str(exc).lower()
    return any(s in text for s in ("database is locked", "could not serialize", "deadlock detected", "busy"))


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
            if not any(e.data_file.file_path in paths for e in entries):
                kept.append(manifest)
                continue
            rest = [e for e in entries if e.data_file.file_path not in paths]
            if rest:
                with self._writer(manifest.content, manifest.partition_spec_id) as writer:
                    for entry in rest:
                        writer.existing(entry)
                kept.append(writer.to_manifest_file())
        return kept

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

    def _manifests(self) -> list[ManifestFile]:
        # Added and deleted entries go to separate manifests, as pyiceberg and Java write them: a
        # manifest of deleted entries is reachable from this snapshot only, so expiry can drop it.
        groups: dict[tuple[ManifestEntryStatus, ManifestContent, int], list[ManifestEntry]] = defaultdict(
            list
        )
        for entry in self._deleted_entries():
            groups[entry.status, _content(entry.data_file), entry.data_file.spec_id].append(entry)
        for data_file in self._added_data_files:
            # An explicit data sequence number on an ADDED entry is what Java's RewriteFiles writes
            # to keep one; readers inherit the snapshot's only when it is null.
            entry = ManifestEntry.from_args(
                status=ManifestEntryStatus.ADDED,
                snapshot_id=self._snapshot_id,
                sequence_number=self._keep_sequence.get(data_file.file_path),
                file_sequence_number=None,
                data_file=data_file,
            )
            # Files we write carry no spec id; pyiceberg adds them under the default spec too.
            spec_id = getattr(data_file, "_spec_id", self._transaction.table_metadata.default_spec_id)
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
