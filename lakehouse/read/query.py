"""Rewrite `namespace.table` references in DuckDB SQL into `iceberg_scan` reads of one snapshot each.

sqlglot finds the table references (CTE names, aliases and table functions are left alone) and the
Spark/Trino `FOR TIMESTAMP AS OF` / `FOR VERSION AS OF` clauses; nothing is done with regexes.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from lakehouse.errors import QueryError
from lakehouse.read.tableread import Shape, TableRead

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
    # Each table becomes a placeholder name, replaced by its scan's SQL text after printing: a scan over
    # thousands of files is never parsed by sqlglot.
    token = secrets.token_hex(6)
    shape = Shape.of(tree)
    scans: dict[str, str] = {}
    for table in lake_tables(tree):
        identifier = f"{table.db}.{table.name}"
        ref = version_ref(table)
        key = (identifier, ref)  # exact: `s.t` and a legacy `s.T` are different tables
        if key not in reads:
            reads[key] = resolve(identifier, ref).planned(shape)
        placeholder = f"lake_scan_{token}_{list(reads).index(key)}"
        scans[placeholder] = reads[key].scan_sql()
        table.replace(
            exp.Table(
                this=exp.to_identifier(placeholder),
                alias=exp.TableAlias(this=exp.to_identifier(table.alias or table.name, quoted=True)),
            )
        )
    text = tree.sql(dialect="duckdb")
    for placeholder, scan in scans.items():
        text = text.replace(placeholder, scan)
    return text, list(reads.values())
