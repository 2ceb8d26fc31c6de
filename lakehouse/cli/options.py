"""Options that several commands share, declared once (as SQLMesh's `cli/options.py`).

`output_option` declares `--json` and hands the command an `out: Output`, so the output mode is picked
once per invocation and command bodies never branch on it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from lakehouse.cli.base import Context
from lakehouse.cli.candidates import complete_models

if TYPE_CHECKING:
    from lakehouse.cli.output import Output

F = TypeVar("F", bound=Callable[..., Any])
Decorator = Callable[[F], F]

pass_ctx = click.make_pass_decorator(Context)

AS_OF_HELP = "Snapshot id, ISO-8601 time (UTC if no zone; a date is its midnight), tag, or @FILE.lock."


def output_option(help: str = "Print machine-readable JSON.") -> Callable[[Callable[..., Any]], Any]:
    """`--json`; the command receives `out`, a `Json` or a `Text` output, instead of the flag."""

    def decorate(fn: Callable[..., Any]) -> Any:
        @functools.wraps(fn)
        def command(*args: Any, as_json: bool, **kwargs: Any) -> Any:
            return fn(*args, out=output_for(as_json), **kwargs)

        return click.option("--json", "as_json", is_flag=True, help=help)(command)

    return decorate


def output_for(as_json: bool) -> Output:
    """The one place the output mode is picked (modules load lazily: `lake --help` stays fast)."""
    if as_json:
        from lakehouse.cli.output import Json

        return Json()
    from lakehouse.cli.text import Text

    return Text()


def as_of_option(help: str, *, multiple: bool = False, metavar: str | None = None) -> Callable[[F], F]:
    """`--as-of`: one reference, or with `multiple` a default and TABLE=REF pairs (repeatable)."""
    return click.option(
        "--as-of", "as_of", multiple=multiple, metavar=metavar or ("REF|TABLE=REF" if multiple else None),
        help=help,
    )  # fmt: skip


def dry_run_option(fn: F | None = None, *, help: str = "Show what would change; change nothing.") -> Any:
    """`@dry_run_option`, or `@dry_run_option(help=...)` where a command words it its own way."""
    option = click.option("--dry-run", is_flag=True, help=help)
    return option(fn) if fn is not None else option


def yes_option(fn: F) -> F:
    return click.option(
        "--yes", "-y", is_flag=True, help="Do it without asking (required without a terminal)."
    )(fn)


def quiet_option(fn: F) -> F:
    return click.option("--quiet", "-q", is_flag=True, help="No progress bar.")(fn)


def _join_terms(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> str | None:
    """`--partition-by day(ts) --partition-by country` is `--partition-by "day(ts), country"`."""
    return ", ".join(values) if values else None


def partition_by_option(help: str) -> Callable[[F], F]:
    return click.option(
        "--partition-by", multiple=True, callback=_join_terms, help=help + " Repeatable: the terms add up."
    )


def property_option(help: str) -> Callable[[F], F]:
    return click.option("--property", "properties", multiple=True, metavar="K=V", help=help)


def parse_properties(items: tuple[str, ...], option: str = "--property") -> dict[str, str]:
    """`--property K=V` values as a dict (a usage error, exit 2, for anything else)."""
    props = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not key=value", param_hint=option)
        props[key.strip()] = value.strip()
    return props


def project_option(fn: F) -> F:
    return click.option(
        "--project",
        default="sql",
        show_default=True,
        envvar="LAKE_PROJECT",
        type=click.Path(file_okay=False),
        callback=_from_project_root,
        help="Folder of models: <project>/<layer>/<name>.sql and sources.yml, relative to the project "
        "root (env: LAKE_PROJECT).",
    )(fn)


def _from_project_root(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A relative --project is relative to the project root (as dbt's paths are), wherever it is run."""
    import os

    obj = ctx.find_object(Context)
    if value is None or os.path.isabs(value) or obj is None:
        return value
    return os.path.join(obj.profile.base_dir, value)


def _vars(ctx: click.Context, param: click.Parameter, value: str | None) -> dict[str, Any]:
    if not value:
        return {}
    import yaml

    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        parsed = None
    if not isinstance(parsed, dict):
        raise click.BadParameter("give a YAML or JSON mapping, e.g. --vars '{start_date: 2026-01-01}'")
    return parsed


def vars_option(fn: F) -> F:
    """dbt's `--vars`: values for `var()` in models, over the `vars:` of dbt_project.yml."""
    return click.option(
        "--vars",
        "variables",
        callback=_vars,
        metavar="YAML",
        help="Values for var() in models, as a YAML or JSON mapping: --vars '{start_date: 2026-01-01}'.",
    )(fn)


def select_option(fn: F) -> F:
    """`--select` and `--exclude`, dbt's selectors (lakehouse.elt.selectors), both repeatable."""
    fn = click.option(
        "--exclude", "exclude", multiple=True, metavar="EXPR", shell_complete=complete_models,
        help="Leave out what these selectors choose (same syntax as --select).",
    )(fn)  # fmt: skip
    return click.option(
        "--select",
        "-s",
        "select",
        multiple=True,
        metavar="EXPR",
        help="dbt selectors: stg_orders (a bare name), silver.events+ (and downstream), +gold.x (and "
        "upstream), 1+x / x+2 (to a depth), @x, gold.*, tag:x, path:sql/gold, source:bronze.events, "
        "config.materialized:incremental, state:modified; space = union, comma = intersection.",
        shell_complete=complete_models,
    )(fn)


def _spark_conf(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    return parse_properties(values, "--spark-conf")


def engine_options(fn: F) -> F:
    """`--engine duckdb|spark`, with the Spark session's `--spark-master` and `--spark-conf K=V`."""
    fn = click.option(
        "--spark-conf", "spark_conf", multiple=True, metavar="K=V", callback=_spark_conf,
        help="A Spark setting for --engine spark (repeatable), e.g. spark.driver.memory=8g.",
    )(fn)  # fmt: skip
    fn = click.option(
        "--spark-master", "--master", "spark_master", metavar="URL",
        help="Spark master for --engine spark: local[N] (default local[*]), spark://host:7077, yarn, k8s://...",
    )(fn)  # fmt: skip
    return click.option(
        "--engine", type=click.Choice(["duckdb", "spark"]), default="duckdb", show_default=True,
        help="What builds the data: DuckDB in this process, or Spark (`make spark` sets up a local one).",
    )(fn)  # fmt: skip
