"""Read pyiceberg's SQL catalog (SQLite or PostgreSQL) with `sqlite3` / `psycopg2` directly.

Listing tables and finding a table's metadata location are single-row reads; through pyiceberg they
cost about 0.4 s of imports (SQLAlchemy, pydantic) before the first row. Every write, and every other
catalog type (REST, Glue, Hive), still goes through pyiceberg (`lakehouse.table.catalog.open_catalog`).

The rows are pyiceberg 0.12's (pyiceberg/catalog/sql.py): `iceberg_tables(catalog_name, table_namespace,
table_name, metadata_location, previous_metadata_location[, iceberg_type])` and
`iceberg_namespace_properties(catalog_name, namespace, ...)`, where `catalog_name` is the profile's name.
With the v1 schema (an `iceberg_type` column) only rows typed TABLE or untyped are tables, not views.
The queries below are pyiceberg's, so SQLite's case-insensitive LIKE and case-sensitive `=` apply alike.
"""

from __future__ import annotations

import difflib
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lakehouse.core.config import Profile, mask_secrets, redact_uri
from lakehouse.errors import ConfigError, LakehouseError, NoSuchTableError
from lakehouse.table.catalog import catalog_properties, check_namespace, split_identifier

_TABLE_ROWS = "(iceberg_type = 'TABLE' OR iceberg_type IS NULL)"  # pyiceberg's _iceberg_type_filter


def is_light(profile: Profile) -> bool:
    """Whether lake reads this profile's catalog itself: SQL catalogs on a SQLite file or PostgreSQL
    (through psycopg2, SQLAlchemy's default driver); REST, Glue and Hive keep pyiceberg."""
    try:
        return _target(profile) is not None
    except LakehouseError:
        return False  # pyiceberg's path reports the bad profile


def list_tables(profile: Profile, namespace: str | None = None) -> list[str]:
    """`namespace.table` names, sorted, as `lakehouse.table.tables.list_tables` lists them through
    pyiceberg: every table of a top-level namespace, or of `namespace` (which must exist)."""
    if namespace is not None:
        check_namespace(namespace)
    with _Catalog.open(profile) as catalog:
        return catalog.tables(namespace)


def metadata_location(profile: Profile, identifier: str) -> str:
    """The current metadata file of `identifier`, matched exactly or else case-insensitively (one match
    only), as `lakehouse.table.tables.load_table` matches it; `NoSuchTableError` with its message else."""
    split_identifier(identifier)
    with _Catalog.open(profile) as catalog:
        found = catalog.location(identifier)
        if found is None:
            found = catalog.location(match_table(identifier, catalog.tables(None)))
    if not found:
        raise NoSuchTableError(f"table {identifier} has no metadata location in the catalog")
    return found


def match_table(identifier: str, known: Iterable[str]) -> str:
    """The one name in `known` that equals `identifier` ignoring case (table names are case-insensitive
    in lake); else the `NoSuchTableError` a user sees, with close names as hints."""
    known = sorted(known)
    matches = [t for t in known if t.lower() == identifier.lower()]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise NoSuchTableError(
            f"table {identifier} is ambiguous: {', '.join(matches)} differ only in case; name one exactly"
        )
    close = difflib.get_close_matches(identifier, known, n=3, cutoff=0.6)
    hint = (
        f"; did you mean {', '.join(close)}?"
        if close
        else (f"; tables: {', '.join(known[:8])}" if known else "")
    )
    raise NoSuchTableError(f"table {identifier} does not exist{hint}")


# ---------------------------------------------------------------- connections


def _target(profile: Profile) -> tuple[str, str] | None:
    """("sqlite", file path) or ("postgres", libpq URI) for a SQL catalog lake can read itself."""
    props = catalog_properties(profile)  # `postgres` profiles become pyiceberg's SQL catalog here
    uri = props.get("uri", "")
    if props.get("type", "sql") != "sql":
        return None
    if uri.startswith("sqlite:///"):
        path = uri[len("sqlite:///") :]  # SQLAlchemy's form: relative, or absolute after a fourth slash
        return ("sqlite", path) if path not in ("", ":memory:") and "?" not in path else None
    for prefix in ("postgresql+psycopg2://", "postgresql://"):
        if uri.startswith(prefix):
            return "postgres", "postgresql://" + uri[len(prefix) :]
    return None


