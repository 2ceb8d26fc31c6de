"""Row-level change commands: delete and update."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from lakehouse.cli.base import Context, cli
from lakehouse.cli.candidates import complete_tables
from lakehouse.cli.options import dry_run_option, output_option, pass_ctx, yes_option

if TYPE_CHECKING:
    from lakehouse.cli.output import Output


@cli.command()
@click.argument("table", shell_complete=complete_tables)
@click.option(
    "--where", required=True, help='DuckDB SQL predicate over TABLE\'s columns, e.g. "user_id = 42".'
)
@click.option(
    "--erase-history",
    is_flag=True,
    help="Also remove the rows from every reachable snapshot, tag and branch (as `lake erase`).",
)
@dry_run_option(help="Show the files that would be rewritten and the matching rows; change nothing.")
@yes_option
@output_option()
@pass_ctx
def delete(
    ctx: Context, table: str, where: str, erase_history: bool, dry_run: bool, yes: bool, out: Output
) -> None:
    """Delete TABLE's rows where --where is true, as one `overwrite` snapshot.

    Only data files that hold a matching row are rewritten (copy-on-write), found with partition and
    column-statistics pruning. With the table property write.delete.mode=merge-on-read, positional
    delete files are written instead. An append committed meanwhile is kept; a concurrent compaction
    or delete of the same files stops this one with a message, and nothing changes.

    \b
    Examples:
      lake delete silver.events --where "user_id = 42" --dry-run
      lake delete silver.events --where "ts < '2026-01-01T00:00:00Z' AND country = 'US'" --json
      lake delete silver.users --where "email = 'a@example.com'" --erase-history --dry-run
    """
    if erase_history:
        from lakehouse.cli.erase import erase_rows

        erase_rows(ctx, out, table, where, dry_run=dry_run, yes=yes)
        return
    out.changed(ctx.lake.delete(table, where, dry_run=dry_run))


@cli.command()
@click.argument("table", shell_complete=complete_tables)
@click.option(
    "--set", "set_", required=True, help="Assignments, e.g. \"amount = amount * 2, country = 'DE'\"."
)
@click.option("--where", required=True, help='DuckDB SQL predicate choosing the rows ("true" for all).')
@dry_run_option(help="Show the files that would be rewritten and the matching rows; change nothing.")
@output_option()
@pass_ctx
def update(ctx: Context, table: str, set_: str, where: str, dry_run: bool, out: Output) -> None:
    """Set columns of TABLE's rows where --where is true, as one `overwrite` snapshot.

    Values are cast to each column's type. Changing a partition column moves rows to the partition
    their new value belongs in. Pruning, modes and concurrency as for `lake delete`.

    \b
    Examples:
      lake update silver.events --set "country = 'DE'" --where "country = 'GER'" --dry-run
      lake update silver.events --set "amount = round(amount, 2)" --where "true"
    """
    out.changed(ctx.lake.update(table, set_, where, dry_run=dry_run))
