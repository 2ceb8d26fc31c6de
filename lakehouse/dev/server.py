"""Local S3 for development: moto's S3 server in a background process, with restore across restarts.

moto keeps objects in memory only, so a plain restart would leave the `dev` catalog pointing at objects
that are gone. `lake dev` therefore treats the catalog and the objects as one pair:

- `down` copies the SQLite catalog (first) and then every object of the server's buckets (streamed) to
  `.lake/dev/s3/`, writes `.manifest.json` last, swaps the copy in, and stops the server;
- `up` starts the server, creates the warehouse bucket and, if a complete save exists, uploads the
  objects again and restores the catalog from the same save;
- if there is no complete save, or the restore fails, both are reset: the bucket is emptied, and the
  catalog database and the save are deleted. Never a catalog that points at missing objects.

State lives under `<project>/.lake/dev/`: `server.json` (pid, port, endpoint), `server.log` and `s3/`.
The library never prints or exits; the CLI is `lakehouse.cli.dev`. The server is a detached
`python -m moto.server --host 127.0.0.1 --port N` child in its own session.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from lakehouse.core.config import Profile
from lakehouse.errors import DevServerError, LakehouseError

DEFAULT_PORT = 9753
HOST = "127.0.0.1"
SEMANTICS = "restore"
_LOCAL_HOSTS = ("127.0.0.1", "localhost")
_MANIFEST = ".manifest.json"
_SAVED_CATALOG = ".catalog.db"
_START_TIMEOUT = 20.0
_STOP_TIMEOUT = 10.0
_SERVER_MODULE = b"moto.server"
# Servers started by this process, so a stopped one is reaped rather than left as a zombie.
_children: dict[int, subprocess.Popen[bytes]] = {}


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
    return DevPaths(profile.base_dir / ".lake" / "dev")


# ---------------------------------------------------------------- public API


def up(profile: Profile, port: int | None = None) -> dict[str, Any]:
    """Start the server (or report the running one), create the bucket, restore the last save.

    Returns the status plus `action` (`started` or `already running`) and `restore`: what happened to
    the catalog and objects (`restored`, `fresh` or `reset`, with the reason for a reset).
    """
    paths = dev_paths(profile)
    profile_port = _profile_port(profile)
    _catalog_db(profile)  # fail early on a profile whose catalog cannot be saved with the objects
    port = port or profile_port
    state = _read_state(paths)
    if state is not None and _alive(state["pid"]):
        result = status(profile)
        result["action"] = "already running"
        if port != state["port"]:
            result["note"] = f"already running on port {state['port']}, not {port}; run `lake dev down` first"
        return result
    if state is not None:
        paths.state.unlink(missing_ok=True)  # stale: the process is gone
    _check_port_free(port)
    paths.root.mkdir(parents=True, exist_ok=True)
    pid = _spawn(paths, port)
    _write_state(paths, {"pid": pid, "port": port, "endpoint": _endpoint(port), "started_at": _now()})
    try:
        restore = _restore_or_reset(profile, paths, _on_port(profile, port))
    except BaseException:
        _stop_pid(pid)
        paths.state.unlink(missing_ok=True)
        raise
    result = status(profile)
    result["action"] = "started"
    result["restore"] = restore
    if stale := state is not None:
        result["stale_pid_removed"] = stale
    if port != profile_port:
        result["note"] = (
            f"profile {profile.name!r} points at port {profile_port}; "
            f"set LAKE_DEV_PORT={port} so other lake commands reach this server"
        )
    return result


def down(profile: Profile) -> dict[str, Any]:
    """Save the catalog and all objects to `.lake/dev/s3/`, then stop the server.

    If saving fails, nothing is lost: the previous complete save stays in place, the server keeps
    running with every object, and a DevServerError says why (so `lake dev down` exits 1).
    """
    paths = dev_paths(profile)
    _profile_port(profile)
    state = _read_state(paths)
    base: dict[str, Any] = {"profile": profile.name, "semantics": SEMANTICS}
    if state is None:
        return {**base, "action": "not running", "saved": _saved_summary(paths)}
    if not _alive(state["pid"]):
        paths.state.unlink(missing_ok=True)
        return {
            **base,
            "action": "stale pid removed",
            "pid": state["pid"],
            "message": "the server was not running; its objects are lost, `up` restores the last save",
            "saved": _saved_summary(paths),
        }
    try:
        save = _save(profile, paths, _on_port(profile, state["port"]))
    except (LakehouseError, OSError, sqlite3.Error) as exc:
        shutil.rmtree(paths.saving, ignore_errors=True)
        raise DevServerError(
            f"could not save the dev lake ({_one_line(exc)}); the server keeps running at "
            f"{state['endpoint']} so nothing is lost, and the previous save is kept"
        ) from None
    _stop_pid(state["pid"])
    paths.state.unlink(missing_ok=True)
    return {**base, "action": "stopped", "pid": state["pid"], "endpoint": state["endpoint"], "save": save}


def status(profile: Profile) -> dict[str, Any]:
    """Running or stopped, pid, endpoint, bucket, number of objects (live when running, else saved)."""
    paths = dev_paths(profile)
    _profile_port(profile)
    state = _read_state(paths)
    running = state is not None and _alive(state["pid"])
    result: dict[str, Any] = {
        "profile": profile.name,
        "state": "running" if running else "stopped",
        "pid": state["pid"] if running and state else None,
        "endpoint": state["endpoint"] if running and state else None,
        "bucket": _bucket(profile),
        "objects": None,
        "semantics": SEMANTICS,
        "dir": str(paths.root),
        "log": str(paths.log),
        "saved": _saved_summary(paths),
    }
    if state is not None and not running:
        result["stale_pid"] = state["pid"]
    if running and state:
        from lakehouse.io.storage import list_files

        try:
            result["objects"] = sum(
                1 for _ in list_files(_on_port(profile, state["port"]), _bucket_url(profile))
            )
        except LakehouseError as exc:
            result["error"] = _one_line(exc)
    return result


def ensure_running(profile: Profile) -> dict[str, Any]:
    """Start the dev server for `profile` unless it already runs (for the demo and scripts)."""
    return up(profile)


# ---------------------------------------------------------------- profile checks


def _profile_port(profile: Profile) -> int:
    """The port of the profile's local endpoint; refuses anything that is not a local S3 profile."""
    if not profile.is_s3:
        raise DevServerError(
            f"profile {profile.name!r} has a {profile.warehouse.split('://')[0]} warehouse; "
            "`lake dev` needs an s3:// warehouse, e.g. the `dev` profile"
        )
    endpoint = profile.get("s3.endpoint")
    parsed = urlparse(endpoint or "")
    if not endpoint or parsed.scheme != "http" or parsed.hostname not in _LOCAL_HOSTS:
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


