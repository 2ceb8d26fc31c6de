"""`lake drift`: has a table's distribution shifted between two snapshots (or two tables)?"""

from __future__ import annotations

from pathlib import Path

import click

from lakehouse.cli.base import Context, cli
from lakehouse.cli.candidates import complete_tables
from lakehouse.cli.options import AS_OF_HELP, output_for, pass_ctx


def _thresholds(text: str | None) -> object:
    """`psi=0.2,ks=0.05`; `off` turns a test off."""
    from lakehouse.read.drift.result import Thresholds

    if not text:
        return Thresholds()
    values: dict[str, float | None] = {"psi": 0.2, "ks": 0.05}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        if not sep or name not in values:
            raise click.BadParameter(
                f"{part.strip()!r}: expected psi=N or ks=N (or =off)", param_hint="--threshold"
            )
        value = value.strip().lower()
        try:
            values[name] = None if value == "off" else float(value)
        except ValueError:
            raise click.BadParameter(
                f"{part.strip()!r}: {value!r} is not a number", param_hint="--threshold"
            ) from None
    return Thresholds(psi=values["psi"], ks=values["ks"])


@cli.command()
@click.argument("table", shell_complete=complete_tables)
@click.option("--from", "from_", metavar="REF", help="The reference (e.g. the training pin). " + AS_OF_HELP)
@click.option("--to", "to", metavar="REF", help="The side compared with it (default: current); as --from.")
@click.option(
    "--against", metavar="TABLE", help="Compare with another table with the same columns (e.g. serving logs)."
)
@click.option(
    "--columns", metavar="COL[,COL]", help="Only these columns (default: every column both sides have)."
)
@click.option(
    "--threshold", metavar="psi=N,ks=N", default=None,
    help="Drift when PSI > psi (default 0.2) or the KS p-value < ks (default 0.05); `off` disables one.",
)  # fmt: skip
@click.option(
    "--bins",
    type=click.IntRange(min=2),
    default=10,
    show_default=True,
    help="Quantile bins of the reference for PSI.",
)
@click.option(
    "--top",
    "top_k",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Categories kept apart for PSI; the rest share one bucket.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "html"]), default="text", show_default=True,
    help="text for people, json for machines (as --json), html for a report with a histogram per column.",
)  # fmt: skip
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    help="Where --format html writes (default drift-TABLE.html).",
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON (as --format json).")
@pass_ctx
def drift(
    ctx: Context, table: str, from_: str | None, to: str | None, against: str | None, columns: str | None,
    threshold: str | None, bins: int, top_k: int, fmt: str, output: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Has TABLE's distribution shifted from --from to --to, column by column? Exit 0 when no column
    drifted beyond the thresholds, 1 when one did (naming them), so CI can stop a retrain or a release.

    \b
    Numeric columns: PSI over the reference's quantile bins, the two-sample KS test (D and p-value),
    mean, std and null rate. Text and booleans: PSI over the reference's top categories plus one
    shared "(other)" bucket, new and vanished categories, null rate. Dates and times: range and
    freshness (reported, never drift). Schema: added, dropped, retyped and renamed columns; a dropped
    or retyped one is drift. Everything is computed inside DuckDB in a few streaming scans.

    \b
    Examples:
      lake drift gold.training_set --from @training.lock
      lake drift gold.training_set --from train-2026-01 --threshold psi=0.1,ks=off
      lake drift gold.training_set --against serving.features --columns amount,country
      lake drift gold.training_set --from @training.lock --format html -o drift.html
      lake drift silver.events --from 2026-01-01 --json | jq '.drifted_columns'
    """
    if from_ is None and against is None:
        raise click.UsageError("give --from REF (the reference snapshot) or --against TABLE")
    from lakehouse.errors import DriftError

    result = ctx.lake.drift(
        table, from_, to, against=against, columns=columns, thresholds=_thresholds(threshold),  # type: ignore[arg-type]
        bins=bins, top_k=top_k,
    )  # fmt: skip
    if fmt == "html" and not as_json:
        from lakehouse.read.drift.report import render_html

        path = Path(output or f"drift-{table}.html")
        path.write_text(render_html(result), encoding="utf-8")
        click.echo(f"wrote {path} ({result.message()})")
    else:
        output_for(as_json or fmt == "json").drifted(result)
    if result.drifted:
        raise DriftError(result.message())
