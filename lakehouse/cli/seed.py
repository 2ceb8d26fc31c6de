"""`lake seed`: load the project's seed CSVs into Iceberg tables, as `dbt seed` does."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from lakehouse.cli.base import Context, cli
from lakehouse.cli.options import dry_run_option, output_option, pass_ctx, project_option

if TYPE_CHECKING:
    from lakehouse.cli.output import Output


@cli.command()
@project_option
@click.option(
    "--select",
    "-s",
    "select",
    multiple=True,
    metavar="NAME",
    help="A seed by name (raw_orders), table (main.raw_orders) or glob (raw_*); repeatable.",
)
@click.option(
    "--full-refresh",
    is_flag=True,
    help="Load every selected seed, up to date or not; recreate tables whose columns changed.",
)
@dry_run_option
@output_option()
@pass_ctx
def seed(
    ctx: Context, project: str, select: tuple[str, ...], full_refresh: bool, dry_run: bool, out: Output
) -> None:
    """Load every *.csv under the project's seed folders into a table, one snapshot each.

    The seed folders are dbt_project.yml's seed-paths (default seeds/) when the project has one,
    else <project>/seeds and <project>/../seeds. A seed's table is <schema>.<file name>: schema is
    its +schema config, else the first folder under the seed folder, else main. Column types come
    from column_types (dbt_project.yml's seeds: block, or a YAML file beside the seeds; the nearer
    wins), else they are inferred as lake ingest infers them. A seed whose file and types are
    those its table last loaded is up to date and skipped. Every file is read, and every value
    parsed as its type, before any table changes; a column whose type changed needs --full-refresh,
    which drops and recreates the table.

    \b
    Examples:
      lake seed
      lake seed --select raw_orders --dry-run
      lake seed --full-refresh --json
      lake seed --project jaffle_shop
    """
    plan = ctx.lake.plan_seeds(project, select, full_refresh=full_refresh)
    if dry_run:
        out.seed_plan(plan)
        return
    out.seeded(ctx.lake.seed(project, plan=plan))
