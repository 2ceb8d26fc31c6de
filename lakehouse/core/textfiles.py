"""Read the small text files users point lake at (SQL, lock files, models, YAML) safely.

`--file /dev/zero` or a FIFO would otherwise be read until memory runs out: only regular files are
read, and only up to a size no real SQL or lock file reaches.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from lakehouse.errors import LakehouseError

MAX_TEXT_FILE = 16 * 1024 * 1024


def read_text_file(path: str | os.PathLike[str], what: str, limit: int = MAX_TEXT_FILE) -> str:
    """The UTF-8 text of a regular file of at most `limit` bytes, or a one-line LakehouseError."""
    where = Path(path)
    try:
        with open(where, "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if not stat.S_ISREG(mode):
                raise LakehouseError(f"{what} {where} is not a regular file")
            data = handle.read(limit + 1)
    except OSError as exc:
        raise LakehouseError(f"cannot read {what} {where}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise LakehouseError(f"{what} {where} is larger than {limit // (1024 * 1024)} MB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LakehouseError(f"{what} {where} is not UTF-8 text (byte {exc.start})") from None
