"""Text output of `lake alter`: what changed (or would), one line each."""

from __future__ import annotations

from typing import Any

import click

from lakehouse.cli.output import Output


class AlterText(Output):
    def altered(self, result: Any) -> None:
        plan = result.plan
        verb = "would alter" if result.dry_run else "altered"
        click.echo(f"{verb} {plan.table}: {plan.change.describe()}")
        for line in plan.differences() or ["(no change)"]:
            click.echo(f"  {line}")