def _error(profile: Profile, verb: str, exc: Exception) -> ConfigError:
    """One line naming the profile and the driver's error, with no URI password or credential."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return ConfigError(
        f"cannot {verb} catalog of profile {profile.name!r} ({type(exc).__name__}): "
        f"{mask_secrets(redact_uri(message), profile.secrets())}"
    )


class _Catalog:
    """One read-only connection to the catalog database; `tables is None` when it has no catalog tables
    yet (pyiceberg would create them empty)."""

    def __init__(self, profile: Profile, con: Any, marker: str) -> None:
        self.profile = profile
        self.name = profile.name
        self.con = con
        self.marker = marker  # the driver's parameter marker
        self.filter: str | None = None  # the table-row filter, "" on a v0 schema; None: no catalog
        for probe, found in ((f"SELECT iceberg_type FROM iceberg_tables WHERE {_TABLE_ROWS} AND 1 = 0",
                              f" AND {_TABLE_ROWS}"), ("SELECT 1 FROM iceberg_tables WHERE 1 = 0", "")):  # fmt: skip
            if self._try(probe):
                self.filter = found
                break

    @classmethod
    @contextmanager
    def open(cls, profile: Profile) -> Iterator[_Catalog]:
        target = _target(profile)
        if target is None:
            raise ConfigError(f"profile {profile.name!r}: lake cannot read this catalog without pyiceberg")
        kind, where = target
        try:
            if kind == "sqlite":
                if not Path(where).is_file():
                    con: Any = None  # no catalog file yet: no tables
                else:
                    con = sqlite3.connect(f"{Path(where).resolve().as_uri()}?mode=ro", uri=True)
            else:
                import psycopg2

                con = psycopg2.connect(where)
                con.set_session(readonly=True)
        except Exception as exc:  # the drivers raise many kinds; one line, never the URI
            raise _error(profile, "open", exc) from None
        try:
            yield cls(profile, con, "?" if kind == "sqlite" else "%s")
        finally:
            if con is not None:
                con.close()

    def _try(self, sql: str) -> bool:
        return self.con is not None and self._rows(sql, missing_ok=True) is not None

    def _rows(self, sql: str, *params: str, missing_ok: bool = False) -> list[tuple[Any, ...]] | None:
        """The rows of a query; None when `missing_ok` and it names a table or column the catalog lacks.
        Any other error (a locked or damaged file) is a ConfigError, never an empty answer."""
        cursor = self.con.cursor()
        try:
            cursor.execute(sql.replace("?", self.marker), params)
            return list(cursor.fetchall())
        except Exception as exc:
            if not (missing_ok and _is_missing(exc)):
                raise _error(self.profile, "read", exc) from None
            self.con.rollback()  # PostgreSQL refuses further statements in a failed transaction
            return None
        finally:
            cursor.close()

    def tables(self, namespace: str | None) -> list[str]:
        if self.filter is None:
            if namespace is not None:
                raise NoSuchTableError(f"namespace {namespace} does not exist")
            return []
        select = f"SELECT table_namespace, table_name FROM iceberg_tables WHERE catalog_name = ?{self.filter}"
        if namespace is None:  # pyiceberg lists top-level namespaces, then each one's tables
            rows = [r for r in self._rows(select, self.name) or [] if "." not in r[0]]
        elif self._namespace_exists(namespace):
            rows = self._rows(select + " AND table_namespace = ?", self.name, namespace) or []
        else:
            raise NoSuchTableError(f"namespace {namespace} does not exist")
        return sorted(f"{ns}.{name}" for ns, name in rows)

    def _namespace_exists(self, namespace: str) -> bool:
        """pyiceberg's `namespace_exists`: the namespace or a child of it has a table or properties."""
        children = namespace.replace("!", "!!").replace("_", "!_").replace("%", "!%") + ".%"
        for table, column in (
            ("iceberg_tables", "table_namespace"),
            ("iceberg_namespace_properties", "namespace"),
        ):
            sql = (f"SELECT 1 FROM {table} WHERE catalog_name = ? AND ({column} = ? OR {column} LIKE ? ESCAPE '!')"
                   " LIMIT 1")  # fmt: skip
            if self._rows(sql, self.name, namespace, children, missing_ok=True):
                return True
        return False

    def location(self, identifier: str) -> str | None:
        """The row's metadata location ("" when it has none); None when no table has exactly this name."""
        if self.filter is None:
            return None
        namespace, name = identifier.split(".")
        rows = self._rows(
            "SELECT metadata_location FROM iceberg_tables"
            f" WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?{self.filter}",
            self.name, namespace, name,
        )  # fmt: skip
        return (rows[0][0] or "") if rows else None


def _is_missing(exc: Exception) -> bool:
    """A missing table or column: psycopg2's SQLSTATE 42P01 / 42703, sqlite3's message."""
    return getattr(exc, "pgcode", None) in ("42P01", "42703") or str(exc).startswith(
        ("no such table", "no such column")
    )
