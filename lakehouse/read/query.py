"""Rewrite `namespace.table` references in DuckDB SQL into `iceberg_scan` reads of one snapshot each.

sqlglot finds the table references (CTE names, aliases and table functions are left alone) and the
Spark/Trino `FOR TIMESTAMP AS OF` / `FOR VERSION AS OF` clauses; nothing is done with regexes.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from lakehouse.core.schemas import quote_ident, quote_literal
from lakehouse.errors import QueryError
from lakehouse.read.scan import ParquetScan
from lakehouse.table.metadata import Schema, duckdb_type


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
    # `read_parquet` over the snapshot's files, when lakehouse/read/scan.py proves it reads the same rows
    # in `columns` (names stable across every schema, so no projection is needed).
    parquet: ParquetScan | None = None
    # The query reads no column of the table, only how many rows it has (`count(*)`).
    count_only: bool = False

    @property
    def scan(self) -> str:
        """How the table is read: read_parquet, iceberg_scan, read_live (equality deletes), row_count
        (the manifests' counts, for a query that reads no column) or empty."""
        if self.snapshot_id is None:
            return "empty"
        if self.live_sql is not None:
            return "read_live"
        if self.parquet is None:
            return "iceberg_scan"
        return "row_count" if self.count_only else "read_parquet"

    def planned(self, shape: Shape) -> TableRead:
        """The fastest of the scans this read may use, for a query of this shape.

        read_parquet wins over all rows, on Hive partition columns and for top-N; iceberg_scan skips
        whole files by the manifests' column bounds, so it wins a filter on other columns; a query
        that reads no column needs only the row count, which the manifests hold exactly when there is
        no delete file (Spark's aggregate push-down to Iceberg uses the same counts). On S3 iceberg_scan
        wins every shape but the count (see ParquetScan.local)."""
        if self.parquet is None:
            return self
        if shape.column_free:
            return dataclasses.replace(self, count_only=True)
        if not self.parquet.local:
            return dataclasses.replace(self, parquet=None)
        names = {n.lower() for n, _ in self.columns}
        if (shape.filtered & names) - set(self.parquet.hive):
            return dataclasses.replace(self, parquet=None)
        return self

    def scan_sql(self) -> str:
        if self.snapshot_id is None:
            cols = ", ".join(f"CAST(NULL AS {t}) AS {quote_ident(n)}" for n, t in self.columns)
            return f"(SELECT {cols} LIMIT 0)"
        if self.live_sql is not None:
            return f"({self.live_sql})"
        if self.parquet is not None:
            if self.count_only:
                return f"(SELECT NULL AS lake_row FROM range({self.parquet.rows}))"
            return self.parquet.sql
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
            out.append(f"CAST(NULL AS {duckdb_type(f.type)}) AS {name}")
            continue
        if isinstance(f.type, str) and f.type != old.type:  # a primitive widened
            out.append(f"CAST({quote_ident(old.name)} AS {duckdb_type(f.type)}) AS {name}")
        else:
            out.append(f"{quote_ident(old.name)} AS {name}")
    return tuple(out)


@dataclass(frozen=True)
class Shape:
    """What a query asks of its scans."""

    # No column, no join, and `*` only in count(*): only the tables' row counts matter.
    column_free: bool
    filtered: frozenset[str]  # lower-case names of the columns in WHERE clauses

    @classmethod
    def of(cls, tree: exp.Expr) -> Shape:
        columns = list(tree.find_all(exp.Column))
        stars = [s for s in tree.find_all(exp.Star) if not isinstance(s.parent, exp.Count)]
        filtered = {c.name.lower() for where in tree.find_all(exp.Where) for c in where.find_all(exp.Column)}
        joins = any(
            True for _ in tree.find_all(exp.Join)
        )  # USING and NATURAL name columns without Column nodes
        return cls(not columns and not stars and not joins, frozenset(filtered))


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
