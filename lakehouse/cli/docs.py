"""`lake docs`: write a project's documentation site, one self-contained HTML directory."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from lakehouse.cli.base import Context, cli
from lakehouse.cli.options import output_option, pass_ctx, project_option

if TYPE_CHECKING:
    from lakehouse.cli.output import Output


@cli.command()
@project_option
@click.option(
    "-o", "--output", "output", type=click.Path(dir_okay=True), default=None, metavar="DIR",
    help="Folder to write index.html and docs.json into (default: .lake/docs under the project root).",
)  # fmt: skip
@output_option()
@pass_ctx
def docs(ctx: Context, project: str, output: str | None, out: Output) -> None:
    """Write a documentation site of the project.

    DIR/index.html opens offline, in any browser. One page per model and source: its description, columns (types, descriptions, column lineage,
    checks), checks, up- and downstream tables, SQL, and its table's latest snapshot (rows, inputs
    read, and whether it is stale: its SQL, config() or inputs changed since the build). A search box
    filters tables and columns; the lineage graph is drawn as `lake lineage --format html` draws it.
    Nothing is fetched from the network, and the lake is only read.

    \b
    Examples:
      lake docs
      lake docs -o site/ && open site/index.html
      lake docs --project dbt/models --json
    """
    out.docs_written(ctx.lake.docs(project, output))
