"""`lake completion bash|zsh|fish`: the shell script that completes lake's commands and options, and
table, profile and model names (the `shell_complete` callbacks in `candidates`).

Click writes the script and answers it: the script calls `lake` again with `_LAKE_COMPLETE` set, which
Click's own entry point handles before any command runs.
"""

from __future__ import annotations

import click

from lakehouse.cli.base import cli

SHELLS = ("bash", "zsh", "fish")


@cli.command()
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the completion script for SHELL: commands, options, table names (from the catalog of the
    chosen profile), profiles (from catalog/lake.yaml) and models.

    \b
    Install it once:
      bash:  echo 'eval "$(lake completion bash)"' >> ~/.bashrc
      zsh:   echo 'eval "$(lake completion zsh)"' >> ~/.zshrc
      fish:  lake completion fish > ~/.config/fish/completions/lake.fish

    \b
    Then, for example:
      lake describe br<TAB>           ->  lake describe bronze.events
      lake --profile <TAB>            ->  dev  local  team
    """
    from click.shell_completion import get_completion_class

    complete = get_completion_class(shell)
    assert complete is not None  # every name in SHELLS is one of Click's
    # `lake` and its variable are the names the entry point (cli.main) answers to.
    click.echo(complete(cli, {}, "lake", "_LAKE_COMPLETE").source())
