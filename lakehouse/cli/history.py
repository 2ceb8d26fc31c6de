"""History commands: snapshots, tag, tags, rollback, pin."""

from __future__ import annotations

import sys

import click

from lakehouse.cli.base import Context, cli
from lakehouse.cli.output import dry_run_option, emit_json, json_option, note, print_table

pass_ctx = click.make_pass_decorator(Context)

AS_OF_HELP = "Snapshot id, ISO-8601 time (UTC if no zone; a date is its midnight), tag, or @FILE.lock."


@cli.command()
@click.argument("table")
@json_option
@pass_ctx
def snapshots(ctx: Context, table: str, as_json: bool) -> None:
    """Every snapshot of TABLE, oldest first: id, parent, commit time (UTC), operation,
    added/deleted rows and files, total rows, and the tags and branches pointing at it.

    \b
    Examples:
      lake snapshots silver.events
      lake snapshots silver.events --json | jq -r '.[-1].snapshot_id'
    """
    rows = ctx.lake.snapshots(table)
    if as_json:
        emit_json(rows)
        return
    print_table(
        [
            {
                **r,
                "refs": ", ".join(r["refs"]) + (" (current)" if r["current"] and "main" not in r["refs"] else ""),
                "operation": r["operation"] + (f" (rollback to {r['rollback_to']})" if r["rollback_to"] else ""),
            }
            for r in rows
        ],
        [
            "snapshot_id", "parent_id", "committed_at", "operation", "added_rows", "deleted_rows",
            "added_files", "deleted_files", "total_rows", "refs",
        ],
        title=f"snapshots of {table}",
    )  # fmt: skip


@cli.command()
@click.argument("table")
@click.argument("name")
@click.option("--as-of", help="Snapshot to tag (default: the current one). " + AS_OF_HELP)
@click.option(
    "--retain",
    "retain_days",
    type=float,
    metavar="DAYS",
    help="Keep the tag DAYS after the snapshot's commit; then `lake expire` removes it (default: forever).",
)
@click.option("--branch", is_flag=True, help="Create a branch instead of a tag.")
@click.option("--delete", is_flag=True, help="Remove the tag (or branch) NAME; its snapshot stays.")
@json_option
@pass_ctx
def tag(
    ctx: Context,
    table: str,
    name: str,
    as_of: str | None,
    retain_days: float | None,
    branch: bool,
    delete: bool,
    as_json: bool,
) -> None:
    """Name a snapshot of TABLE. A tag keeps its snapshot safe from snapshot expiry for as long as
    the tag lives; read it with `--as-of NAME` or `FOR VERSION AS OF 'NAME'`.

    Tag names start with a letter or _, so they never read as snapshot ids or times.

    \b
    Examples:
      lake tag gold.training v1
      lake tag gold.training before-backfill --as-of 2026-01-15 --retain 90
      lake tag gold.training v1 --delete
    """
    if delete and (as_of or retain_days or branch):
        raise click.UsageError("--delete takes no --as-of, --retain or --branch")
    row = ctx.lake.tag(table, name, as_of, retain_days=retain_days, branch=branch, delete=delete)
    if as_json:
        emit_json(row)
    elif delete:
        click.echo(f"deleted {row['type']} {name} of {table} (it pointed at snapshot {row['snapshot_id']})")
    else:
        keep = f", kept until {row['expires_at']}" if row["expires_at"] else ""
        click.echo(f"tagged {table} snapshot {row['snapshot_id']} as {row['type']} {name}{keep}")


@cli.command()
@click.argument("table")
@json_option
@pass_ctx
def tags(ctx: Context, table: str, as_json: bool) -> None:
    """Tags and branches of TABLE, with the snapshot each points at.

    \b
    Example:
      lake tags gold.training
    """
    rows = ctx.lake.tags(table)
    if as_json:
        emit_json(rows)
    else:
        print_table(
            rows, ["name", "type", "snapshot_id", "committed_at", "expires_at"], title=f"tags of {table}"
        )


