"""Credentials a REST catalog vends with a table, by the table's location prefix.

A REST catalog (Polaris, Lakekeeper, S3 Tables, SeaweedFS with a credential role) may answer a
load-table request with short-lived keys for that table alone: `s3.access-key-id`,
`s3.secret-access-key`, `s3.session-token` and `s3.session-token-expires-at-ms` in the table's IO
properties. They are kept here, process-wide as boto3's clients are, by location: DuckDB gets one
secret per table prefix (SCOPE, io/engine.py) and boto3 the keys of the longest matching prefix
(io/storage.py). Loading the table again (the facade does when they are about to expire) replaces them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from lakehouse.core.config import learn_secret

# Reload a table whose keys expire within this many seconds before handing out an engine.
REFRESH_MARGIN = 300.0


@dataclass(frozen=True)
class Vended:
    """One table's vended keys; `prefix` is `s3://bucket/path/` with its trailing slash."""

    prefix: str
    endpoint: str | None  # the S3 endpoint the keys are for (none: AWS's)
    key_id: str
    secret: str
    session_token: str | None
    expires_at: float | None  # epoch seconds, when the catalog said

    def __repr__(self) -> str:  # never show a credential, even in a traceback or debugger
        return f"Vended(prefix={self.prefix!r}, expires_at={self.expires_at!r})"

    def expiring(self, margin: float = REFRESH_MARGIN) -> bool:
        return self.expires_at is not None and self.expires_at - time.time() < margin


_lock = threading.Lock()
# By (endpoint, prefix): two lakes of one process on different S3 services never share keys.
_vended: dict[tuple[str | None, str], Vended] = {}
_generation = [0]


def prefix_of(location: str) -> str:
    return location.rstrip("/") + "/"


def remember(location: str, io_properties: Mapping[str, str]) -> Vended | None:
    """Keep the keys vended with the table at `location` (None when the catalog vended none)."""
    key_id, secret = io_properties.get("s3.access-key-id"), io_properties.get("s3.secret-access-key")
    if not key_id or not secret:
        return None
    expires = io_properties.get("s3.session-token-expires-at-ms")
    found = Vended(
        prefix_of(location), io_properties.get("s3.endpoint") or None, key_id, secret, io_properties.get("s3.session-token") or None,
        int(expires) / 1000 if expires and expires.isdigit() else None,
    )  # fmt: skip
    for value in (found.key_id, found.secret, found.session_token):
        learn_secret(value or "")
    with _lock:
        if _vended.get((found.endpoint, found.prefix)) != found:
            _vended[(found.endpoint, found.prefix)] = found
            _generation[0] += 1
    return found


def forget(location: str, endpoint: str | None) -> None:
    """The catalog vended no keys with the table this time: its old ones, expired or not, are not used."""
    with _lock:
        if _vended.pop((endpoint or None, prefix_of(location)), None) is not None:
            _generation[0] += 1


def vended_for(path: str, endpoint: str | None) -> Vended | None:
    """The keys of the longest vended prefix holding `path` on `endpoint`."""
    with _lock:
        matches = [
            v for (e, p), v in _vended.items() if e == (endpoint or None) and prefix_of(path).startswith(p)
        ]
    return max(matches, key=lambda v: len(v.prefix), default=None)


def generation() -> int:
    """Moves whenever keys are added, replaced or dropped."""
    return _generation[0]


def current(endpoint: str | None) -> tuple[int, list[Vended]]:
    """(generation, every set vended for `endpoint`): an engine makes its secrets again when the
    generation moved."""
    with _lock:
        return _generation[0], [v for (e, _), v in _vended.items() if e == (endpoint or None)]
