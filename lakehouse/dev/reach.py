"""Whether a profile's S3 endpoint and catalog server answer, and one line saying so when they do not.

A TCP connect to each server a profile names (its `s3.endpoint`, and the host of a PostgreSQL or REST
catalog `uri`): refused at once on this machine, at most `timeout` seconds elsewhere. The CLI asks only
after a command failed, so a working command pays nothing; `lake info` asks every time.
"""

from __future__ import annotations

import socket
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from lakehouse.core.config import Profile, redact_uri
from lakehouse.core.project import is_local_endpoint
from lakehouse.errors import LakehouseError

_DEFAULT_PORTS = {"http": 80, "https": 443, "postgresql": 5432, "postgres": 5432}
S3_ENDPOINT = "S3 endpoint"
CATALOG = "catalog"


@dataclass(frozen=True)
class Probe:
    """One server of a profile and whether it answered."""

    what: str  # S3_ENDPOINT or CATALOG
    url: str  # as configured, credentials masked
    reachable: bool
    reason: str | None = None  # why not: "connection refused", "no answer within 1.0s", "unknown host"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def servers(profile: Profile) -> list[tuple[str, str]]:
    """(what, url) of every network server the profile needs; a SQLite catalog or AWS's default needs none."""
    found = []
    if endpoint := profile.get("s3.endpoint"):
        found.append((S3_ENDPOINT, endpoint))
    uri = profile.get("uri") or ""
    if profile.catalog_type in ("postgres", "rest", "sql") and urlsplit(uri).hostname:
        found.append((CATALOG, uri))
    return found


def probe(profile: Profile, timeout: float = 1.0) -> list[Probe]:
    return [_probe(what, url, timeout) for what, url in servers(profile)]


def _probe(what: str, url: str, timeout: float) -> Probe:
    shown = redact_uri(url)
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.split("+", 1)[0]
        host, port = parts.hostname, parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        return Probe(what, shown, False, "not a valid URL")
    if not host or not port:
        return Probe(what, shown, False, "no host or port in the URL")
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return Probe(what, shown, True)
    except socket.gaierror:
        return Probe(what, shown, False, f"unknown host {host}")
    except TimeoutError:
        return Probe(what, shown, False, f"no answer within {timeout:g}s")
    except ConnectionRefusedError:
        return Probe(what, shown, False, "connection refused")
    except OSError as exc:
        return Probe(what, shown, False, exc.strerror or type(exc).__name__)
    except (UnicodeError, ValueError) as exc:  # a host name that cannot be encoded, a bad port
        return Probe(what, shown, False, type(exc).__name__)


def dev_would_help(profile: Profile) -> str | None:
    """None when `lake dev up` (`--catalog rest` for a REST profile) can serve this profile, else why not."""
    from lakehouse.dev.layout import catalog_db, profile_port
    from lakehouse.dev.rest import local_ports

    try:
        if profile.catalog_type == "rest":
            local_ports(profile)
            return None
        profile_port(profile)
        catalog_db(profile)
    except LakehouseError as exc:
        return str(exc)
    return None


def unreachable(profile: Profile, timeout: float = 1.0) -> str | None:
    """One line naming the profile and the first server that does not answer, and whether `lake dev up`
    would help; None when every server answers (the failure had another cause)."""
    failed = [p for p in probe(profile, timeout) if not p.reachable]
    if not failed:
        return None
    first = failed[0]
    line = f"profile {profile.name!r}: its {first.what} {first.url} does not answer ({first.reason})"
    if profile.catalog_type == "rest" and dev_would_help(profile) is None:
        return f"{line}; `lake dev up --catalog rest` starts a local REST catalog (SeaweedFS) for it"
    if first.what == S3_ENDPOINT and is_local_endpoint(profile.get("s3.endpoint")):
        if (why_not := dev_would_help(profile)) is None:
            return f"{line}; `lake dev up` starts the local S3 server for it"
        return f"{line}; `lake dev up` would not help: {why_not}"
    return f"{line}; `lake dev up` would not help: it serves only a local s3.endpoint, so start or reach that server"