@cli.command()
@click.argument("table")
@click.option("--to", "to", required=True, metavar="REF", help="Snapshot to return to. " + AS_OF_HELP)
@dry_run_option
@json_option
@pass_ctx
def rollback(ctx: Context, table: str, to: str, dry_run: bool, as_json: bool) -> None:
    """Make an earlier snapshot's data current again, as a new commit that deletes nothing.

    lake does not move `main` backwards (as Iceberg's own rollback does, which orphans every later
    snapshot). It commits one new `overwrite` snapshot on top of the current one whose live data
    files are exactly those of the target: files added since are unlinked from the new snapshot,
    files removed since are linked again. No file and no snapshot is deleted, every later snapshot
    stays in `lake snapshots` and readable with --as-of, and rolling forward is another rollback.
    The new snapshot's summary records `lake.rollback-to`.

    \b
    Examples:
      lake rollback silver.events --to 8744736658442914487 --dry-run
      lake rollback silver.events --to before-backfill
      lake rollback silver.events --to 2026-01-15T00:00:00Z --json
    """
    lake = ctx.lake
    plan = lake.plan_rollback(table, to)
    if dry_run:
        result = {**plan.to_dict(), "dry_run": True, "snapshot_id": None}
    else:
        result = {**lake.rollback(table, plan), "dry_run": False}
    if as_json:
        emit_json(result)
        return
    if plan.is_noop:
        click.echo(f"{table} already has the data of snapshot {plan.target_snapshot_id}; nothing to do")
        return
    verb = "would roll" if dry_run else "rolled"
    click.echo(
        f"{verb} {table} back to snapshot {plan.target_snapshot_id} ({plan.target_committed_at}): "
        f"{plan.rows_now} -> {plan.rows_after} rows, {len(plan.files_to_restore)} files relinked, "
        f"{len(plan.files_to_unlink)} unlinked, nothing deleted"
        + ("" if dry_run else f"; new snapshot {result['snapshot_id']}")
    )
    if dry_run:
        for path in plan.files_to_restore:
            note(f"  + {path}")
        for path in plan.files_to_unlink:
            note(f"  - {path}")


@cli.command()
@click.argument("tables", nargs=-1)
@click.option(
    "--as-of", "as_of", multiple=True, metavar="REF|TABLE=REF",
    help="Pin this snapshot instead of the current one; TABLE=REF for one table (repeatable). " + AS_OF_HELP,
)  # fmt: skip
@click.option("--tag", help="Also tag each pinned snapshot NAME, so snapshot expiry never removes it.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Lock file to write.")
@click.option(
    "--verify", "verify", type=click.Path(dir_okay=False), metavar="FILE",
    help="Check FILE instead: every pinned snapshot exists, matches its fingerprint and has its data files.",
)  # fmt: skip
@json_option
@pass_ctx
def pin(
    ctx: Context,
    tables: tuple[str, ...],
    as_of: tuple[str, ...],
    tag: str | None,
    output: str | None,
    verify: str | None,
    as_json: bool,
) -> None:
    """Pin the snapshots a training set is read from in a JSON lock file, or verify one.

    For each table the file records its identifier, snapshot id (as a string: exact in any JSON
    reader), commit time, schema id, row and file counts, a sha256 fingerprint of the snapshot's
    files, the tag, and the profile and warehouse. Read the same rows later with
    `lake query ... --as-of @FILE`, or in Python with `lk.read(table, pins=FILE)` /
    `lk.query(sql, pins=FILE)`.

    \b
    Examples:
      lake pin gold.training silver.users --tag train-2026-01 --output training.lock
      lake pin gold.training --as-of 2026-01-15 --output training.lock
      lake pin --verify training.lock
      lake query "SELECT * FROM gold.training" --as-of @training.lock
    """
    if verify:
        if tables or as_of or tag or output:
            raise click.UsageError("--verify FILE takes no tables, --as-of, --tag or --output")
        from lakehouse.errors import PinError

        report = ctx.lake.verify_pins(verify)
        if as_json:
            emit_json(report.to_dict())
            if not report.ok:
                sys.exit(1)
            return
        for check in report.checks:
            note(f"{'ok  ' if check.ok else 'FAIL'} {check.table} @ {check.snapshot_id}: {check.reason}")
        if not report.ok:
            raise PinError(report.message())
        click.echo(report.message())
        return
    if not tables:
        raise click.UsageError("name the tables to pin (or use --verify FILE)")
    if not output:
        raise click.UsageError("--output FILE is required, e.g. --output training.lock")
    pin_file = ctx.lake.pin(list(tables), output, list(as_of) or None, tag=tag)
    if as_json:
        emit_json({"path": output, **pin_file.to_dict()})
        return
    for p in pin_file.pins:
        click.echo(f"pinned {p.table} at snapshot {p.snapshot_id} ({p.committed_at}, {p.rows} rows)")
    click.echo(f"wrote {output}")
