"""One spelling per file: the canonical form in which the metadata's paths and a listing's paths are
compared (gc, expire, purge, and the catalog's claims on a location)."""

from __future__ import annotations

import posixpath
import re
from urllib.parse import unquote

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_S3_SCHEMES = ("s3", "s3a", "s3n")


def canonical(path: str) -> str | None:
    """The one spelling of a file we can compare, or None when we cannot tell where it is.

    Local: `/x`, `file:/x` (Hadoop, so Spark), `file:///x` (pyiceberg) and `file://localhost/x` are
    `/x`. S3: `s3a://` and `s3n://` are `s3://`. Both: percent-escapes decoded and repeated slashes
    folded, on the metadata's paths and the listing's alike. Spellings that fold together make a file
    look reachable, never orphaned; deletion always uses a real spelling. None: another scheme, a
    relative path, another host."""
    found = _SCHEME.match(path)
    if found is None:
        return _local(path) if path.startswith("/") else None
    scheme, rest = found.group(1).lower(), path[found.end() :]
    if scheme == "file":
        if rest.startswith("//"):
            host, slash, tail = rest[2:].partition("/")
            if host not in ("", "localhost") or not slash:
                return None
            rest = "/" + tail
        return _local(rest) if rest.startswith("/") else None
    if scheme in _S3_SCHEMES and rest.startswith("//"):
        bucket, slash, key = rest[2:].partition("/")
        return f"s3://{bucket}{_folded('/' + key)}" if bucket and slash else None
    return None


def _folded(path: str) -> str:
    return re.sub("/+", "/", unquote(path))


def _local(path: str) -> str:
    return posixpath.normpath(_folded(path))  # `/a/../b` is the file `/b`; S3 keys keep their dots


def normalize(path: str) -> str:
    """`canonical`, or the path as written when it cannot be normalised (so it matches nothing listed)."""
    return canonical(path) or path


def storage_root(path: str) -> str | None:
    """`/` for a local file, `s3://bucket/` for S3: paths compare only within one root."""
    key = canonical(path)
    if key is None:
        return None
    return "/" if key.startswith("/") else key[: key.index("/", len("s3://")) + 1]


def under(location: str, path: str) -> bool:
    """Whether `path` lies inside the folder `location`, however either is spelled."""
    inside = canonical(location)
    return inside is not None and normalize(path).startswith(inside.rstrip("/") + "/")
