"""Data commands: ingest and query."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from lakehouse.cli.base import Context, cli
from lakehouse.cli.candidates import complete_tables
from lakehouse.cli.options import (
    as_of_option,
    output_option,
    parse_properties,
    partition_by_option,
    pass_ctx,
    property_option,
    quiet_option,
)

if TYPE_CHECKING:
    from lakehouse.cli.output import Output


@cli.command()
@click.argument("table", shell_complete=complete_tables)
@click.argument("sources", nargs=-1, required=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "csv", "jsonl", "parquet"]),
    default="auto",
    show_default=True,
    help="Source format; auto goes by file extension.",
)
@click.option(
    "--mode",
    type=click.Choice(["append", "overwrite", "merge"]),
    default="append",
    show_default=True,
    help="merge: upsert on --key (a row whose key exists replaces it, the others are inserted).",
)
@click.option("--key", help="Key column(s) for --mode merge, comma-separated: --key id or --key day,user_id.")
@click.option(
    "--dry-run", is_flag=True, help="With --mode merge: the files it would rewrite, rows matched/inserted."
)
@click.option(
    "--create", is_flag=True, help="Create the table from the sources' schema if it does not exist."
)
@partition_by_option('Partition spec for --create, e.g. "day(ts), country".')
@click.option("--evolve", is_flag=True, help="Add source columns the table lacks (union by name).")
@property_option("Table property for --create.")
@quiet_option
@output_option()
@pass_ctx
def ingest(
    ctx: Context,
    table: str,
    sources: tuple[str, ...],
    fmt: str,
    mode: str,
    key: str | None,
    dry_run: bool,
    create: bool,
    partition_by: str | None,
    evolve: bool,
    properties: tuple[str, ...],
    quiet: bool,
    out: Output,
) -> None:
    """Load CSV, JSON Lines or Parquet files into TABLE as one snapshot.

    SOURCES are files, directories or globs, local or s3://. Directories named key=value
    (Hive partitioning) add their keys as columns.

    \b
    Examples:
      lake ingest bronze.events raw/events.jsonl --create --partition-by "day(ts)"
      lake ingest bronze.events "s3://landing/events/year=2026/*/*.parquet"
      lake ingest bronze.events new.csv --mode overwrite
      lake ingest silver.users changes.parquet --mode merge --key user_id --dry-run
    """
    with out.progress(f"ingest {table}", enabled=not quiet) as progress:
        result = ctx.lake.ingest(
            table, list(sources), format=fmt, mode=mode, create=create, partition_by=partition_by,
            evolve=evolve, properties=parse_properties(properties), on_progress=progress.callback,
            key=key, dry_run=dry_run,
        )  # fmt: skip
    out.ingested(table, result)


@cli.command()
@click.argument("sql", required=False)
@click.option(
    "--file", "sql_file", type=click.Path(exists=True, dir_okay=False), help="Read the SQL from a file."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json", "jsonl", "parquet"]),
    default=None,
    help="Output format (default: table on a terminal, csv when piped).",
)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the result to a file.")
@as_of_option(
    "Read at a snapshot id, ISO-8601 time or tag; TABLE=REF for one table (repeatable).", multiple=True
)
@click.option(
    "--pins",
    type=click.Path(exists=True, dir_okay=False),
    metavar="LOCKFILE",
    help="Read every table at the snapshot a `lake pin` lock file records.",
)
@output_option("Print rows and the snapshots read as one JSON document.")
@pass_ctx
def query(
    ctx: Context,
    sql: str | None,
    sql_file: str | None,
    fmt: str | None,
    output: str | None,
    as_of: tuple[str, ...],
    pins: str | None,
    out: Output,
) -> None:
    """Run read-only DuckDB SQL; `namespace.table` names read lake tables. SELECT (FROM-first too),
    DESCRIBE, SUMMARIZE, PIVOT/UNPIVOT, EXPLAIN and SHOW TABLES run.

    Spark/Trino time travel works inside SQL: `FROM t FOR TIMESTAMP AS OF '2026-01-15'`,
    `FOR VERSION AS OF 8744736658442914487` or `FOR VERSION AS OF 'v1'`.

    \b
    Examples:
      lake query "SELECT country, sum(amount) FROM silver.events GROUP BY 1 ORDER BY 2 DESC"
      lake query --file report.sql --format parquet -o report.parquet
      lake query "SUMMARIZE silver.events"
      lake query "SELECT count(*) FROM silver.events" --as-of 2026-01-15T00:00:00Z
      lake query "SELECT * FROM gold.training_set" --pins training.lock -o train.parquet
    """
    from lakehouse.errors import LakehouseError

    if (sql is None) == (sql_file is None):
        raise click.UsageError("give the SQL as an argument or with --file, not both")
    from lakehouse.core.textfiles import read_text_file

    text = read_text_file(sql_file, "SQL file") if sql_file else (sql or "")
    result = ctx.lake.query_reader(text, list(as_of) or None, pins=pins)
    try:
        out.query_result(result, fmt, output)
    except (LakehouseError, click.UsageError):
        raise
    except Exception as exc:
        from lakehouse.errors import QueryError
        from lakehouse.io.engine import short_error

        raise QueryError(short_error(exc)) from None
    finally:
        result.close()
