"""Rewrite `namespace.table` references in DuckDB SQL into `iceberg_scan` reads of one snapshot each.

sqlglot finds the table references (CTE names, aliases and table functions are left alone) and the
Spark/Trino `FOR TIMESTAMP AS OF` / `FOR VERSION AS OF` clauses; nothing is done with regexes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlglot
from pyiceberg.schema import Schema
from pyiceberg.types import PrimitiveType
from sqlglot import exp
from sqlglot.errors import ParseError

from lakehouse.core.schemas import duckdb_type, quote_ident, quote_literal
from lakehouse.errors import QueryError


@dataclass(frozen=True)
class TableRead:
    """One table as a query reads it: the metadata file and the snapshot pinned for this query."""

    identifier: str
    metadata_location: str
    snapshot_id: int | None
    columns: list[tuple[str, str]]  # (name, DuckDB type), for reading an empty table
    # Select list mapping the snapshot's columns to the table's current ones, by field id, when a
    # schema change (a rename, an added or dropped column) came after the snapshot being read.
    projection: tuple[str, ...] = ()
    # False when DuckDB's partition pruning would drop matching rows (lakehouse/read/pruning.py).
    pushdown: bool = True
    # The snapshot's live rows as `lakehouse.io.fieldids.read_live` reads them, when iceberg_scan cannot
    # (DuckDB 1.5.5 drops every row with a NULL in an equality-delete column): already in `columns`.
    live_sql: str | None = None

    def scan_sql(self) -> str:
        if self.snapshot_id is None:
            cols = ", ".join(f"CAST(NULL AS {t}) AS {quote_ident(n)}" for n, t in self.columns)
            return f"(SELECT {cols} LIMIT 0)"
        if self.live_sql is not None:
            return f"({self.live_sql})"
        scan = f"iceberg_scan({quote_literal(self.metadata_location)}, snapshot_from_id = {int(self.snapshot_id)})"
        if not self.pushdown:  # OFFSET 0 keeps DuckDB from pushing filters into the scan's pruning
            return f"(SELECT {', '.join(self.projection) or '*'} FROM {scan} OFFSET 0)"
        return f"(SELECT {', '.join(self.projection)} FROM {scan})" if self.projection else scan


def current_projection(current: Schema, written: Schema) -> tuple[str, ...]:
    """Read a snapshot written with `written` as the table's `current` schema: columns matched by field
    id (a rename shows the new name), added columns NULL, dropped ones gone, primitives widened."""
    if current.schema_id == written.schema_id:
        return ()
    out = []
    for f in current.fields:
        name = quote_ident(f.name)
        try:
            old = written.find_field(f.field_id)
        except ValueError:
            out.append(f"CAST(NULL AS {duckdb_type(f.field_type)}) AS {name}")
            continue
        if isinstance(f.field_type, PrimitiveType) and f.field_type != old.field_type:
            out.append(f"CAST({quote_ident(old.name)} AS {duckdb_type(f.field_type)}) AS {name}")
        else:
            out.append(f"{quote_ident(old.name)} AS {name}")
    return tuple(out)


# The resolver maps (identifier, as-of reference or None) to a TableRead.
Resolver = Callable[[str, str | None], TableRead]
_READ_ONLY = (exp.Query, exp.Describe)
# Table functions user SQL may call: they read no file, setting or secret. Every other one (read_*,
# glob, query(), duckdb_secrets(), iceberg_scan of a path...) is refused before DuckDB sees the SQL, so
# path tricks such as `s3://bucket/warehouse/../../other/` never reach DuckDB's own path checks.
_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
# Scalar functions that read files, settings, secrets or the environment.
_DENIED_FUNCTIONS = frozenset(
    {"current_setting", "getenv", "which_secret", "read_text", "read_blob", "glob", "query", "query_table"}
)
_DENIED_PREFIXES = ("read_", "parquet_", "duckdb_", "iceberg_", "delta_", "sniff_", "pragma_")


def _function_name(node: exp.Expr) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    return type(node).__name__.lower()


def check_reads(tree: exp.Expr) -> None:
    """Refuse anything but lake tables, CTEs and harmless table functions as a source of rows, and
    every function that reads a file, a setting, a secret or the environment."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        source = table.this
        if isinstance(source, exp.Identifier):
            if not table.db and source.name.lower() not in ctes:
                raise QueryError(
                    f"{source.name!r} is not a lake table: name tables as namespace.table (see `lake tables`)"
                )
            continue
        name = _function_name(source)
        if name not in _TABLE_FUNCTIONS:
            raise QueryError(
                f"{name}() is not allowed in lake query: read lake tables by name (namespace.table); "
                "lake reads files only through its tables"
            )
    for func in tree.find_all(exp.Func):
        name = _function_name(func)
        if name in _DENIED_FUNCTIONS or name.startswith(_DENIED_PREFIXES):
            raise QueryError(f"{name}() is not allowed in lake query: it reads files, settings or secrets")


def parse_single(sql: str) -> exp.Expr:
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except ParseError as exc:
        raise QueryError(f"cannot parse SQL: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1:
        raise QueryError(f"expected one SQL statement, got {len(statements)}")
    return statements[0]


def version_ref(table: exp.Table) -> str | None:
    """`FOR TIMESTAMP AS OF '...'` / `FOR VERSION AS OF n|'tag'` -> the reference text."""
    version = table.args.get("version")
    if version is None:
        return None
    value = version.expression
    if not isinstance(value, exp.Literal):
        raise QueryError(f"AS OF for {table.sql('duckdb')} must be a literal")
    text = str(value.this)
    kind = str(version.this).upper()
    if kind == "TIMESTAMP" and text.strip().lstrip("-").isdigit():
        raise QueryError(
            f"FOR TIMESTAMP AS OF needs a time, not {text!r}; use FOR VERSION AS OF for snapshot ids"
        )
    return text


def lake_tables(tree: exp.Expr) -> list[exp.Table]:
    """Table nodes naming `namespace.table` that are not CTEs or table functions."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    found = []
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier) or not table.db or table.catalog:
            continue
        if not table.db and table.name.lower() in ctes:
            continue
        found.append(table)
    return found


def rewrite(sql: str, resolve: Resolver) -> tuple[str, list[TableRead]]:
    """Return DuckDB SQL reading pinned snapshots, and the reads it makes (for reporting and pinning).

    `resolve(identifier, ref)` gets the reference the SQL names (`FOR TIMESTAMP AS OF ...`) or None,
    once per distinct pair."""
    tree = parse_single(sql)
    if not isinstance(tree, _READ_ONLY):
        raise QueryError(
            "lake query is read-only: use SELECT (or WITH ... SELECT); write with lake ingest or lake run"
        )
    check_reads(tree)
    reads: dict[tuple[str, str | None], TableRead] = {}
    for table in lake_tables(tree):
        identifier = f"{table.db}.{table.name}"
        ref = version_ref(table)
        key = (identifier, ref)  # exact: `s.t` and a legacy `s.T` are different tables
        if key not in reads:
            reads[key] = resolve(identifier, ref)
        read = reads[key]
        alias = table.alias or table.name
        replacement = sqlglot.parse_one(
            f"SELECT * FROM {read.scan_sql()} AS {quote_ident(alias)}", read="duckdb"
        )
        new_table = (
            replacement.args["from_"].this if "from_" in replacement.args else replacement.args["from"].this
        )
        table.replace(new_table)
    return tree.sql(dialect="duckdb"), list(reads.values())
