"""Text output of `lake docs`: where the site is, what it documents, and which tables are stale."""

from __future__ import annotations

from typing import Any

import click

from lakehouse.cli.output import Output


class DocsText(Output):
    def docs_written(self, result: Any) -> None:
        click.echo(
            f"Wrote {result.index}: {result.models} model(s), {result.sources} source(s); "
            f"{len(result.built)} built, {len(result.not_built)} not built, {len(result.stale)} stale."
        )
        for name, why in result.stale.items():
            click.echo(f"  stale: {name}: {why}")
        click.echo(f"Open {result.to_dict()['url']} in a browser (it needs no network).")
