"""History commands: snapshots, tag, tags, rollback, pin."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from lakehouse.cli.base import Context, cli
from lakehouse.cli.candidates import complete_tables
from lakehouse.cli.options import AS_OF_HELP, as_of_option, dry_run_option, output_option, pass_ctx

if TYPE_CHECKING:
    from lakehouse.cli.output import Output


@cli.command()
@click.argument("table", shell_complete=complete_tables)
@output_option()
@pass_ctx
def snapshots(ctx: Context, table: str, out: Output) -> None:
    """Every snapshot of TABLE, oldest first: id, parent, commit time (UTC), operation,
    added/deleted rows and files, total rows, and the tags and branches pointing at it.

    \b
    Examples:
      lake snapshots silver.events
      lake snapshots silver.events --json | jq -r '.[-1].snapshot_id'
    """
    out.snapshots(table, ctx.lake.snapshots(table))


@cli.command()
@click.argument("table", shell_complete=complete_tables)
@click.argument("name")
@as_of_option("Snapshot to tag (default: the current one). " + AS_OF_HELP)
@click.option(
    "--retain",
    "retain_days",
    type=float,
    metavar="DAYS",
    help="Keep the tag DAYS after the snapshot's commit; then `lake expire` removes it (default: forever).",
)
@click.option("--branch", is_flag=True, help="Create a branch instead of a tag.")
@click.option("--delete", is_flag=True, help="Remove the tag (or branch) NAME; its snapshot stays.")
@output_option()
@pass_ctx
def tag(
    ctx: Context,
    table: str,
    name: str,
    as_of: str | None,
    retain_days: float | None,
    branch: bool,
    delete: bool,
    out: Output,
) -> None:
    """Name a snapshot of TABLE. A tag keeps its snapshot safe from snapshot expiry for as long as
    the tag lives; read it with `--as-of NAME` or `FOR VERSION AS OF 'NAME'`.

    Tag names start with a letter or _, so they never read as snapshot ids or times.

    \b
    Examples:
      lake tag gold.training v1
      lake tag gold.training before-backfill --as-of 2026-01-15 --retain 90
      lake tag gold.training v1 --delete
    """
    if delete and (as_of or retain_days or branch):
        raise click.UsageError("--delete takes no --as-of, --retain or --branch")
    row = ctx.lake.tag(table, name, as_of, retain_days=retain_days, branch=branch, delete=delete)
    out.tagged(table, name, row, delete)


@cli.command()
@click.argument("table", shell_complete=complete_tables)
@output_option()
@pass_ctx
def tags(ctx: Context, table: str, out: Output) -> None:
    """Tags and branches of TABLE, with the snapshot each points at.

    \b
    Example:
      lake tags gold.training
    """
    out.tags(table, ctx.lake.tags(table))


@cli.command()
@click.argument("table", shell_complete=complete_tables)
@click.option("--to", "to", required=True, metavar="REF", help="Snapshot to return to. " + AS_OF_HELP)
@dry_run_option
@output_option()
@pass_ctx
def rollback(ctx: Context, table: str, to: str, dry_run: bool, out: Output) -> None:
    """Make an earlier snapshot's data current again, as a new commit that deletes nothing.

    lake does not move `main` backwards (as Iceberg's own rollback does, which orphans every later
    snapshot). It commits one new `overwrite` snapshot on top of the current one whose live data
    files are exactly those of the target: files added since are unlinked from the new snapshot,
    files removed since are linked again. No file and no snapshot is deleted, every later snapshot
    stays in `lake snapshots` and readable with --as-of, and rolling forward is another rollback.
    The new snapshot's summary records `lake.rollback-to`.

    \b
    Examples:
      lake rollback silver.events --to 8744736658442914487 --dry-run
      lake rollback silver.events --to before-backfill
      lake rollback silver.events --to 2026-01-15T00:00:00Z --json
    """
    lake = ctx.lake
    plan = lake.plan_rollback(table, to)
    if dry_run:
        result = {**plan.to_dict(), "dry_run": True, "snapshot_id": None}
    else:
        result = {**lake.rollback(table, plan), "dry_run": False}
    out.rolled_back(table, plan, result, dry_run)


@cli.command()
@click.argument("tables", nargs=-1, shell_complete=complete_tables)
@as_of_option(
    "Pin this snapshot instead of the current one; TABLE=REF for one table (repeatable). " + AS_OF_HELP,
    multiple=True,
)
@click.option("--tag", help="Also tag each pinned snapshot NAME, so snapshot expiry never removes it.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Lock file to write.")
@click.option(
    "--verify", "verify", type=click.Path(dir_okay=False), metavar="FILE",
    help="Check FILE instead: every pinned snapshot exists, matches its fingerprint and has its data files.",
)  # fmt: skip
@output_option()
@pass_ctx
def pin(
    ctx: Context,
    tables: tuple[str, ...],
    as_of: tuple[str, ...],
    tag: str | None,
    output: str | None,
    verify: str | None,
    out: Output,
) -> None:
    """Pin the snapshots a training set is read from in a JSON lock file, or verify one.

    For each table the file records its identifier, snapshot id (as a string: exact in any JSON
    reader), commit time, schema id, row and file counts, a sha256 fingerprint of the snapshot's
    files, the tag, and the profile and warehouse. Read the same rows later with
    `lake query ... --as-of @FILE`, or in Python with `lk.read(table, pins=FILE)` /
    `lk.query(sql, pins=FILE)`.

    \b
    Examples:
      lake pin gold.training silver.users --tag train-2026-01 --output training.lock
      lake pin gold.training --as-of 2026-01-15 --output training.lock
      lake pin --verify training.lock
      lake query "SELECT * FROM gold.training" --as-of @training.lock
    """
    if verify:
        if tables or as_of or tag or output:
            raise click.UsageError("--verify FILE takes no tables, --as-of, --tag or --output")
        from lakehouse.errors import PinError

        report = ctx.lake.verify_pins(verify)
        out.pins_verified(report)
        if not report.ok:
            raise PinError(report.message())
        return
    if not tables:
        raise click.UsageError("name the tables to pin (or use --verify FILE)")
    if not output:
        raise click.UsageError("--output FILE is required, e.g. --output training.lock")
    pin_file = ctx.lake.pin(list(tables), output, list(as_of) or None, tag=tag)
    out.pinned(output, pin_file)
