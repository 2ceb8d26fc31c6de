"""Commit pre-written data files as one snapshot, retrying lost races with backoff and jitter.

The data files are written once, before the first attempt. Each attempt reloads the table and
re-stages only metadata, so a retry can never re-read a drained source or duplicate rows.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pyiceberg.exceptions import CommitFailedException, CommitStateUnknownException
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table, Transaction
from pyiceberg.table.snapshots import Operation
from pyiceberg.table.update.snapshot import _OverwriteFiles

from lakehouse.errors import CommitError, StorageError
from lakehouse.hooks import checkpoint

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
    def from_properties(cls, props: dict[str, str]) -> RetryPolicy:
        return cls(
            attempts=int(props.get("lake.commit.attempts", cls.attempts)),
            base_delay=float(props.get("lake.commit.base-delay-ms", cls.base_delay * 1000)) / 1000,
            max_delay=float(props.get("lake.commit.max-delay-ms", cls.max_delay * 1000)) / 1000,
        )

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
) -> Callable[[Transaction], None]:
    """One snapshot that removes `deleted` and adds `added` (`overwrite`, or `append` on an empty table).

    pyiceberg cannot summarise a `replace`; compaction makes those with `compaction.ReplaceSummary`.
    """
    deleted, added = list(deleted), list(added)

    def stage(tx: Transaction) -> None:
        producer = _OverwriteFiles(
            operation=operation,
            transaction=tx,
            io=tx._table.io,
            branch=branch,
            snapshot_properties=summary,
            commit_uuid=commit_uuid(summary),
        )
        with producer as rewrite:
            for data_file in deleted:
                rewrite.delete_data_file(data_file)
            for data_file in added:
                rewrite.append_data_file(data_file)

    return stage
