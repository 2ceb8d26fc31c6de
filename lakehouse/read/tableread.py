"""How a query scans one table: the snapshot, its columns and the SQL of the scan chosen for it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lakehouse.core.schemas import quote_ident, quote_literal
from lakehouse.read.scan import ParquetScan
from lakehouse.table.metadata import Schema, duckdb_type

if TYPE_CHECKING:
    from sqlglot import exp


# A filter on a column that is not a Hive folder: iceberg_scan skips whole files by the manifests'
# column bounds, read_parquet opens every footer. Measured (BENCHMARKS.md, `query`): over 1,519 files
# iceberg_scan took 0.45-0.81x read_parquet's time, over 240 files 1.2-1.9x. Below this many files
# read_parquet is kept.
MANY_FILES = 512


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
        if self.live_sql is not None:
            return "read_live"
        if self.snapshot_id is None:
            return "empty"
        if self.parquet is None:
            return "iceberg_scan"
        return "row_count" if self.count_only else "read_parquet"

    def planned(self, shape: Shape) -> TableRead:
        """The fastest of the scans this read may use, for a query of this shape.

        read_parquet wins over all rows, on Hive partition columns and for top-N; iceberg_scan skips
        whole files by the manifests' column bounds, so it wins a filter on other columns over many
        files (MANY_FILES); a query that reads no column needs only the row count, which the manifests
        hold exactly when there is no delete file (Spark's aggregate push-down to Iceberg uses the same
        counts). On S3 iceberg_scan wins every shape but the count (see ParquetScan.local)."""
        if self.parquet is None:
            return self
        if shape.column_free:
            return dataclasses.replace(self, count_only=True)
        if not self.parquet.local:
            return dataclasses.replace(self, parquet=None)
        names = {n.lower() for n, _ in self.columns}
        if (shape.filtered & names) - set(self.parquet.hive) and self.parquet.files > MANY_FILES:
            return dataclasses.replace(self, parquet=None)
        return self

    def scan_sql(self) -> str:
        if self.live_sql is not None:
            return f"({self.live_sql})"
        if self.snapshot_id is None:
            cols = ", ".join(f"CAST(NULL AS {t}) AS {quote_ident(n)}" for n, t in self.columns)
            return f"(SELECT {cols} LIMIT 0)"
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
        from sqlglot import exp  # the caller parsed the SQL: sqlglot is loaded already

        columns = list(tree.find_all(exp.Column))
        stars = [s for s in tree.find_all(exp.Star) if not isinstance(s.parent, exp.Count)]
        filtered = {c.name.lower() for where in tree.find_all(exp.Where) for c in where.find_all(exp.Column)}
        joins = any(
            True for _ in tree.find_all(exp.Join)
        )  # USING and NATURAL name columns without Column nodes
        return cls(not columns and not stars and not joins, frozenset(filtered))
