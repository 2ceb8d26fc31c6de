"""Commit pre-written data files as one snapshot, retrying lost races with backoff and jitter.

The data files are written once, before the first attempt. Each attempt reloads the table and
re-stages only metadata, so a retry can never re-read a drained source or duplicate rows. tenacity
runs the attempts; this module says which errors are worth another attempt and how the rest read.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyiceberg.exceptions import CommitFailedException, CommitStateUnknownException, ValidationException
from pyiceberg.manifest import ManifestEntryStatus
from pyiceberg.table import Table, Transaction
from tenacity import RetryError, Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from lakehouse.core.hooks import checkpoint
from lakehouse.errors import CommitError, LakehouseError, StorageError
from lakehouse.table.producers import commit_once, staged_snapshots, table_io
from lakehouse.table.upstream import install as install_upstream_fixes

if TYPE_CHECKING:
    from lakehouse.core.config import Profile

# Every write of ours imports this module: pyiceberg must read double partition values exactly before
# any manifest is read or rewritten (lakehouse/table/upstream.py).
install_upstream_fixes()


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 40
    base_delay: float = 0.05
    max_delay: float = 2.0

    @classmethod
    def of(cls, profile: Profile) -> RetryPolicy:
        """The profile's `lake.commit.*` settings (checked when the profile loaded)."""
        s = profile.settings
        return cls(s.commit_attempts, s.commit_base_delay_ms / 1000, s.commit_max_delay_ms / 1000)

    def retrying(self) -> Retrying:
        """Full jitter (AWS architecture blog): before attempt n+1, a pause uniform in
        [0, min(max_delay, base_delay * 2^(n-1))]; `attempts` tries in all."""
        return Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_random_exponential(multiplier=self.base_delay, max=self.max_delay),
            retry=retry_if_exception(_retryable),
        )


def commit_with_retry(
    load: Callable[[], Table],
    stage: Callable[[Transaction], None],
    policy: RetryPolicy,
    what: str,
) -> Table:
    """Reload, stage and commit until the compare-and-swap wins; conflicts that cannot be retried raise."""
    try:
        for attempt in policy.retrying():
            tx = load().transaction()  # outside the attempt: a failed load is raised as it is
            with attempt:
                return _commit(tx, stage, what)
    except RetryError as exc:
        last = exc.last_attempt.exception()
        raise CommitError(f"{what} failed after {policy.attempts} attempts: {last}") from None
    raise AssertionError("tenacity raises RetryError when it stops")


def _commit(tx: Transaction, stage: Callable[[Transaction], None], what: str) -> Table:
    """One attempt; the errors no retry can fix become lake errors that say what happened."""
    try:
        stage(tx)
        checkpoint("before-commit")
        require_new_files(tx, what)
        committed = commit_once(tx)
        checkpoint("after-commit")
        return committed
    except ValidationException as exc:
        raise CommitError(f"{what} conflicts with a concurrent change: {exc}") from None
    except CommitStateUnknownException as exc:
        raise CommitError(
            f"{what}: the catalog did not confirm the commit; check `lake snapshots`: {exc}"
        ) from None
    except OSError as exc:  # pyarrow/fsspec could not write metadata or manifests (after their retries)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StorageError(f"{what}: could not write table metadata: {first}") from None


def _retryable(exc: BaseException) -> bool:
    """A lost compare-and-swap, or a catalog briefly busy; our own errors and all others are final."""
    if isinstance(exc, CommitFailedException):
        return True
    return (
        isinstance(exc, Exception)
        and not isinstance(exc, LakehouseError)
        and _is_transient_catalog_error(exc)
    )


def require_new_files(tx: Transaction, what: str) -> None:
    """Refuse to swap in a snapshot whose new files are gone (e.g. `lake gc --force` with a short window
    took a write in flight): the commit would succeed and leave the table unreadable. One stat or HEAD
    per added file, after the new manifest list and manifests are checked and read."""
    io = table_io(tx)

    def require(paths: list[str]) -> None:
        with ThreadPoolExecutor(max_workers=8) as pool:
            present = list(pool.map(lambda path: io.new_input(path).exists(), paths))
        if missing := [p for p, ok in zip(paths, present, strict=True) if not ok]:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise CommitError(
                f"{what}: its new file {missing[0]}{more} is gone (deleted by `lake gc --force`?); "
                "nothing was committed"
            )

    for snapshot in staged_snapshots(tx):
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
