"""ELT commands: run, test, lineage, provenance."""

from __future__ import annotations

import sys
from typing import Any

import click

from lakehouse.cli.base import Context, cli
from lakehouse.cli.output import dry_run_option, emit_json, json_option, print_table

pass_ctx = click.make_pass_decorator(Context)


def project_option(fn: Any) -> Any:
    return click.option(
        "--project",
        default="sql",
        show_default=True,
        envvar="LAKE_PROJECT",
        type=click.Path(file_okay=False),
        help="Folder of models: <project>/<layer>/<name>.sql and sources.yml (env: LAKE_PROJECT).",
    )(fn)


def select_option(fn: Any) -> Any:
    return click.option(
        "--select",
        "-s",
        "select",
        multiple=True,
        metavar="EXPR",
        help="dbt selectors: silver.events, silver.events+ (and downstream), +gold.x (and upstream), gold.*.",
    )(fn)


def as_of_option(fn: Any) -> Any:
    return click.option(
        "--as-of",
        "as_of",
        multiple=True,
        metavar="REF|TABLE=REF",
        help="Read inputs at a snapshot id, ISO-8601 time or tag; TABLE=REF for one table (repeatable).",
    )(fn)


def _fail(message: str) -> None:
    click.echo(f"Error: {' '.join(message.split())}", err=True)
    sys.exit(1)


def _echo_check(result: Any) -> None:
    if result.passed:
        return
    mark = "WARN" if result.severity == "warn" else "FAIL"
    click.echo(f"  {mark} {result.message()}", err=True)
    for row in result.sample:
        click.echo(f"       {row}", err=True)


@cli.command()
@project_option
@select_option
@click.option("--full-refresh", is_flag=True, help="Rebuild incremental models from scratch.")
@as_of_option
@dry_run_option
@json_option
@pass_ctx
def run(
    ctx: Context,
    project: str,
    select: tuple[str, ...],
    full_refresh: bool,
    as_of: tuple[str, ...],
    dry_run: bool,
    as_json: bool,
) -> None:
    """Build the project's models in dependency order, one Iceberg snapshot each.

    Every input table is pinned to one snapshot at the start. Each model is written to an audit
    branch, its checks run there, and only then is the table's main branch moved to it: a failing
    check leaves the table (and everything downstream, which is skipped) at its previous snapshot,
    and the command exits 1 naming the check. --as-of rebuilds from older inputs (a full refresh).

    \b
    Examples:
      lake run
      lake run --select silver.events+ --dry-run
      lake run --select +gold.training_set --full-refresh
      lake run --as-of bronze.events=2026-01-15T00:00:00Z
    """
    lake = ctx.lake
    if dry_run:
        plan = lake.plan_run(project, select, full_refresh=full_refresh, as_of=list(as_of) or None)
        if as_json:
            emit_json(plan.to_dict())
            return
        click.echo(f"run {plan.run_id}: {len(plan.steps)} model(s); inputs pinned:")
        for name, sid in plan.inputs.items():
            click.echo(f"  {name} @ {sid}")
        for i, step in enumerate(plan.steps, 1):
            how = f"{step.strategy}{' (incremental)' if step.incremental else ''}"
            click.echo(
                f"\n-- {i}. {step.model}: {how}; checks: {', '.join(c.name for c in step.checks) or 'none'}"
            )
            click.echo(step.sql)
        return

    def progress(m: Any) -> None:
        if as_json:
            return
        if m.status == "skipped":
            click.echo(f"SKIP {m.model}: {m.error}", err=True)
            return
        sid = m.snapshot_id if m.status == "ok" else f"{m.previous_snapshot_id} (unchanged)"
        state = {"ok": "OK  ", "failed": "FAIL", "error": "ERR "}[m.status]
        click.echo(
            f"{state} {m.model}: {m.strategy}, {m.rows} rows, {m.seconds:.2f}s, snapshot {sid}", err=True
        )
        if m.status == "error":
            click.echo(f"  {m.error}", err=True)
        for c in m.checks:
            _echo_check(c)

    result = lake.run(
        project, select, full_refresh=full_refresh, as_of=list(as_of) or None, on_model=progress
    )
    if as_json:
        emit_json(result.to_dict())
    if not result.ok:
        _fail(result.failure_message())
    if not as_json:
        click.echo(f"run {result.run_id}: {len(result.models)} model(s) built in {result.seconds:.2f}s")


@cli.command(name="test")
@project_option
@select_option
@as_of_option
@json_option
@pass_ctx
def test_cmd(
    ctx: Context, project: str, select: tuple[str, ...], as_of: tuple[str, ...], as_json: bool
) -> None:
    """Run the checks of models (and of sources, when nothing is selected) against current tables.

    Exit code 1 when a check with severity error fails; offending rows are sampled.

    \b
    Examples:
      lake test
      lake test --select gold.*
      lake test --select silver.events --as-of 2026-01-15T00:00:00Z --json
    """
    results = ctx.lake.test(project, select, list(as_of) or None)
    if as_json:
        emit_json([r.to_dict() for r in results])
    else:
        rows = [
            {
                "table": r.table,
                "check": r.check,
                "result": "pass" if r.passed else ("warn" if r.severity == "warn" else "FAIL"),
                "failing_rows": r.failing_rows if r.error is None else r.error,
                "snapshot": r.snapshot_id,
            }
            for r in results
        ]
        print_table(rows)
        for r in results:
            _echo_check(r)
    failing = [r for r in results if r.blocking]
    if failing:
        _fail("; ".join(r.message() for r in failing))


@cli.command()
@click.argument("model", required=False)
@project_option
@click.option("--columns", is_flag=True, help="Column-level lineage (sqlglot), traced back to the sources.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "mermaid"]), default="text", show_default=True
)
@json_option
@pass_ctx
def lineage(ctx: Context, model: str | None, project: str, columns: bool, fmt: str, as_json: bool) -> None:
    """The table DAG of the project (or of MODEL, up- and downstream), and with --columns column lineage.

    \b
    Examples:
      lake lineage
      lake lineage gold.user_features --columns
      lake lineage --format mermaid > lineage.mmd
    """
    result = ctx.lake.lineage(project, model, columns=columns)
    if as_json or fmt == "json":
        emit_json(result.to_dict())
    elif fmt == "mermaid":
        click.echo(result.to_mermaid())
    else:
        click.echo(result.to_text())


@cli.command()
@click.argument("table")
@click.option("--as-of", "as_of", metavar="REF", help="Start from a snapshot id, ISO-8601 time or tag.")
@json_option
@pass_ctx
def provenance(ctx: Context, table: str, as_of: str | None, as_json: bool) -> None:
    """The input snapshots TABLE was built from, recursively down to the ingested sources.

    \b
    Examples:
      lake provenance gold.training_set
      lake provenance gold.training_set --as-of v1 --json
    """
    from lakehouse.elt.provenance import format_tree

    node = ctx.lake.provenance(table, as_of)
    if as_json:
        emit_json(node)
        return
    click.echo("\n".join(format_tree(node)))
