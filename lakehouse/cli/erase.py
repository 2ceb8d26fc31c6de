"""`lake erase`: remove rows from a table and from every snapshot still reachable."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from lakehouse.cli.base import Context, cli
from lakehouse.cli.candidates import complete_tables
from lakehouse.cli.options import dry_run_option, output_option, pass_ctx, yes_option
from lakehouse.errors import LakehouseError

if TYPE_CHECKING:
    from lakehouse.cli.output import Output


@cli.command()
@click.argument("table", shell_complete=complete_tables)
@click.option("--where", required=True, help="DuckDB SQL predicate over TABLE's columns: the rows to erase.")
@click.option("--older-than", default="5d", show_default=True,
              help="The retention window: snapshots expire would keep are re-created, older ones removed.")  # fmt: skip
@click.option("--retain-last", type=int, default=1, show_default=True,
              help="Snapshots of each branch always kept (and so re-created), as in `lake expire`.")  # fmt: skip
@yes_option
@dry_run_option(help="List every snapshot, ref and file that would change; change nothing.")
@output_option()
@pass_ctx
def erase(
    ctx: Context, table: str, where: str, older_than: str, retain_last: int, yes: bool, dry_run: bool,
    out: Output,
) -> None:  # fmt: skip
    """Erase the rows matching --where from TABLE and from its history: every tag, every branch and
    every snapshot inside the retention window is re-created without them (tags and branches move,
    keeping their retention), in one commit; the old snapshots are removed and every file only they
    reached is deleted. Summaries record `lake.erased` (an erasure id and the predicate's SHA-256,
    never the values). A pin made before fails `lake pin --verify`, naming the erasure.

    Copies outside the table's location are not reached: object-store versions, backups, other
    catalogs' copies, and rows already read elsewhere.

    \b
    Examples:
      lake erase crm.people --where "email = 'a@example.com'" --dry-run
      lake erase crm.people --where "customer_id = 42" --yes --json
    """
    erase_rows(
        ctx, out, table, where, dry_run=dry_run, yes=yes, older_than=older_than, retain_last=retain_last
    )


def erase_rows(
    ctx: Context, out: Output, table: str, where: str, *, dry_run: bool, yes: bool,
    older_than: str = "5d", retain_last: int = 1,
) -> None:  # fmt: skip
    """`lake erase`, and `lake delete --erase-history`: preview, ask (unless --yes), apply the
    previewed plan as it is."""
    preview = ctx.lake.erase(table, where, dry_run=True, older_than=older_than, retain_last=retain_last)
    if dry_run or not yes or not preview.plan.snapshots:
        out.erased(preview, True)
    if dry_run or not preview.plan.snapshots:
        return
    if not yes:
        if not sys.stdin.isatty():
            raise LakehouseError("not a terminal: pass --yes to erase (or --dry-run to preview)")
        click.confirm("Erase these rows from the table and its history?", abort=True, err=True)
    out.erased(ctx.lake.erase(table, where, plan=preview.plan), False)
