"""Where `lake dev` keeps its state for a project, and which profiles it can serve.

State lives under `<project>/.lake/dev/`: `server.json` (pid, port, endpoint), `server.log` and `s3/`.
Only a profile with an `s3://` warehouse, an `http://127.0.0.1:PORT` endpoint and a SQLite catalog can
be served: the catalog and the objects are saved and restored as one pair.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

from lakehouse.core.config import Profile
from lakehouse.core.project import DEV_DIR, LOCAL_HOSTS
from lakehouse.errors import DevServerError

DEFAULT_PORT = 9753
HOST = "127.0.0.1"


@dataclass(frozen=True)
class DevPaths:
    """Where `lake dev` keeps its state for a project."""

    root: Path

    @property
    def state(self) -> Path:
        return self.root / "server.json"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    @property
    def saved(self) -> Path:
        return self.root / "s3"

    @property
    def saving(self) -> Path:
        return self.root / "s3.saving"

    @property
    def discarded(self) -> Path:
        return self.root / "s3.old"


def dev_paths(profile: Profile) -> DevPaths:
    return DevPaths(profile.base_dir / DEV_DIR)


def profile_port(profile: Profile) -> int:
    """The port of the profile's local endpoint; refuses anything that is not a local S3 profile."""
    if not profile.is_s3:
        raise DevServerError(
            f"profile {profile.name!r} has a {profile.warehouse.split('://')[0]} warehouse; "
            "`lake dev` needs an s3:// warehouse, e.g. the `dev` profile"
        )
    endpoint = profile.get("s3.endpoint")
    parsed = urlparse(endpoint or "")
    if not endpoint or parsed.scheme != "http" or parsed.hostname not in LOCAL_HOSTS:
        raise DevServerError(
            f"profile {profile.name!r} does not point at a local server (s3.endpoint {endpoint!r}); "
            f"`lake dev` only runs with s3.endpoint: http://{HOST}:PORT"
        )
    try:
        return parsed.port or DEFAULT_PORT
    except ValueError:
        raise DevServerError(
            f"profile {profile.name!r}: s3.endpoint {endpoint!r} has no valid port"
        ) from None


def catalog_db(profile: Profile) -> Path:
    uri = profile.get("uri", "") or ""
    if profile.catalog_type != "sql" or not uri.startswith("sqlite:///"):
        raise DevServerError(
            f"profile {profile.name!r} needs a SQLite catalog (uri: sqlite:///...) so `lake dev` can save "
            "and restore it together with the objects"
        )
    return Path(uri[len("sqlite:///") :])


def bucket(profile: Profile) -> str:
    return urlparse(profile.warehouse).netloc


def bucket_url(profile: Profile) -> str:
    return f"s3://{bucket(profile)}"


def endpoint(port: int) -> str:
    return f"http://{HOST}:{port}"


def on_port(profile: Profile, port: int) -> Profile:
    """The profile, aimed at the port the server actually runs on."""
    return replace(profile, properties={**profile.properties, "s3.endpoint": endpoint(port)})


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
