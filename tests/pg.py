"""A real PostgreSQL server for the catalog tests, and one fresh database per test.

CI (`.ci/run`) starts a server from Debian's packages and exports LAKE_TEST_PG_URI
(`postgresql://user:password@127.0.0.1:port/db`; the user may create databases). Locally, when
that variable is unset but PostgreSQL's binaries are installed, a throwaway cluster is started
under a temporary directory for the session. Without either, PostgreSQL tests are skipped, except
under CI=true, where that is an error: in CI nothing may be skipped.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ENV = "LAKE_TEST_PG_URI"
_USER = "lake_test"
_PASSWORD = "lake-test-pw"


@dataclass
class PgServer:
    """A PostgreSQL server whose `admin_uri` may create databases."""

    admin_uri: str

    def with_database(self, name: str) -> str:
        parts = urlsplit(self.admin_uri)
        return urlunsplit(parts._replace(path=f"/{name}"))

    @contextmanager
    def fresh_database(self) -> Iterator[str]:
        """A new empty database for one test; dropped (with its connections) afterwards."""
        name = f"lake_{uuid.uuid4().hex[:12]}"
        _admin(self.admin_uri, f'CREATE DATABASE "{name}"')
        try:
            yield self.with_database(name)
        finally:
            _admin(self.admin_uri, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin(uri: str, sql: str) -> None:
    import psycopg2

    con = psycopg2.connect(uri, connect_timeout=10)
    try:
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute(sql)
    finally:
        con.close()


def pg_bindir() -> Path | None:
    """Debian puts the server binaries under /usr/lib/postgresql/<version>/bin."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalCluster:
    """A throwaway cluster: initdb into a temp dir, pg_ctl start on 127.0.0.1, pg_ctl stop -m immediate."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="lake-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        # initdb refuses to run as root; run the server as the `postgres` system user then.
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres")
        self.root.chmod(0o755)

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self.as_user, *args], check=True, capture_output=True, timeout=120, stdin=subprocess.DEVNULL
        )

    def start(self) -> PgServer:
        pwfile = self.root / "pw"
        pwfile.write_text(_PASSWORD + "\n")
        if self.as_user:
            shutil.chown(pwfile, "postgres")
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", _USER, "--pwfile", str(pwfile),
            "--auth", "scram-sha-256", "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        )
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip
        uri = f"postgresql://{_USER}:{_PASSWORD}@127.0.0.1:{self.port}/postgres"
        _wait_ready(uri)
        return PgServer(uri)

    def stop(self) -> None:
        with suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def _wait_ready(uri: str, timeout: float = 30) -> None:
    import psycopg2

    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg2.connect(uri, connect_timeout=5).close()
            return
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def skip_reason() -> str:
    return (
        f"no PostgreSQL: set {ENV}=postgresql://user:pw@127.0.0.1:port/db (a user that may CREATE DATABASE) "
        "or install PostgreSQL (apt-get install postgresql); .ci/run does this"
    )
