"""Table commands: create, tables, describe, files, drop."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from lakehouse.cli.base import Context, cli
from lakehouse.cli.candidates import complete_tables
from lakehouse.cli.options import (
    as_of_option,
    dry_run_option,
    output_option,
    parse_properties,
    partition_by_option,
    pass_ctx,
    property_option,
    yes_option,
)

if TYPE_CHECKING:
    from lakehouse.cli.output import Output


@cli.command()
@click.argument("table", shell_complete=complete_tables)
@click.option("--schema", help='Columns, e.g. "id long not null, ts timestamptz, country string".')
@click.option("--like", "like", metavar="FILE", help="Take the schema from a CSV/JSONL/Parquet file.")
@partition_by_option('Partition spec, e.g. "day(ts), country, bucket(16, user_id)".')
@property_option("Table property (repeatable).")
@output_option()
@pass_ctx
def create(
    ctx: Context,
    table: str,
    schema: str | None,
    like: str | None,
    partition_by: str | None,
    properties: tuple[str, ...],
    out: Output,
) -> None:
    """Create an Iceberg table; its namespace is created on demand.

    Transforms: identity (a bare column), year, month, day, hour, bucket(N, col), truncate(W, col).

    \b
    Examples:
      lake create bronze.events --schema "id long not null, ts timestamptz, country string, amount double" \\
          --partition-by "day(ts), country"
      lake create bronze.users --like users.parquet --partition-by "bucket(16, user_id)"
    """
    created = ctx.lake.create(
        table, schema, like=like, partition_by=partition_by, properties=parse_properties(properties)
    )
    out.created(table, created.location(), ctx.lake.describe(table))


@cli.command("tables")
@click.argument("namespace", required=False)
@output_option()
@pass_ctx
def list_tables(ctx: Context, namespace: str | None, out: Output) -> None:
    """List tables, in all namespaces or in NAMESPACE.

    \b
    Example:
      lake tables silver
    """
    out.table_names(ctx.lake.tables(namespace))


@cli.command()
@click.argument("table", shell_complete=complete_tables)
@as_of_option("Snapshot id, ISO-8601 time or tag to describe instead of the current snapshot.")
@output_option()
@pass_ctx
def describe(ctx: Context, table: str, as_of: str | None, out: Output) -> None:
    """Schema, partition spec, properties, snapshot and data files of a table.

    \b
    Examples:
      lake describe silver.events
      lake describe silver.events --as-of 2026-01-15 --json
    """
    out.described(ctx.lake.describe(table, as_of))


@cli.command()
@click.argument("table", shell_complete=complete_tables)
@as_of_option("Snapshot id, ISO-8601 time or tag.")
@output_option()
@pass_ctx
def files(ctx: Context, table: str, as_of: str | None, out: Output) -> None:
    """Data files of a table: path, partition, rows and bytes on disk.

    \b
    Example:
      lake files silver.events --json | jq '.[].bytes'
    """
    out.files(ctx.lake.files(table, as_of))


@cli.command()
@click.argument("table", shell_complete=complete_tables)
@click.option("--purge", is_flag=True,
              help="Also delete the data and metadata files the table reaches under its own location.")  # fmt: skip
@yes_option
@dry_run_option(help="Say what would be dropped; change nothing.")
@output_option()
@pass_ctx
def drop(ctx: Context, table: str, purge: bool, yes: bool, dry_run: bool, out: Output) -> None:
    """Drop a table from the catalog (files stay unless --purge).

    --purge never deletes a file outside the table's location (one another table owns, added with
    add_files) nor one another catalog entry at the same location reaches: those are listed as kept.
    --purge shows what it would delete and asks first; --yes skips the question, and without a
    terminal nothing changes unless --yes is given. Tags and branches (pins made with --tag) are
    named in a warning: dropping loses the snapshots they keep.

    \b
    Example:
      lake drop scratch.tmp --purge --dry-run
      lake drop scratch.tmp --purge --yes
    """
    import sys

    from lakehouse.errors import LakehouseError

    if purge and not dry_run and not yes and not sys.stdin.isatty():
        raise LakehouseError(
            f"not a terminal: pass --yes to drop {table} and delete its files (or --dry-run to preview)"
        )

    asked: list[bool] = []

    def ask(preview: dict[str, Any]) -> bool:
        out.dropped(table, preview, purge, True)  # with its warnings: they are read before answering
        asked.append(True)
        return click.confirm(f"Drop {table} and delete these files?", abort=True, err=True)

    confirm = ask if purge and not yes else None
    result = ctx.lake.drop(table, purge, dry_run=dry_run, confirm=confirm)
    if asked:
        result = {**result, "warnings": []}  # shown with the question already
    if dry_run:
        info = ctx.lake.describe(table)
        result.update(data_files=info["data_files"], data_bytes=info["data_bytes"])
    out.dropped(table, result, purge, dry_run)
