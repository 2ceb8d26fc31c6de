"""ELT commands: run, test, lineage, provenance."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from lakehouse.cli.base import Context, cli
from lakehouse.cli.candidates import complete_models, complete_tables
from lakehouse.cli.options import (
    as_of_option,
    dry_run_option,
    engine_options,
    output_option,
    pass_ctx,
    project_option,
    select_option,
    vars_option,
)

if TYPE_CHECKING:
    from lakehouse.cli.output import Output

INPUTS_AS_OF_HELP = (
    "Read inputs at a snapshot id, ISO-8601 time or tag; TABLE=REF for one table (repeatable)."
)


@cli.command()
@project_option
@select_option
@click.option(
    "--full-refresh",
    is_flag=True,
    help="Rebuild every selected model, up to date or not; incremental ones from scratch.",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 256),
    default=None,
    help="Models built at once (default: the profile's lake.run.threads, else one per core).",
)
@click.option(
    "--fail-fast", is_flag=True, help="Stop at the first model that fails: skip every model not yet started."
)
@as_of_option(INPUTS_AS_OF_HELP, multiple=True)
@vars_option
@engine_options
@dry_run_option
@output_option()
@pass_ctx
def run(
    ctx: Context,
    project: str,
    select: tuple[str, ...],
    exclude: tuple[str, ...],
    full_refresh: bool,
    fail_fast: bool,
    threads: int | None,
    as_of: tuple[str, ...],
    variables: dict[str, Any],
    engine: str,
    spark_master: str | None,
    spark_conf: dict[str, str],
    dry_run: bool,
    out: Output,
) -> None:
    """Build the project's models in dependency order, one Iceberg snapshot each.

    Every input table is pinned to one snapshot at the start. A model whose SQL, config() and input
    snapshots are those its table was last built from is up to date and not rebuilt (nor its checks
    run again). Each other model is written to an audit branch, its checks run there, and only then
    is the table's main branch moved to it: a failing check leaves the table (and everything
    downstream, which is skipped) at its previous snapshot, and the command exits 1 naming the check.
    Models with no dependency between them are built side by side (--threads), sharing one DuckDB
    memory limit. --as-of rebuilds from older inputs (a full refresh). --fail-fast stops at the first
    model that fails: the models not yet started are skipped. --select and --exclude take dbt's
    selectors; each model's line says `k of N`, its status, strategy, rows and seconds.

    --engine spark builds the models on a Spark session (local, or --spark-master; `make spark` sets
    one up) from the same model files, transpiled to Spark SQL: same pinned inputs, audit branch,
    checks and provenance. A model using DuckDB-only SQL (ASOF JOIN...) is refused at plan time with
    its line, unless its config() says engine='duckdb': then it is built on DuckDB.

    \b
    Examples:
      lake run
      lake run --select silver.events+ --dry-run
      lake run --select tag:nightly --exclude gold.training_set --fail-fast
      lake run --select state:modified+
      lake run --select +gold.training_set --full-refresh
      lake run --threads 4
      lake run --as-of bronze.events=2026-01-15T00:00:00Z
      lake run --engine spark --spark-conf spark.driver.memory=8g
      lake run --engine spark --spark-master spark://head:7077
      lake run --vars '{start_date: 2026-01-01}'
    """
    from lakehouse.errors import LakehouseError

    as_of_refs = list(as_of) or None
    plan = ctx.lake.plan_run(
        project, select, full_refresh=full_refresh, as_of=as_of_refs, engine=engine, variables=variables,
        exclude=exclude,
    )  # fmt: skip
    if dry_run:
        out.run_plan(plan)
        return
    out.run_started(plan)
    result = ctx.lake.run(
        project, plan=plan, on_model=out.model_done, threads=threads, engine=engine,
        spark_master=spark_master, spark_conf=spark_conf, fail_fast=fail_fast,
    )  # fmt: skip
    out.run_finished(result)
    if not result.ok:
        raise LakehouseError(result.failure_message())


@cli.command(name="test")
@project_option
@select_option
@as_of_option(INPUTS_AS_OF_HELP, multiple=True)
@vars_option
@output_option()
@pass_ctx
def test_cmd(
    ctx: Context,
    project: str,
    select: tuple[str, ...],
    exclude: tuple[str, ...],
    as_of: tuple[str, ...],
    variables: dict[str, Any],
    out: Output,
) -> None:
    """Run the checks of models (and of sources, when nothing is selected) against current tables.

    Exit code 1 when a check with severity error fails; offending rows are sampled.

    \b
    Examples:
      lake test
      lake test --select gold.*
      lake test --select tag:finance,path:sql/gold --exclude gold.training_set
      lake test --select silver.events --as-of 2026-01-15T00:00:00Z --json
    """
    from lakehouse.errors import CheckFailedError

    results = ctx.lake.test(project, select, list(as_of) or None, variables=variables, exclude=exclude)
    out.test_results(results)
    if failing := [r for r in results if r.blocking]:
        raise CheckFailedError("; ".join(r.message() for r in failing))


@cli.command()
@click.argument("model", required=False, shell_complete=complete_models)
@project_option
@click.option("--columns", is_flag=True, help="Column-level lineage (sqlglot), traced back to the sources.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "mermaid", "html"]),
    default="text",
    show_default=True,
    help="html: one self-contained page (no network) drawing the graph; click a table for its column lineage.",
)
@output_option()
@pass_ctx
def lineage(ctx: Context, model: str | None, project: str, columns: bool, fmt: str, out: Output) -> None:
    """The table DAG of the project (or of MODEL, up- and downstream), and with --columns column lineage.

    \b
    Examples:
      lake lineage
      lake lineage gold.user_features --columns
      lake lineage --format mermaid > lineage.mmd
      lake lineage --format html > lineage.html
    """
    out.lineage(ctx.lake.lineage(project, model, columns=columns or fmt == "html"), fmt)


@cli.command()
@click.argument("table", shell_complete=complete_tables)
@as_of_option("Start from a snapshot id, ISO-8601 time or tag.", metavar="REF")
@output_option()
@pass_ctx
def provenance(ctx: Context, table: str, as_of: str | None, out: Output) -> None:
    """The input snapshots TABLE was built from, recursively down to the ingested sources.

    \b
    Examples:
      lake provenance gold.training_set
      lake provenance gold.training_set --as-of v1 --json
    """
    out.provenance(ctx.lake.provenance(table, as_of))
