"""Table commands: create, tables, describe, files, drop."""

from __future__ import annotations

import click

from lakehouse.cli.base import Context, cli
from lakehouse.cli.output import emit_json, human_bytes, json_option, print_table

pass_ctx = click.make_pass_decorator(Context)


def parse_properties(items: tuple[str, ...]) -> dict[str, str]:
    props = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not key=value", param_hint="--property")
        props[key.strip()] = value.strip()
    return props


@cli.command()
@click.argument("table")
@click.option("--schema", help='Columns, e.g. "id long not null, ts timestamptz, country string".')
@click.option("--like", "like", metavar="FILE", help="Take the schema from a CSV/JSONL/Parquet file.")
@click.option("--partition-by", help='Partition spec, e.g. "day(ts), country, bucket(16, user_id)".')
@click.option("--property", "properties", multiple=True, metavar="K=V", help="Table property (repeatable).")
@json_option
@pass_ctx
def create(
    ctx: Context,
    table: str,
    schema: str | None,
    like: str | None,
    partition_by: str | None,
    properties: tuple[str, ...],
    as_json: bool,
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
    info = ctx.lake.describe(table)
    if as_json:
        emit_json(info)
    else:
        click.echo(f"created {table} at {created.location()}")


@cli.command("tables")
@click.argument("namespace", required=False)
@json_option
@pass_ctx
def list_tables(ctx: Context, namespace: str | None, as_json: bool) -> None:
    """List tables, in all namespaces or in NAMESPACE.

    \b
    Example:
      lake tables silver
    """
    names = ctx.lake.tables(namespace)
    if as_json:
        emit_json(names)
    else:
        for name in names:
            click.echo(name)


@cli.command()
@click.argument("table")
@click.option(
    "--as-of", help="Snapshot id, ISO-8601 time or tag to describe instead of the current snapshot."
)
@json_option
@pass_ctx
def describe(ctx: Context, table: str, as_of: str | None, as_json: bool) -> None:
    """Schema, partition spec, properties, snapshot and data files of a table.

    \b
    Examples:
      lake describe silver.events
      lake describe silver.events --as-of 2026-01-15 --json
    """
    info = ctx.lake.describe(table, as_of)
    if as_json:
        emit_json(info)
        return
    click.echo(f"table       {info['table']}")
    click.echo(f"location    {info['location']}")
    click.echo(f"partitions  {', '.join(info['partition_spec']) or '(unpartitioned)'}")
    snap = info["snapshot"]
    if snap:
        click.echo(f"snapshot    {snap['snapshot_id']} ({snap['operation']}, {snap['committed_at']})")
    else:
        click.echo("snapshot    (none: the table is empty)")
    click.echo(
        f"data        {info['data_files']} files, {human_bytes(info['data_bytes'])}, {info['rows']} rows"
        + ("" if info["rows_exact"] else " at most (equality deletes not applied)")
    )
    if info["delete_files"]:
        deleted = f"{'' if info['rows_exact'] else 'at least '}{info['data_rows'] - info['rows']}"
        click.echo(
            f"deletes     {info['delete_files']} delete files, {human_bytes(info['delete_bytes'])}, {deleted} rows deleted"
        )
    print_table(
        [
            {
                "id": c["id"],
                "column": c["name"],
                "type": c["type"],
                "required": "not null" if c["required"] else "",
            }
            for c in info["schema"]
        ],
        title="schema",
    )
    if info["properties"]:
        print_table(
            [{"property": k, "value": v} for k, v in sorted(info["properties"].items())], title="properties"
        )


@cli.command()
@click.argument("table")
@click.option("--as-of", help="Snapshot id, ISO-8601 time or tag.")
@json_option
@pass_ctx
def files(ctx: Context, table: str, as_of: str | None, as_json: bool) -> None:
    """Data files of a table: path, partition, rows and bytes on disk.

    \b
    Example:
      lake files silver.events --json | jq '.[].bytes'
    """
    rows = ctx.lake.files(table, as_of)
    if as_json:
        emit_json(rows)
    else:
        print_table(
            [{**r, "bytes": human_bytes(r["bytes"])} for r in rows],
            ["path", "content", "partition", "rows", "bytes"],
        )


@cli.command()
@click.argument("table")
@click.option("--purge", is_flag=True,
              help="Also delete the data and metadata files the table reaches under its own location.")  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Say what would be dropped; change nothing.")
@json_option
@pass_ctx
def drop(ctx: Context, table: str, purge: bool, dry_run: bool, as_json: bool) -> None:
    """Drop a table from the catalog (files stay unless --purge).

    --purge never deletes a file outside the table's location (one another table owns, added with
    add_files) nor one another catalog entry at the same location reaches: those are listed as kept.

    \b
    Example:
      lake drop scratch.tmp --purge --dry-run
      lake drop scratch.tmp --purge
    """
    result = ctx.lake.drop(table, purge, dry_run=dry_run)
    if dry_run:
        info = ctx.lake.describe(table)
        result.update(data_files=info["data_files"], data_bytes=info["data_bytes"])
    if as_json:
        emit_json(result)
        return
    verb = "would drop" if dry_run else "dropped"
    if not purge:
        click.echo(f"{verb} {table}")
        return
    deleted = result["files"] if dry_run else result["deleted_files"]
    click.echo(f"{verb} {table} and {'would delete' if dry_run else 'deleted'} {deleted} of its files")
    kept = [*result["kept_outside_location"], *result["kept_shared"]]
    if kept:
        click.echo(
            f"kept {len(kept)} files it references that are outside {result['location']} or another table uses:"
        )
        for path in kept:
            click.echo(f"  {path}")
