"""A Spark session for one lake command: the only module that talks to Spark.

Spark runs in its own process, on the Python of the Spark environment (`make spark`, see
`lakehouse.io.spark.env`), so lake's own environment needs neither pyspark nor Java. The session starts
`driver.py` there and sends it one JSON request per line; requests are serialized, so a run's worker
threads may share one session. Spark's own log goes to a file under the system temp dir, named in
errors, never to the terminal. Settings (with the catalog's credentials) go over the pipe, never on a
command line.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lakehouse.core.config import Profile, mask_secrets
from lakehouse.errors import SparkError
from lakehouse.io.spark.conf import env_conf, spark_conf
from lakehouse.io.spark.env import SparkEnv, find_spark_env

DRIVER = Path(__file__).with_name("driver.py")
# Defaults for a session lake starts; `--spark-conf` overrides any of them.
DEFAULTS = {
    "spark.sql.session.timeZone": "UTC",  # as DuckDB's: CAST(ts AS DATE) must give the same day
    # DuckDB fails a bad cast or an overflow; Spark without ANSI mode gives NULL or wraps around,
    # which would publish other rows than DuckDB's. With it, such a model fails instead.
    "spark.sql.ansi.enabled": "true",
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.adaptive.enabled": "true",
}


class SparkSession:
    """One Spark driver process, configured for a profile's catalog (named as the profile)."""

    def __init__(
        self,
        profile: Profile,
        *,
        master: str | None = None,
        conf: Mapping[str, str] | None = None,
        env: SparkEnv | None = None,
    ) -> None:
        self.profile = profile
        self.catalog = profile.name
        self.env = env or find_spark_env(profile.base_dir)
        settings = {**DEFAULTS, **env_conf(self.env), **spark_conf(profile), **(conf or {})}
        self._lock = threading.Lock()
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in close()
            "w", prefix="lake-spark-", suffix=".log", delete=False
        )
        self.log_path = self._log.name
        self._failed = False  # the log is kept (and named in errors) once anything went wrong
        self._process = subprocess.Popen(
            [str(self.env.python), str(DRIVER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env={**os.environ, **self.env.environ(), "PYTHONUNBUFFERED": "1"},
            text=True,
        )
        try:
            started = self._request({"op": "start", "master": master or "local[*]", "conf": settings})
        except BaseException:
            self.close()
            raise
        self.version = str(started.get("version", ""))
        self.master = str(started.get("master", ""))

    def table(self, name: str) -> str:
        """`ns.t` as Spark names it in this session's catalog."""
        return ".".join(f"`{part}`" for part in (self.catalog, *name.split(".")))

    def sql(
        self,
        statement: str,
        *,
        collect: bool = False,
        properties: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """Run one statement. `properties` go into the snapshot summary of the Iceberg commit it makes.
        Rows only when `collect`."""
        reply = self._request(
            {"op": "sql", "sql": statement, "collect": collect, "properties": dict(properties or {})}
        )
        columns = reply.get("columns", [])
        return [dict(zip(columns, row, strict=True)) for row in reply.get("rows", [])]

    def cache(self, view: str, statement: str) -> int:
        """Compute a query once into temp view `view` (cached by Spark); returns its row count."""
        return int(self._request({"op": "cache", "view": view, "sql": statement})["rows"])

    def appended(self, view: str, table: str, start: int, end: int) -> None:
        """Temp view `view`: the rows the append snapshots of `table` (`ns.t`) after `start` up to
        `end` added, read by Iceberg's incremental append scan."""
        self._request(
            {"op": "appended", "view": view, "table": self.table(table), "start": start, "end": end}
        )

    def uncache(self, view: str) -> None:
        self._request({"op": "uncache", "view": view})

    def write(self, view: str, table: str, *, overwrite: bool, properties: Mapping[str, str]) -> None:
        """Write a view into an Iceberg table (or `table`.`branch_x`): replace every row, or append."""
        self._request({
            "op": "write", "view": view, "table": table, "overwrite": overwrite, "properties": dict(properties),
        })  # fmt: skip

    def rewrite_data_files(
        self,
        table: str,
        options: Mapping[str, str],
        *,
        where: str | None = None,
        sort: list[tuple[str, bool]] | None = None,
        zorder: list[str] | None = None,
        properties: Mapping[str, str] | None = None,
    ) -> dict[str, int]:
        """Iceberg's `rewrite_data_files` (binpack, sort by `(column, descending)`, or z-order) with snapshot
        properties."""
        reply = self._request({
            "op": "rewrite", "table": table, "options": dict(options), "where": where,
            "sort": sort, "zorder": zorder, "properties": dict(properties or {}),
        })  # fmt: skip
        return {k: int(v) for k, v in reply.items() if k != "ok"}

    def _request(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            process = self._process
            if process.stdin is None or process.stdout is None or process.poll() is not None:
                raise SparkError(f"the Spark process has stopped; its log is {self.log_path}")
            try:
                process.stdin.write(json.dumps(request) + "\n")
                process.stdin.flush()
                line = process.stdout.readline()
            except (BrokenPipeError, OSError):
                line = ""
            if not line:
                self._failed = True
                raise SparkError(f"the Spark process stopped ({self._last_log_line()}); log: {self.log_path}")
            reply: dict[str, Any] = json.loads(line)
        if not reply.get("ok"):
            self._failed = True
            message = mask_secrets(str(reply.get("error", "")), self.profile.secrets())
            raise SparkError(f"Spark: {message} (log: {self.log_path})")
        return reply

    def _last_log_line(self) -> str:
        self._log.flush()
        lines = [
            ln.strip() for ln in Path(self.log_path).read_text(errors="replace").splitlines() if ln.strip()
        ]
        last = next(
            (ln for ln in reversed(lines) if "Error" in ln or "Exception" in ln), lines[-1] if lines else ""
        )
        return mask_secrets(last[:300], self.profile.secrets())

    def close(self) -> None:
        process = self._process
        if process.poll() is None:
            try:
                if process.stdin is not None:
                    process.stdin.write(json.dumps({"op": "stop"}) + "\n")
                    process.stdin.close()
                process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()
        self._log.close()
        if not self._failed:
            Path(self.log_path).unlink(missing_ok=True)

    def __enter__(self) -> SparkSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
