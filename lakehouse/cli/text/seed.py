"""Text output of `lake seed`: one line per seed, planned or done."""

from __future__ import annotations

from typing import Any

import click

from lakehouse.cli.output import Output

_PLANNED = {"create": "would create", "overwrite": "would overwrite", "recreate": "would recreate",
            "up_to_date": "up to date"}  # fmt: skip


class SeedText(Output):
    def seed_plan(self, plan: Any) -> None:
        if not plan.steps:
            click.echo(f"no seeds in {plan.project}")
            return
        todo = sum(s.action != "up_to_date" for s in plan.steps)
        click.echo(f"{len(plan.steps)} seed(s), {todo} to load, {len(plan.steps) - todo} up to date:")
        for step in plan.steps:
            click.echo(
                f"  {_PLANNED[step.action]} {step.seed.table} from {step.seed.path}: {step.rows} rows; {step.reason}"
            )
            click.echo(f"    {step.schema}")

    def seeded(self, result: Any) -> None:
        steps = result.plan.steps
        if not steps:
            click.echo(f"no seeds in {result.plan.project}")
            return
        for i, step in enumerate(steps, 1):
            where = f"({i} of {len(steps)})"
            if step.seed.table in result.loaded:
                verb = {"create": "created", "recreate": "recreated"}.get(step.action, "loaded")
                click.echo(
                    f"OK   {step.seed.table}: {verb}, {step.rows} rows, snapshot "
                    f"{result.loaded[step.seed.table]}  {where}"
                )
            else:
                click.echo(f"OK   {step.seed.table}: up to date, snapshot {step.snapshot_id}  {where}")
        click.echo(f"{len(result.loaded)} of {len(steps)} seed(s) loaded in {result.seconds:.1f}s")
