"""`lake alter TABLE CHANGE`: schema and partition evolution, properties and renames, one commit each."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from lakehouse.cli.base import Context, cli
from lakehouse.cli.candidates import complete_tables
from lakehouse.cli.options import dry_run_option, output_option, parse_properties

if TYPE_CHECKING:
    from lakehouse.cli.output import Output


@cli.group()
@click.argument("table", shell_complete=complete_tables)
def alter(table: str) -> None:
    """Change a table's schema, partition spec, properties or name: one metadata commit per change.

    Data files are never rewritten: readers match columns by field id, old snapshots keep the schema
    they were written with, and old files keep their partition spec. Every change takes --dry-run
    (show the change, commit nothing) and --json.

    \b
    Examples:
      lake alter silver.events add-column discount "decimal(10,2)" --doc "applied discount" --after amount
      lake alter silver.events rename-column name label
      lake alter silver.events widen qty long
      lake alter silver.events partition add "day(ts)" --dry-run
      lake alter silver.events set-property write.target-file-size-bytes=134217728
      lake alter silver.events rename silver.events_v2
    """


def _change(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A sub-command of `alter`: --dry-run and --json, and the Change it returns applied to TABLE."""

    @dry_run_option(help="Show the change; commit nothing.")
    @output_option()
    @click.pass_context
    def command(click_ctx: click.Context, dry_run: bool, out: Output, **kwargs: Any) -> None:
        table = click_ctx.parent.params["table"] if click_ctx.parent else ""
        ctx = click_ctx.find_object(Context)
        assert ctx is not None
        kind, fields = fn(**kwargs)
        out.altered(ctx.lake.alter(table, kind, dry_run=dry_run, **fields))

    command.__name__ = fn.__name__
    command.__doc__ = fn.__doc__
    return command


def _make(kind: str, **fields: Any) -> tuple[str, dict[str, Any]]:
    """The change a sub-command asks for, as the facade's `alter(table, kind, **fields)` takes it."""
    return kind, fields


@alter.command("add-column")
@click.argument("name")
@click.argument("type")
@click.option("--doc", help="The column's documentation.")
@click.option("--after", metavar="COLUMN", help="Place it after COLUMN (default: last).")
@click.option("--first", is_flag=True, help="Place it first.")
@click.option(
    "--required",
    is_flag=True,
    help="NOT NULL (only on a table with no snapshot yet: old rows would have no value).",
)
@_change
def add_column(name: str, type: str, doc: str | None, after: str | None, first: bool, required: bool) -> Any:
    """Add column NAME of TYPE (as `lake create --schema` spells types); a dotted NAME adds to a struct."""
    return _make("add-column", column=name, value=type, doc=doc, after=after, first=first, required=required)


@alter.command("rename-column")
@click.argument("old")
@click.argument("new")
@_change
def rename_column(old: str, new: str) -> Any:
    """Rename column OLD to NEW (data files are read by field id, so nothing is rewritten)."""
    return _make("rename-column", column=old, value=new)


@alter.command("drop-column")
@click.argument("name")
@_change
def drop_column(name: str) -> Any:
    """Drop column NAME (not an identifier field, nor the source of a partition field)."""
    return _make("drop-column", column=name)


@alter.command()
@click.argument("name")
@click.argument("type")
@_change
def widen(name: str, type: str) -> Any:
    """Widen column NAME to TYPE: int -> long, float -> double, decimal(P,S) -> decimal(P2,S), P2 > P."""
    return _make("widen", column=name, value=type)


@alter.command("set-optional")
@click.argument("name")
@_change
def set_optional(name: str) -> Any:
    """Make column NAME nullable."""
    return _make("set-optional", column=name)


@alter.command("identifier-fields")
@click.argument("columns")
@_change
def identifier_fields(columns: str) -> Any:
    """Set the identifier fields (the row key) to COLUMNS, comma-separated; required columns only."""
    return _make("identifier-fields", names=tuple(c.strip() for c in columns.split(",") if c.strip()))


@alter.command()
@click.argument("action", type=click.Choice(["add", "drop", "replace"]))
@click.argument("terms")
@_change
def partition(action: str, terms: str) -> Any:
    """Add, drop or replace partition fields: a new spec for new writes; old files keep theirs.

    TERMS as `lake create --partition-by` spells them: "day(ts), country, bucket(16, user_id)".
    """
    return _make(f"partition-{action}", value=terms)


@alter.command("set-property")
@click.argument("pairs", nargs=-1, required=True, metavar="K=V...")
@_change
def set_property(pairs: tuple[str, ...]) -> Any:
    """Set table properties (checked as `lake create --property` checks them)."""
    return _make("set-property", properties=tuple(parse_properties(pairs).items()))


@alter.command("unset-property")
@click.argument("keys", nargs=-1, required=True, metavar="KEY...")
@_change
def unset_property(keys: tuple[str, ...]) -> Any:
    """Remove table properties."""
    return _make("unset-property", names=keys)


@alter.command()
@click.argument("new_name")
@_change
def rename(new_name: str) -> Any:
    """Rename the table to NEW_NAME (namespace.table; the namespace is created on demand)."""
    return _make("rename", value=new_name)
