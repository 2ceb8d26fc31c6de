"""Local S3 for development: moto's S3 server in a background process, with restore across restarts.

moto keeps objects in memory only, so `lake dev` treats the catalog and the objects as one pair:

- `down` saves the SQLite catalog and every object to `.lake/dev/s3/`, then stops the server;
- `up` starts the server, creates the warehouse bucket and, if a complete save exists, uploads the
  objects again and restores the catalog from the same save;
- if there is no complete save, or the restore fails, both are reset. Never a catalog that points at
  missing objects.

The jobs live next door: `layout` (state paths, profile checks), `process` (the server process) and
`saves` (save and restore). The library never prints or exits; the CLI is `lakehouse.cli.dev`.
"""

from __future__ import annotations

import shutil
import sqlite3
from typing import Any

from lakehouse.core.config import Profile
from lakehouse.dev.layout import bucket, bucket_url, catalog_db, dev_paths, endpoint, now, on_port, one_line
from lakehouse.dev.layout import profile_port as _profile_port
from lakehouse.dev.process import alive, check_port_free, read_state, spawn, stop_pid, write_state
from lakehouse.dev.saves import restore_or_reset, save, saved_summary
from lakehouse.errors import DevServerError, LakehouseError

SEMANTICS = "restore"


def up(profile: Profile, port: int | None = None) -> dict[str, Any]:
    """Start the server (or report the running one), create the bucket, restore the last save.

    Returns the status plus `action` (`started` or `already running`) and `restore`: what happened to
    the catalog and objects (`restored`, `fresh` or `reset`, with the reason for a reset).
    """
    paths = dev_paths(profile)
    profile_port = _profile_port(profile)
    catalog_db(profile)  # fail early on a profile whose catalog cannot be saved with the objects
    port = port or profile_port
    state = read_state(paths)
    if state is not None and alive(state["pid"]):
        result = status(profile)
        result["action"] = "already running"
        if port != state["port"]:
            result["note"] = f"already running on port {state['port']}, not {port}; run `lake dev down` first"
        return result
    if state is not None:
        paths.state.unlink(missing_ok=True)  # stale: the process is gone
    check_port_free(port)
    paths.root.mkdir(parents=True, exist_ok=True)
    pid = spawn(paths, port)
    # `profile` lets loading that profile anywhere in the project find this port (core.project).
    state_doc = {
        "pid": pid,
        "port": port,
        "endpoint": endpoint(port),
        "profile": profile.name,
        "started_at": now(),
    }
    write_state(paths, state_doc)
    try:
        restore = restore_or_reset(profile, paths, on_port(profile, port))
    except BaseException:
        stop_pid(pid)
        paths.state.unlink(missing_ok=True)
        raise
    result = status(profile)
    result["action"] = "started"
    result["restore"] = restore
    if stale := state is not None:
        result["stale_pid_removed"] = stale
    if port != profile_port:
        result["note"] = (
            f"profile {profile.name!r} points at port {profile_port}; other lake commands in "
            f"{profile.base_dir} find port {port} from {paths.state.relative_to(profile.base_dir)}"
        )
    return result


def down(profile: Profile) -> dict[str, Any]:
    """Save the catalog and all objects to `.lake/dev/s3/`, then stop the server.

    If saving fails, nothing is lost: the previous complete save stays in place, the server keeps
    running with every object, and a DevServerError says why (so `lake dev down` exits 1).
    """
    paths = dev_paths(profile)
    _profile_port(profile)
    state = read_state(paths)
    base: dict[str, Any] = {"profile": profile.name, "semantics": SEMANTICS}
    if state is None:
        return {**base, "action": "not running", "saved": saved_summary(paths)}
    if not alive(state["pid"]):
        paths.state.unlink(missing_ok=True)
        return {
            **base,
            "action": "stale pid removed",
            "pid": state["pid"],
            "message": "the server was not running; its objects are lost, `up` restores the last save",
            "saved": saved_summary(paths),
        }
    try:
        saved = save(profile, paths, on_port(profile, state["port"]))
    except (LakehouseError, OSError, sqlite3.Error) as exc:
        shutil.rmtree(paths.saving, ignore_errors=True)
        raise DevServerError(
            f"could not save the dev lake ({one_line(exc)}); the server keeps running at "
            f"{state['endpoint']} so nothing is lost, and the previous save is kept"
        ) from None
    stop_pid(state["pid"])
    paths.state.unlink(missing_ok=True)
    return {**base, "action": "stopped", "pid": state["pid"], "endpoint": state["endpoint"], "save": saved}


def status(profile: Profile) -> dict[str, Any]:
    """Running or stopped, pid, endpoint, bucket, number of objects (live when running, else saved)."""
    paths = dev_paths(profile)
    _profile_port(profile)
    state = read_state(paths)
    running = state is not None and alive(state["pid"])
    result: dict[str, Any] = {
        "profile": profile.name,
        "state": "running" if running else "stopped",
        "pid": state["pid"] if running and state else None,
        "endpoint": state["endpoint"] if running and state else None,
        "bucket": bucket(profile),
        "objects": None,
        "semantics": SEMANTICS,
        "dir": str(paths.root),
        "log": str(paths.log),
        "saved": saved_summary(paths),
    }
    if state is not None and not running:
        result["stale_pid"] = state["pid"]
    if running and state:
        from lakehouse.io.storage import list_files

        try:
            result["objects"] = sum(
                1 for _ in list_files(on_port(profile, state["port"]), bucket_url(profile))
            )
        except LakehouseError as exc:
            result["error"] = one_line(exc)
    return result


def ensure_running(profile: Profile) -> dict[str, Any]:
    """Start the dev server for `profile` unless it already runs (for the demo and scripts)."""
    return up(profile)