def _catalog_db(profile: Profile) -> Path:
    uri = profile.get("uri", "") or ""
    if profile.catalog_type != "sql" or not uri.startswith("sqlite:///"):
        raise DevServerError(
            f"profile {profile.name!r} needs a SQLite catalog (uri: sqlite:///...) so `lake dev` can save "
            "and restore it together with the objects"
        )
    return Path(uri[len("sqlite:///") :])


def _bucket(profile: Profile) -> str:
    return urlparse(profile.warehouse).netloc


def _bucket_url(profile: Profile) -> str:
    return f"s3://{_bucket(profile)}"


def _endpoint(port: int) -> str:
    return f"http://{HOST}:{port}"


def _on_port(profile: Profile, port: int) -> Profile:
    """The profile, aimed at the port the server actually runs on."""
    return replace(profile, properties={**profile.properties, "s3.endpoint": _endpoint(port)})


# ---------------------------------------------------------------- process management


def _read_state(paths: DevPaths) -> dict[str, Any] | None:
    try:
        state = json.loads(paths.state.read_text())
        int(state["pid"]), int(state["port"]), str(state["endpoint"])
        return dict(state)
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        paths.state.unlink(missing_ok=True)  # unreadable: as good as stale
        return None


def _write_state(paths: DevPaths, state: dict[str, Any]) -> None:
    tmp = paths.state.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(paths.state)


def _alive(pid: int) -> bool:
    """Whether `pid` is a live `python -m moto.server` process (not a zombie, not a reused pid)."""
    if pid in _children:
        return _children[pid].poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # someone else's process reusing the pid
    proc = Path("/proc") / str(pid)
    if proc.is_dir():
        try:
            if ") Z " in (proc / "stat").read_text() or _SERVER_MODULE not in (proc / "cmdline").read_bytes():
                return False
        except OSError:
            return False
    return True


def _check_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug does
        try:
            sock.bind((HOST, port))
        except OSError as exc:
            raise DevServerError(
                f"port {port} on {HOST} is taken by another process ({exc.strerror}); "
                "choose another with --port or LAKE_DEV_PORT"
            ) from None


def _spawn(paths: DevPaths, port: int) -> int:
    # moto's own server module: it starts faster than anything importing lakehouse (pyarrow, pyiceberg).
    command = [sys.executable, "-m", "moto.server", "--host", HOST, "--port", str(port)]
    with open(paths.log, "wb") as log:  # the log of the current run only
        log.write(f"--- {_now()} starting moto S3 on {_endpoint(port)}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    _children[proc.pid] = proc
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _children.pop(proc.pid, None)
            raise DevServerError(
                f"the moto server exited with code {proc.returncode} on start: {_log_tail(paths)} "
                f"(log: {paths.log})"
            )
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.2):
            return proc.pid
        time.sleep(0.05)
    _stop_pid(proc.pid)
    raise DevServerError(f"the moto server did not listen on port {port} within {_START_TIMEOUT:.0f}s")


