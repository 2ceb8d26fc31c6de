"""`lake init [DIR]` and `lake info` (alias `lake doctor`): start a project, and see which lake a
command run here would use."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from lakehouse.cli.base import Context, cli
from lakehouse.cli.options import output_option, pass_ctx

if TYPE_CHECKING:
    from lakehouse.cli.output import Output


@cli.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False))
@output_option()
def init(directory: str, out: Output) -> None:
    """Start a project in DIRECTORY (default: here), as `dbt init` does.

    Writes catalog/lake.yaml (profiles `local`, the default, and `dev` for `lake dev up`, plus
    commented `team` and `rest` examples), sql/sources.yml and one model (sql/silver/events.sql), a
    sample feed (data/events.jsonl), README.md and a .gitignore holding .lake/. Never overwrites a
    file: if any of the project's files exists, nothing is written. An existing README.md is kept
    and .lake/ is added to an existing .gitignore.

    \b
    Examples:
      lake init my-lake && cd my-lake
      lake ingest bronze.events data/events.jsonl --create
      lake run
      lake init --json
    """
    from lakehouse.dev.scaffold import init_project

    out.project_initialized(init_project(directory))


def _info(ctx: Context, check: bool, out: Output) -> None:
    from lakehouse.dev.info import project_info

    root = click.get_current_context().find_root()
    given = {
        name: getattr(ctx, attr)
        if root.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE
        else None
        for name, attr in (("profile", "profile_name"), ("config", "config"))
    }  # from the environment: the library reads it itself and says so
    out.project_info(project_info(given["profile"], given["config"], check=check))


_INFO_HELP = """Which config, profile, catalog, warehouse, project root and dev server a command run
here would use, and whether the S3 endpoint and catalog server answer. Credentials are masked.
Also `lake doctor`.

The project root is the nearest directory upwards holding catalog/lake.yaml or an existing .lake/;
without either, the built-in default (a SQLite catalog and files in ./.lake/) is used.

\b
Examples:
  lake info
  lake --profile dev info --json
  lake info --no-check
"""


def _info_command(name: str, hidden: bool = False) -> None:
    @cli.command(name=name, hidden=hidden, help=_INFO_HELP if not hidden else "Alias of `lake info`.")
    @click.option(
        "--check/--no-check",
        default=True,
        show_default=True,
        help="Probe the S3 endpoint and catalog server.",
    )
    @output_option()
    @pass_ctx
    def command(ctx: Context, check: bool, out: Output) -> None:
        _info(ctx, check, out)


_info_command("info")
_info_command("doctor", hidden=True)
