"""Maintenance commands: compact, expire, gc, rewrite-manifests and maintain."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from lakehouse.cli.base import Context, cli
from lakehouse.cli.candidates import complete_tables
from lakehouse.cli.options import (
    dry_run_option,
    engine_options,
    output_option,
    pass_ctx,
    quiet_option,
    yes_option,
)
from lakehouse.errors import LakehouseError

if TYPE_CHECKING:
    from lakehouse.cli.output import Output


@cli.command()
@click.argument("table", shell_complete=complete_tables)
@click.option("--target-size", help="Output file size on disk, 128MB..1GB.  [default: 512MB]")
@click.option("--min-size", help="Files smaller than this are rewritten.  [default: 75% of target]")
@click.option(
    "--max-size", help="Files larger than this are split; outputs stay below it.  [default: 180% of target]"
)
@click.option("--min-input-files", type=int, default=5, show_default=True,
              help="Rewrite a partition with at least this many small files (or more than one target's worth).")  # fmt: skip
@click.option(
    "--where", help="Only partitions with rows matching this predicate, e.g. \"ts >= '2026-06-01'\"."
)
@click.option("--sort-by", help="Sort rows within each output file, e.g. country,ts.")
@click.option("--zorder", help="Z-order rows by these columns, e.g. lat,lon (Spark's; needs --engine spark).")
@engine_options
@quiet_option
@dry_run_option
@output_option()
@pass_ctx
def compact(
    ctx: Context,
    table: str,
    target_size: str | None,
    min_size: str | None,
    max_size: str | None,
    min_input_files: int,
    where: str | None,
    sort_by: str | None,
    zorder: str | None,
    engine: str,
    spark_master: str | None,
    spark_conf: dict[str, str],
    quiet: bool,
    dry_run: bool,
    out: Output,
) -> None:
    """Rewrite TABLE's small data files into files of about --target-size, as one `replace` snapshot.

    Rows and partition values are unchanged, so incremental readers skip the snapshot. An append
    committed meanwhile is kept; a concurrent delete or overwrite of an input file stops the
    compaction with a message and leaves the table as the other writer made it. Sizes are bytes on
    disk: 128MB, 1GB or plain bytes (table property lake.compact.allow-any-target=true lifts the range).

    \b
    Examples:
      lake compact silver.events --dry-run
      lake compact silver.events --target-size 256MB --where "ts >= '2026-06-01T00:00:00'"
      lake compact silver.events --sort-by country,ts --json
      lake compact silver.events --engine spark --spark-master spark://head:7077
      lake compact silver.events --engine spark --zorder user_id,ts

    --engine spark hands the same options to Iceberg's rewrite_data_files on Spark, which picks its own
    file groups; the snapshot records lake's compaction keys plus lake.engine=spark.
    """
    with out.progress(f"compact {table}", enabled=not quiet and not dry_run) as progress:
        result = ctx.lake.compact(
            table, target_size=target_size, min_size=min_size, max_size=max_size,
            min_input_files=min_input_files, where=where, sort_by=sort_by, zorder=zorder, dry_run=dry_run,
            on_progress=progress.callback, engine=engine, spark_master=spark_master, spark_conf=spark_conf,
        )  # fmt: skip
    out.compacted(table, result, dry_run)


@cli.command()
@click.argument("table", shell_complete=complete_tables)
@click.option(
    "--older-than", default="5d", show_default=True, help="Expire snapshots older than this (s, m, h, d, w)."
)
@click.option(
    "--retain-last", type=int, default=1, show_default=True, help="Always keep this many latest snapshots."
)
@dry_run_option
@output_option()
@pass_ctx
def expire(ctx: Context, table: str, older_than: str, retain_last: int, dry_run: bool, out: Output) -> None:
    """Expire TABLE's old snapshots and delete the data, manifest, manifest-list and old metadata
    files that no retained snapshot, tag or branch reaches.

    Snapshots a tag or branch points at (including `lake pin --tag`) are never expired, unless the
    tag's or branch's retention (`lake tag --retain`, Iceberg's max-ref-age-ms) has ended: expire
    then removes the tag or branch first, as Iceberg does. Time travel to an expired snapshot then
    says it was expired.

    \b
    Examples:
      lake expire silver.events --dry-run
      lake expire silver.events --older-than 7d --retain-last 10
    """
    result = ctx.lake.expire(table, older_than=older_than, retain_last=retain_last, dry_run=dry_run)
    out.expired(result, dry_run)


@cli.command()
@click.argument("table", shell_complete=complete_tables)
@click.option("--older-than", default="3d", show_default=True,
              help="Only files older than this: a write in flight is never touched. At least 3d without --force.")  # fmt: skip
@click.option("--force", is_flag=True,
              help="Allow --older-than below 3d (only when no write to TABLE is running); warns on stderr.")  # fmt: skip
@dry_run_option
@output_option()
@pass_ctx
def gc(ctx: Context, table: str, older_than: str, force: bool, dry_run: bool, out: Output) -> None:
    """Delete orphan files under TABLE's location: files no metadata references, such as the
    leftovers of failed or killed writes. Works on S3 (list and batch delete) and local files.

    Audit branches (`lake-audit-*`) that a killed `lake run` left behind are dropped too, once
    older than the window, with the snapshots and files only they reach.

    \b
    Examples:
      lake gc silver.events --dry-run
      lake gc silver.events --older-than 7d --json
      lake gc scratch.tmp --older-than 0s --force    # nothing writes to scratch.tmp now
    """
    result = ctx.lake.gc(table, older_than=older_than, dry_run=dry_run, force=force)
    data = result.to_dict()
    out.warning(data["warning"])
    out.collected(table, data, dry_run)


@cli.command("rewrite-manifests")
@click.argument("table", shell_complete=complete_tables)
@dry_run_option
@output_option()
@pass_ctx
def rewrite_manifests(ctx: Context, table: str, dry_run: bool, out: Output) -> None:
    """Merge TABLE's small manifests into few of about 8 MB, in one `replace` snapshot.

    Every commit adds a manifest, and planning a query reads them all: after 400 fast appends
    planning took 740 ms against 26 ms with merged manifests. Tables that lake creates merge
    manifests on every append already (commit.manifest-merge.enabled=true), so this command is
    for tables written by other tools, or with merging turned off for the fastest appends.

    \b
    Examples:
      lake rewrite-manifests silver.events --dry-run
      lake rewrite-manifests silver.events --json
    """
    out.manifests_rewritten(table, ctx.lake.rewrite_manifests(table, dry_run=dry_run), dry_run)


@cli.command()
@click.argument("table", shell_complete=complete_tables)
@yes_option
@quiet_option
@dry_run_option
@output_option()
@pass_ctx
def maintain(ctx: Context, table: str, yes: bool, quiet: bool, dry_run: bool, out: Output) -> None:
    """Compact, rewrite manifests, expire snapshots (older than 5d, keep 1) and gc orphans (older
    than 3d) in one go. Shows the preview and asks first; --yes skips the question, and without a
    terminal nothing changes unless --yes is given.

    \b
    Examples:
      lake maintain silver.events
      lake maintain silver.events --yes --json
    """
    preview = ctx.lake.maintain(table, dry_run=True)
    if dry_run or not yes:
        out.maintenance_preview(preview)
    if dry_run:
        return
    if not yes:
        if not sys.stdin.isatty():
            raise LakehouseError("not a terminal: pass --yes to run maintenance (or --dry-run to preview)")
        click.confirm("Run this maintenance?", abort=True, err=True)
    with out.progress(f"maintain {table}", enabled=not quiet) as progress:
        result = ctx.lake.maintain(table, plan=preview.plan, on_progress=progress.callback)
    out.maintained(table, result)
