"""The DuckDB engine: the only module that opens DuckDB connections.

Extensions come from the `duckdb-extension-*` wheels (DuckDB cannot download them here), the S3
secret from the profile, and a query engine is locked down before any user SQL runs.
"""

from __future__ import annotations

import glob
import hashlib
import importlib
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from functools import cache
from typing import TYPE_CHECKING, Any

from lakehouse.core import interrupts
from lakehouse.core.config import Profile
from lakehouse.core.schemas import quote_literal
from lakehouse.errors import LakehouseError
from lakehouse.io import vended
from lakehouse.io.storage import S3Credentials, credentials, is_s3, local_path

if TYPE_CHECKING:
    import pyarrow as pa

# duckdb (about 0.05 s to import) loads with the first engine: commands that open none skip it.

EXTENSIONS = ("avro", "httpfs", "iceberg")
# DuckDB defaults to 80% of RAM; a bounded default keeps big ingests from crowding out the machine.
DEFAULT_MEMORY_LIMIT = "4GB"
# Database-wide settings every connection and cursor runs with. Iceberg never rewrites a file in place,
# so Parquet footers and S3 objects' sizes can be cached across queries.
SETTINGS = {"TimeZone": "'UTC'", "parquet_metadata_cache": "true", "enable_http_metadata_cache": "true"}


@cache
def extension_path(name: str) -> str:
    import duckdb

    module = importlib.import_module(f"duckdb_extension_{name}")
    base = os.path.dirname(module.__file__ or "")
    found = glob.glob(os.path.join(base, "extensions", f"v{duckdb.__version__}", f"{name}.duckdb_extension"))
    if not found:
        raise LakehouseError(
            f"DuckDB extension {name} for duckdb {duckdb.__version__} is not installed; "
            f"pip install duckdb-extension-{name}=={duckdb.__version__}"
        )
    return found[0]


# Partition files a partitioned COPY keeps open at once. DuckDB's default (100) closes a file when a
# 101st partition needs one and opens a new file when rows for the closed partition come again, so an
# ingest into 360 partitions wrote 601 files (3,000,000 rows into 360 partitions: 1,665 files). Up to
# this many partitions, one write makes one file per partition; above it, partitions can get several.
MAX_OPEN_PARTITION_FILES = 1000


