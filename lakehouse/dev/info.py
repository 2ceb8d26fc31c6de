"""`lake info`: which config file, profile, catalog, warehouse, project root and dev server a command
run here would use, and whether its servers answer. Reads only; opens no catalog.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lakehouse.core.config import Profile, load_profile, redact_uri
from lakehouse.core.project import LOCAL_HOSTS, enclosing_root, find_root, is_local_endpoint
from lakehouse.dev.reach import Probe, probe

# Where a choice came from. The CLI shows ARGUMENT as the flag (`--config`, `--profile`).
ARGUMENT, ENV, PROJECT, DEFAULT, FIRST, BUILT_IN = (
    "argument",
    "env",
    "project",
    "default",
    "first",
    "built-in",
)


@dataclass(frozen=True)
class DevServerInfo:
    """The project's `lake dev` server for this profile: running, stopped, stale, or not applicable."""

    state: str  # "running" | "stopped" | "stale" | "n/a"
    endpoint: str | None = None
    pid: int | None = None
    state_file: str | None = None
    reason: str | None = None  # for "n/a": why `lake dev` does not serve this profile
    command: str = "lake dev up"  # what starts it


@dataclass(frozen=True)
class ProjectInfo:
    """What a command run in `cwd` would use. Credentials are masked in every field."""

    cwd: str
    project_root: str
    root_marker: str | None  # "catalog/lake.yaml" or ".lake/" that made it the root; None: no project
    config: str | None  # None: the built-in default
    config_source: str  # ARGUMENT | ENV | PROJECT | BUILT_IN
    profile: str
    profile_source: str  # ARGUMENT | ENV | DEFAULT (the file's `default:`) | FIRST | BUILT_IN
    profiles: list[str]
    catalog_type: str
    catalog_uri: str | None
    warehouse: str
    s3_endpoint: str | None
    configured_endpoint: str | None  # the profile's own, when a running dev server's port replaced it
    dev_server: DevServerInfo
    servers: list[Probe] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def project_info(
    profile: str | None = None, config: str | os.PathLike[str] | None = None, *,
    start: Path | None = None, check: bool = True, timeout: float = 1.0,
) -> ProjectInfo:  # fmt: skip
    """`profile`/`config` as given on the command line (None: from the environment or the project).
    `check` probes the S3 endpoint and catalog server (TCP connect, `timeout` seconds at most each)."""
    cwd = (start or Path.cwd()).resolve()
    chosen = load_profile(profile, config, cwd)
    root = find_root(cwd)
    config_source = (
        ARGUMENT
        if config
        else ENV
        if os.environ.get("LAKE_CONFIG")
        else PROJECT
        if chosen.config_path
        else BUILT_IN
    )
    names, profile_source = _profiles(chosen, profile)
    marker = root.marker if root is not None and root.path == chosen.base_dir else None
    notes = []
    if (outer := enclosing_root(chosen.base_dir)) is not None:
        notes.append(
            f"{chosen.base_dir} lies inside the project {outer.path} ({outer.marker}); commands here use "
            f"{chosen.base_dir}, so remove its {marker or 'config'} if it was made by mistake"
        )
    if root is None and chosen.config_path is None:
        notes.append(
            f"no project here or above: the built-in default creates .lake/ in {cwd}; `lake init` starts one"
        )
    return ProjectInfo(
        cwd=str(cwd),
        project_root=str(chosen.base_dir),
        root_marker=marker,
        config=str(chosen.config_path) if chosen.config_path else None,
        config_source=config_source,
        profile=chosen.name,
        profile_source=profile_source,
        profiles=names,
        catalog_type=chosen.catalog_type,
        catalog_uri=redact_uri(uri) if (uri := chosen.get("uri")) else None,
        warehouse=redact_uri(chosen.warehouse),
        s3_endpoint=chosen.get("s3.endpoint"),
        configured_endpoint=chosen.configured_endpoint,
        dev_server=dev_server(chosen),
        servers=probe(chosen, timeout) if check else [],
        notes=notes,
    )


def _profiles(chosen: Profile, given: str | None) -> tuple[list[str], str]:
    if chosen.config_path is None:
        return [chosen.name], BUILT_IN
    document = yaml.safe_load(chosen.config_path.read_text()) or {}
    names = list(document.get("profiles") or {})
    if given:
        return names, ARGUMENT
    if os.environ.get("LAKE_PROFILE"):
        return names, ENV
    return names, DEFAULT if document.get("default") else FIRST


def dev_server(profile: Profile) -> DevServerInfo:
    from lakehouse.dev.layout import dev_paths
    from lakehouse.dev.process import alive, read_state
    from lakehouse.dev.reach import dev_would_help

    if profile.catalog_type == "rest" and dev_would_help(profile) is None:
        return _rest_server(profile)
    if not is_local_endpoint(profile.get("s3.endpoint")):
        hosts = " or ".join(LOCAL_HOSTS)
        return DevServerInfo("n/a", reason=f"`lake dev` serves profiles whose s3.endpoint is http on {hosts}")
    if (why_not := dev_would_help(profile)) is not None:
        return DevServerInfo("n/a", reason=why_not)
    paths = dev_paths(profile)
    state = read_state(paths)
    if state is None:
        return DevServerInfo("stopped", state_file=str(paths.state))
    if not alive(state["pid"]):
        return DevServerInfo("stale", pid=state["pid"], state_file=str(paths.state))
    return DevServerInfo("running", endpoint=state["endpoint"], pid=state["pid"], state_file=str(paths.state))


def _rest_server(profile: Profile) -> DevServerInfo:
    """`lake dev up --catalog rest`'s SeaweedFS for a local REST profile."""
    from lakehouse.dev import rest

    status = rest.status(profile)
    state = {"running": "running"}.get(status["state"], "stale" if "stale_pid" in status else "stopped")
    pid = status["pid"] or status.get("stale_pid")
    state_file = str(profile.base_dir / rest.STATE)
    return DevServerInfo(state, status["uri"], pid, state_file, command="lake dev up --catalog rest")
