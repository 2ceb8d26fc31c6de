"""The moto server process of `lake dev`: its state file, starting, checking and stopping it.

The server is a detached `python -m moto.server --host 127.0.0.1 --port N` child in its own session;
`server.json` records its pid so later `lake` commands find it. psutil tells a live server from a
zombie or from another process that reused the pid.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from typing import Any

import psutil

from lakehouse.dev.layout import HOST, DevPaths, endpoint, now
from lakehouse.errors import DevServerError

_START_TIMEOUT = 20.0
_STOP_TIMEOUT = 10.0
_SERVER_MODULE = "moto.server"
# Servers started by this process, so a stopped one is reaped rather than left as a zombie.
_children: dict[int, subprocess.Popen[bytes]] = {}


def read_state(paths: DevPaths) -> dict[str, Any] | None:
    try:
        state = json.loads(paths.state.read_text())
        int(state["pid"]), int(state["port"]), str(state["endpoint"])
        return dict(state)
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        paths.state.unlink(missing_ok=True)  # unreadable: as good as stale
        return None


def write_state(paths: DevPaths, state: dict[str, Any]) -> None:
    tmp = paths.state.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(paths.state)


def alive(pid: int) -> bool:
    """Whether `pid` is a live `python -m moto.server` process of ours (not a zombie, not a reused pid)."""
    if pid in _children:
        return _children[pid].poll() is None
    try:
        proc = psutil.Process(pid)
        uids = proc.uids()
        # Only a process we may signal (as `kill -0` checks): someone else's is not our server.
        if os.geteuid() != 0 and not {os.getuid(), os.geteuid()} & {uids.real, uids.saved}:
            return False
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return any(_SERVER_MODULE in arg for arg in proc.cmdline())
    except psutil.Error:  # gone, a zombie, or not ours to inspect
        return False


def check_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug does
        try:
            sock.bind((HOST, port))
        except OSError as exc:
            raise DevServerError(
                f"port {port} on {HOST} is taken by another process ({exc.strerror}); "
                "choose another with --port or LAKE_DEV_PORT"
            ) from None


def spawn(paths: DevPaths, port: int) -> int:
    """Start the server, wait until it listens, and return its pid."""
    # moto's own server module: it starts faster than anything importing lakehouse (pyarrow, pyiceberg).
    command = [sys.executable, "-m", _SERVER_MODULE, "--host", HOST, "--port", str(port)]
    with open(paths.log, "wb") as log:  # the log of the current run only
        log.write(f"--- {now()} starting moto S3 on {endpoint(port)}\n".encode())
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
    stop_pid(proc.pid)
    raise DevServerError(f"the moto server did not listen on port {port} within {_START_TIMEOUT:.0f}s")


def stop_pid(pid: int) -> None:
    """SIGTERM, then SIGKILL after a grace period; reaps our own children."""
    child = _children.pop(pid, None)
    _signal(pid, kill=False)
    deadline = time.monotonic() + _STOP_TIMEOUT
    while time.monotonic() < deadline:
        if child is not None:
            if child.poll() is not None:
                return
        elif not alive(pid):
            return
        time.sleep(0.05)
    _signal(pid, kill=True)
    if child is not None:
        child.wait(timeout=_STOP_TIMEOUT)


def _signal(pid: int, *, kill: bool) -> None:
    with contextlib.suppress(psutil.NoSuchProcess):
        proc = psutil.Process(pid)
        if kill:
            proc.kill()
        else:
            proc.terminate()


def _log_tail(paths: DevPaths) -> str:
    try:
        lines = [line for line in paths.log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "(no log)"
    return lines[-1].strip() if lines else "(empty log)"
