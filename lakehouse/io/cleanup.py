"""Remove what a failed write left behind: its data files and any incomplete multipart uploads."""

from __future__ import annotations

import logging

from pyiceberg.table import Table

from lakehouse.core.config import Profile
from lakehouse.io.storage import abort_multipart_uploads, delete_files, list_files
from lakehouse.io.writer import data_location

log = logging.getLogger(__name__)


def remove_write(profile: Profile, table: Table, write_id: str, known_paths: list[str]) -> None:
    """Best effort: a file this misses is an orphan that `lake gc` removes later."""
    location = data_location(table)
    try:
        abort_multipart_uploads(profile, location, write_id)
        # manifests of a failed commit are named after a commit UUID that starts with the write id
        abort_multipart_uploads(profile, table.location().rstrip("/") + "/metadata", contains=write_id)
        paths = set(known_paths)
        paths.update(
            f.path for f in list_files(profile, location) if f.path.rsplit("/", 1)[-1].startswith(write_id)
        )
        delete_files(profile, sorted(paths))
    except Exception as exc:  # cleanup must never hide the error that caused it
        log.warning("could not remove files of failed write %s: %s", write_id, type(exc).__name__)