def flush_threshold(memory_limit: str) -> int:
    """Rows a partitioned COPY buffers before flushing: about a thousandth of the memory limit in bytes.

    DuckDB's default (524,288 rows across all partitions) writes several small files per partition in
    one ingest: 5M rows into 240 partitions gave 1,269 files, against 337 with 10M rows buffered.
    """
    from lakehouse.core.sizes import parse_size

    try:
        limit = parse_size(memory_limit)
    except LakehouseError:  # e.g. "80%": leave DuckDB's default
        return 524_288
    return max(524_288, min(limit // 1024, 20_000_000))


class Engine:
    """One DuckDB connection configured for a profile's lake."""

    def __init__(self, profile: Profile, *, extensions: Iterable[str] = EXTENSIONS) -> None:
        self.profile = profile
        config: dict[str, Any] = {
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            # Streams (COPY, scans) need not keep input order; it lets DuckDB write with bounded memory.
            "preserve_insertion_order": False,
            # Spill under the system temp dir, never into the user's working directory.
            "temp_directory": os.path.join(tempfile.gettempdir(), f"lake-duckdb-{os.getpid()}"),
            "memory_limit": profile.settings.duckdb_memory_limit or DEFAULT_MEMORY_LIMIT,
        }
        if profile.settings.duckdb_threads is not None:
            config["threads"] = profile.settings.duckdb_threads
        config["partitioned_write_flush_threshold"] = flush_threshold(config["memory_limit"])
        config["partitioned_write_max_open_files"] = MAX_OPEN_PARTITION_FILES
        import duckdb

        self.con = duckdb.connect(":memory:", config=config)
        interrupts.register(self.con)  # Ctrl-C stops a running query (when the CLI installed it)
        for name in extensions:
            self.con.execute(f"LOAD {quote_literal(extension_path(name))}")
        # GLOBAL, because a plain SET binds only this connection and its cursors would run in the
        # machine's time zone (CAST(ts AS DATE) on a timestamptz then depends on TZ).
        for setting, value in SETTINGS.items():
            self.con.execute(f"SET GLOBAL {setting} = {value}")
        self.vended_generation = -1  # the io.vended generation this database's secrets were made from
        if profile.is_s3:
            self._create_s3_secret("lake_s3", credentials(profile))
            self._sync_vended()

    def _create_s3_secret(self, name: str, creds: S3Credentials, scope: str | None = None) -> None:
        parts = ["TYPE s3", f"REGION {quote_literal(creds.region)}"]
        if creds.key_id:
            parts += [f"KEY_ID {quote_literal(creds.key_id)}", f"SECRET {quote_literal(creds.secret or '')}"]
        if creds.session_token:
            parts.append(f"SESSION_TOKEN {quote_literal(creds.session_token)}")
        if creds.endpoint:
            scheme, _, host = creds.endpoint.partition("://")
            parts += [
                f"ENDPOINT {quote_literal(host.rstrip('/'))}",
                "URL_STYLE 'path'",
                f"USE_SSL {'true' if scheme == 'https' else 'false'}",
            ]
        if scope:
            parts.append(f"SCOPE {quote_literal(scope)}")
        self.con.execute(f"CREATE OR REPLACE SECRET {name} ({', '.join(parts)})")

    def _sync_vended(self) -> None:
        """One secret per table prefix a REST catalog vended keys for, SCOPEd to it (DuckDB uses the
        longest scope matching a path); made again when keys were added or refreshed. Secrets are
        the database's, so every cursor sees them; creating one is allowed on a locked database.
        Checked before each statement: a table created after this engine (ingest --create) gets its
        keys only then."""
        if not self.profile.is_s3 or vended.generation() == self.vended_generation:
            return
        generation, found = vended.current(self.profile.get("s3.endpoint"))
        for v in found:
            name = "lake_vended_" + hashlib.sha1(v.prefix.encode()).hexdigest()[:16]
            self._create_s3_secret(name, credentials(self.profile, v.prefix), scope=v.prefix)
        self.vended_generation = generation

    def lock_down(self, allowed: Iterable[str]) -> None:
        """No file or URL outside `allowed`, no extension installs, no configuration changes."""
        dirs = []
        for location in allowed:
            if is_s3(location):
                dirs.append(location.rstrip("/") + "/")
            else:
                dirs.append(str(local_path(location)).rstrip("/") + "/")
        if dirs:
            self.con.execute(f"SET allowed_directories = [{', '.join(quote_literal(d) for d in dirs)}]")
        self.con.execute("SET enable_external_access = false")
        self.con.execute("SET lock_configuration = true")

    def columns(self, sql: str) -> list[tuple[str, str]]:
        """Names and DuckDB types of a query's result, in order. Binds only; runs nothing. (DESCRIBE's
        rows may come back out of order past 2,048 columns, since insertion order is not preserved.)"""
        self._sync_vended()
        relation = self.con.sql(sql)
        return list(zip(relation.columns, (str(t) for t in relation.types), strict=True))

    def arrow(self, sql: str) -> pa.Table:
        """Run a query and return its whole result (for small results: plans, checks, samples)."""
        self._sync_vended()
        return self.con.execute(sql).fetch_arrow_table()

    def reader(self, sql: str, batch_size: int = 1_000_000) -> pa.RecordBatchReader:
        """Run a query and stream its result in record batches, with bounded memory."""
        self._sync_vended()
        return self.con.execute(sql).fetch_record_batch(batch_size)

    def schema(self, sql: str) -> pa.Schema:
        """The Arrow schema of a query's result; reads no rows."""
        self._sync_vended()
        return self.con.execute(f"SELECT * FROM ({sql}) AS lake_schema LIMIT 0").fetch_arrow_table().schema

    def one(self, sql: str) -> tuple[Any, ...] | None:
        """The first row of a query's result, or None."""
        self._sync_vended()
        return self.con.execute(sql).fetchone()

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Every row of a query's result as tuples (for small results)."""
        self._sync_vended()
        return self.con.execute(sql).fetchall()

    def value(self, sql: str) -> Any:
        """The single value of a one-row, one-column query."""
        self._sync_vended()
        row = self.con.execute(sql).fetchone()
        return None if row is None else row[0]

    def execute(self, sql: str) -> None:
        """Run a statement whose result nobody reads (DDL, COPY without RETURN_STATS)."""
        self._sync_vended()
        self.con.execute(sql)

    @contextmanager
    def temp_table(self, name: str, sql: str) -> Iterator[str]:
        """A temporary table holding a query's result, dropped on exit."""
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")
        try:
            yield name
        finally:
            self.con.execute(f"DROP TABLE IF EXISTS {name}")

    def setting(self, name: str) -> str:
        return str(self.value(f"SELECT current_setting({quote_literal(name)})"))

    @contextmanager
    def settings(self, **values: str | int | bool) -> Iterator[None]:
        """Change settings for a block and restore them after, so one operation's tuning (compaction's
        memory bound, a single writer thread) never leaks into the next one on this connection."""
        before = {name: self.setting(name) for name in values}
        try:
            self.set(**values)
            yield
        finally:
            self.set(**before)

    def set(self, **values: str | int | bool) -> None:
        for name, value in values.items():
            if isinstance(value, bool):
                literal = "true" if value else "false"
            elif isinstance(value, int):
                literal = str(value)
            else:
                literal = quote_literal(value)
            self.con.execute(f"SET {name} = {literal}")

    def register_function(self, name: str, fn: Callable[..., Any], params: list[str], returns: str) -> None:
        self.con.create_function(name, fn, params, returns, type="arrow")  # type: ignore[call-overload]

    def run_with_progress(
        self, sql: str, on_progress: Callable[[float], None] | None = None
    ) -> list[tuple[Any, ...]]:
        """Execute and return every row, reporting DuckDB's own progress (0..100, never going back) from
        a watcher thread. DuckDB tracks progress only with `enable_progress_bar` on (its own printing
        stays off), so without it the bar sat at 0% through a whole ingest."""
        self._sync_vended()
        if on_progress is None:
            return self.con.execute(sql).fetchall()
        done = threading.Event()
        reached = [0.0]

        def report(value: float) -> None:
            if value > reached[0]:
                reached[0] = value
                on_progress(value)

        def watch() -> None:
            while not done.wait(0.1):
                try:
                    value = self.con.query_progress()
                except Exception:  # the connection may be between statements
                    continue
                if value >= 0:
                    report(min(float(value), 99.9))  # 100 only once the statement returned

        tracking = ExitStack()
        with suppress(Exception):  # a locked configuration: run without DuckDB's progress
            tracking.enter_context(self.settings(enable_progress_bar=True, enable_progress_bar_print=False))
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            rows = self.con.execute(sql).fetchall()
            done.set()
            watcher.join(timeout=1)
            report(100.0)
            return rows
        finally:
            done.set()
            watcher.join(timeout=1)
            tracking.close()

    def cursor(self) -> Engine:
        """A second handle on the same database: same extensions, secret and (locked) settings, no reload."""
        self._sync_vended()
        handle = Engine.__new__(Engine)
        handle.profile = self.profile
        handle.vended_generation = self.vended_generation
        handle.con = self.con.cursor()
        interrupts.register(handle.con)
        return handle

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# Hint lines DuckDB puts under its message, kept on the one line lake prints.
_HINTS = ("Candidate bindings:", "Did you mean")


def short_error(exc: BaseException) -> str:
    """DuckDB errors are multi-line with hints; keep the first meaningful line and its hints (the
    `LINE 1: ... ^` context would show the rewritten SQL, not the user's)."""
    text = str(exc).strip()
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith(("LINE ", "^"))]
    if not lines:
        return text or type(exc).__name__
    hints = [line for line in lines[1:] if line.startswith(_HINTS)]
    return " ".join([lines[0], *hints])


def elapsed(start: float) -> float:
    return round(time.perf_counter() - start, 3)


def arrow_relation(table: pa.Table) -> Any:
    """A DuckDB relation over `table` on a new in-memory connection, not the lake's locked shared
    one: the relation keeps its connection alive, so it stays valid for as long as the caller holds it."""
    import duckdb

    return duckdb.connect(":memory:").from_arrow(table)
