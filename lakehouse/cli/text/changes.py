"""Text output of the row-level change commands: delete and update."""

from __future__ import annotations

from typing import Any

import click

from lakehouse.cli.output import Output
from lakehouse.cli.terminal import print_table
from lakehouse.core.sizes import format_size


class ChangesText(Output):
    def changed(self, result: Any) -> None:
        plan = result.plan
        done = "deleted" if plan.kind == "delete" else "updated"
        pruning = (
            f"pruning kept {plan.candidate_files} of {plan.table_files} data files"
            if plan.pruned
            else (plan.note or "no pruning")
        )
        if result.dry_run:
            if plan.files:
                print_table(
                    [
                        {
                            "file": f.path.rsplit("/", 1)[-1],
                            "partition": _partition(f.partition),
                            "rows": f.rows,
                            "bytes": format_size(f.bytes),
                            "matching": f.matching,
                        }
                        for f in plan.files
                    ],  # fmt: skip
                    title=f"files the {plan.kind} would {'mark' if plan.mode == 'merge-on-read' else 'rewrite'}",
                )
            click.echo(
                f"{plan.table}: would {plan.kind} {plan.matching_rows} rows in {len(plan.files)} of "
                f"{plan.table_files} files ({format_size(plan.rewrite_bytes)} of "
                f"{format_size(plan.table_bytes)}), {plan.mode}; {pruning}"
            )
        elif result.snapshot_id is None:
            click.echo(f"{plan.table}: no row matches; nothing {done}")
        else:
            click.echo(
                f"{done} {plan.matching_rows} rows of {plan.table} in {result.files_removed} of "
                f"{plan.table_files} files ({plan.mode}; {pruning}), snapshot {result.snapshot_id} "
                f"({result.seconds:.2f}s)"
            )


def _partition(values: tuple[tuple[str, str | None], ...]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values) or "-"
