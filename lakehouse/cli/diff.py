"""`lake diff`: what changed in a table between two snapshots."""

from __future__ import annotations

import click

from lakehouse.cli.base import Context, cli
from lakehouse.cli.candidates import complete_tables
from lakehouse.cli.options import AS_OF_HELP, output_for, pass_ctx


@cli.command()
@click.argument("table", shell_complete=complete_tables)
@click.option("--from", "from_", required=True, metavar="REF", help="The older snapshot. " + AS_OF_HELP)
@click.option("--to", "to", metavar="REF", help="The newer snapshot (default: the current one); as --from.")
@click.option(
    "--key", metavar="COL[,COL]", help="Columns identifying a row: a key removed and added is a changed row."
)
@click.option(
    "--columns", metavar="COL[,COL]", help="Compare (and show) only these columns (default: all in both)."
)
@click.option(
    "--limit", type=click.IntRange(min=0), default=20, show_default=True,
    help="Rows shown per kind (added, removed, changed); the counts are always exact.",
)  # fmt: skip
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
    help="text for people, json for machines (as --json).",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON (as --format json).")
@pass_ctx
def diff(
    ctx: Context, table: str, from_: str, to: str | None, key: str | None, columns: str | None,
    limit: int, fmt: str, as_json: bool,
) -> None:  # fmt: skip
    """What changed in TABLE from snapshot --from to --to: the snapshots in between, rows added,
    removed and (with --key) changed, files added and removed, then the rows themselves.

    Data files common to both snapshots are skipped unread, so after an append only the new files
    are read; files only on one side are compared by content, so a compaction in between shows no
    change. Columns are matched by field id: a renamed column is reported and still compared. With
    --key, a key removed once and added once is one changed row (old -> new of the columns that
    differ); a key repeated on either side stays as added and removed rows.

    \b
    Examples:
      lake diff gold.training_set --from @training.lock
      lake diff silver.events --from v1 --to v2 --key id
      lake diff silver.events --from 2026-01-15 --key id --columns amount,country --limit 5
      lake diff silver.events --from 5937117119577572000 --json | jq .rows_added
    """
    out = output_for(as_json or fmt == "json")
    out.diffed(ctx.lake.diff(table, from_, to, key=key, columns=columns, limit=limit))