def _stop_pid(pid: int) -> None:
    """SIGTERM, then SIGKILL after a grace period; reaps our own children."""
    proc = _children.pop(pid, None)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + _STOP_TIMEOUT
    while time.monotonic() < deadline:
        if proc is not None:
            if proc.poll() is not None:
                return
        elif not _alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if proc is not None:
        proc.wait(timeout=_STOP_TIMEOUT)


def _log_tail(paths: DevPaths) -> str:
    try:
        lines = [line for line in paths.log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "(no log)"
    return lines[-1].strip() if lines else "(empty log)"


# ---------------------------------------------------------------- save and restore


def _save(profile: Profile, paths: DevPaths, server: Profile) -> dict[str, Any]:
    """Catalog first, then objects (so every object the saved catalog names is in the save)."""
    from lakehouse.io.storage import download_file, list_buckets, list_files

    shutil.rmtree(paths.saving, ignore_errors=True)
    paths.saving.mkdir(parents=True)
    db = _catalog_db(profile)
    has_catalog = db.is_file()
    if has_catalog:
        _copy_sqlite(db, paths.saving / _SAVED_CATALOG)
    entries = []
    total = 0
    buckets = list_buckets(server)
    for bucket in buckets:
        for info in list_files(server, f"s3://{bucket}"):
            key = info.path.split("/", 3)[3]
            name = _local_name(bucket, key)
            download_file(server, info.path, paths.saving / name)
            entries.append({"bucket": bucket, "key": key, "file": name, "size": info.size})
            total += info.size
    manifest = {
        "saved_at": _now(),
        "catalog": has_catalog,
        "buckets": buckets,
        "objects": entries,
        "bytes": total,
    }
    (paths.saving / _MANIFEST).write_text(json.dumps(manifest, indent=1))
    # Swap the complete save in; a crash in between leaves no manifest in `s3/`, which means reset.
    shutil.rmtree(paths.discarded, ignore_errors=True)
    if paths.saved.exists():
        paths.saved.rename(paths.discarded)
    paths.saving.rename(paths.saved)
    shutil.rmtree(paths.discarded, ignore_errors=True)
    return {"mode": "saved", "objects": len(entries), "bytes": total, "catalog": has_catalog}


def _restore_or_reset(profile: Profile, paths: DevPaths, server: Profile) -> dict[str, Any]:
    from lakehouse.io.storage import ensure_bucket, upload_file

    db = _catalog_db(profile)
    ensure_bucket(server, _bucket(profile))
    manifest = _read_manifest(paths)
    if manifest is None:
        if db.exists() or paths.saved.exists():
            return _reset(profile, paths, server, "no complete save of the objects; catalog reset with them")
        return {"mode": "fresh"}
    try:
        for bucket in manifest["buckets"]:
            ensure_bucket(server, bucket)
        for entry in manifest["objects"]:
            upload_file(server, paths.saved / entry["file"], f"s3://{entry['bucket']}/{entry['key']}")
        if manifest["catalog"]:
            db.parent.mkdir(parents=True, exist_ok=True)
            _copy_sqlite(paths.saved / _SAVED_CATALOG, db)
        else:
            _remove_sqlite(db)
    except (LakehouseError, OSError, sqlite3.Error, KeyError, TypeError) as exc:
        return _reset(profile, paths, server, f"restore failed ({_one_line(exc)}); catalog and objects reset")
    return {
        "mode": "restored",
        "objects": len(manifest["objects"]),
        "bytes": manifest["bytes"],
        "saved_at": manifest["saved_at"],
    }


def _reset(profile: Profile, paths: DevPaths, server: Profile, reason: str) -> dict[str, Any]:
    """Empty the buckets, delete the catalog database and the save: a clean, consistent start."""
    from lakehouse.io.storage import delete_files, list_buckets, list_files

    _remove_sqlite(_catalog_db(profile))
    for directory in (paths.saved, paths.saving, paths.discarded):
        shutil.rmtree(directory, ignore_errors=True)
    for bucket in list_buckets(server):
        delete_files(server, (f.path for f in list_files(server, f"s3://{bucket}")))
    return {"mode": "reset", "reason": reason}


def _read_manifest(paths: DevPaths) -> dict[str, Any] | None:
    try:
        manifest = json.loads((paths.saved / _MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _saved_summary(paths: DevPaths) -> dict[str, Any] | None:
    manifest = _read_manifest(paths)
    if manifest is None:
        return None
    return {
        "objects": len(manifest.get("objects", [])),
        "bytes": manifest.get("bytes"),
        "saved_at": manifest.get("saved_at"),
    }


def _local_name(bucket: str, key: str) -> str:
    """Every object is saved under a hashed name that the save's manifest maps back to its key: S3 keys
    may have segments over 255 bytes, `..`, or be both an object and a prefix (`a` and `a/b`), none of
    which a file system can hold as a path."""
    return f"objects/{bucket}/{hashlib.sha256(key.encode()).hexdigest()}"


def _copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy through SQLite's backup API (safe with open readers on either side)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def _remove_sqlite(db: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
