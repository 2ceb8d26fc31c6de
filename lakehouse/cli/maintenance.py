"""Maintenance commands: compact, expire, gc, rewrite-manifests and maintain."""

from __future__ import annotations

import sys
from typing import Any

import click

from lakehouse.cli.base import Context, cli
from lakehouse.cli.output import Progress, dry_run_option, emit_json, human_bytes, json_option, print_table

pass_ctx = click.make_pass_decorator(Context)


def _print_compaction_plan(plan: dict[str, Any]) -> None:
    rows = [
        {
            "partition": p["partition"] or "(unpartitioned)",
            "files": p["files"],
            "candidates": p["candidates"],
            "groups": len(p["groups"]),
            "input files": sum(g["input_files"] for g in p["groups"]),
            "input bytes": human_bytes(sum(g["input_bytes"] for g in p["groups"])),
            "expected outputs": sum(g["expected_output_files"] for g in p["groups"]),
            "note": p["skipped"] or "",
        }
        for p in plan["partitions"]
    ]
    print_table(rows, title=f"compaction plan for {plan['table']}")
    click.echo(
        f"{plan['input_files']} files ({human_bytes(plan['input_bytes'])}) in {plan['groups']} groups "
        f"-> about {plan['expected_output_files']} files of {human_bytes(plan['target_size'])} "
        f"(accepted {human_bytes(plan['min_size'])}..{human_bytes(plan['max_size'])})"
    )


@cli.command()
@click.argument("table")
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
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@dry_run_option
@json_option
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
    quiet: bool,
    dry_run: bool,
    as_json: bool,
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
    """
    with Progress(f"compact {table}", enabled=not quiet and not as_json and not dry_run) as progress:
        result = ctx.lake.compact(
            table, target_size=target_size, min_size=min_size, max_size=max_size,
            min_input_files=min_input_files, where=where, sort_by=sort_by, dry_run=dry_run,
            on_progress=progress.callback,
        )  # fmt: skip
    if as_json:
        emit_json(result.to_dict())
        return
    if dry_run:
        _print_compaction_plan(result.plan.to_dict())
        return
    if result.snapshot_id is None:
        click.echo(f"{table}: nothing to compact")
        return
    click.echo(
        f"compacted {table}: {result.files_before} files ({human_bytes(result.bytes_before)}) -> "
        f"{result.files_after} files ({human_bytes(result.bytes_after)}), {result.rows} rows, "
        f"snapshot {result.snapshot_id} ({result.seconds:.2f}s)"
    )


def _print_expire(data: dict[str, Any], dry_run: bool) -> None:
    verb = "would expire" if dry_run else "expired"
    click.echo(
        f"{data['table']}: {verb} {len(data['snapshots'])} snapshots older than {data['older_than']} "
        f"(keeping the last {data['retain_last']} and every tagged or branch snapshot)"
    )
    for ref in data["refs_removed"]:
        verb = "would remove" if dry_run else ("removed" if ref["name"] in data["removed_refs"] else "kept")
        click.echo(
            f"{verb} {ref['type']} {ref['name']} (snapshot {ref['snapshot_id']}, committed "
            f"{ref['committed_at']}; its retention ended {ref['expired_at']})"
        )
    by_kind = data["by_kind"] if dry_run else data["deleted_by_kind"]
    rows = [{"kind": k, "files": v["files"], "bytes": human_bytes(v["bytes"])} for k, v in by_kind.items()]
    if rows:
        print_table(rows, title="files only they reach" if dry_run else "deleted files")
    deleted = "would delete" if dry_run else "deleted"
    click.echo(f"{deleted} {data['deleted_files']} files, {human_bytes(data['deleted_bytes'])}")


@cli.command()
@click.argument("table")
@click.option(
    "--older-than", default="5d", show_default=True, help="Expire snapshots older than this (s, m, h, d, w)."
)
@click.option(
    "--retain-last", type=int, default=1, show_default=True, help="Always keep this many latest snapshots."
)
@dry_run_option
@json_option
@pass_ctx
def expire(ctx: Context, table: str, older_than: str, retain_last: int, dry_run: bool, as_json: bool) -> None:
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
    if as_json:
        emit_json(result.to_dict())
        return
    _print_expire(result.to_dict(), dry_run)


@cli.command()
@click.argument("table")
@click.option("--older-than", default="3d", show_default=True,
              help="Only files older than this: a write in flight is never touched. At least 3d without --force.")  # fmt: skip
@click.option("--force", is_flag=True,
              help="Allow --older-than below 3d (only when no write to TABLE is running); warns on stderr.")  # fmt: skip
@dry_run_option
@json_option
@pass_ctx
def gc(ctx: Context, table: str, older_than: str, force: bool, dry_run: bool, as_json: bool) -> None:
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
    if data["warning"]:
        click.echo(f"Warning: {data['warning']}", err=True)
    if as_json:
        emit_json(data)
        return
    if dry_run and data["orphans"]:
        print_table([{"path": o["path"], "bytes": human_bytes(o["bytes"]), "modified": o["modified"]}
                     for o in data["orphans"]])  # fmt: skip
    verb = "would delete" if dry_run else "deleted"
    click.echo(
        f"{table}: {verb} {data['deleted_files']} orphan files, {human_bytes(data['deleted_bytes'])}; "
        f"kept {data['kept_recent_orphans']} unreferenced files newer than {data['older_than']}"
    )
    if shared := data["shared_with"]:
        click.echo(
            f"{table}: kept every file of {', '.join(shared)}, which keeps its metadata in the same location"
        )
    if branches := data.get("abandoned_audit_branches"):
        click.echo(
            f"{table}: {'would drop' if dry_run else 'dropped'} abandoned audit branches {', '.join(branches)}"
        )


@cli.command("rewrite-manifests")
@click.argument("table")
@dry_run_option
@json_option
@pass_ctx
def rewrite_manifests(ctx: Context, table: str, dry_run: bool, as_json: bool) -> None:
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
    result = ctx.lake.rewrite_manifests(table, dry_run=dry_run)
    if as_json:
        emit_json(result)
        return
    verb = "would rewrite" if dry_run or result["snapshot_id"] is None else "rewrote"
    if result["manifests_after"] >= result["manifests_before"]:
        click.echo(f"{table}: {result['manifests_before']} manifests; nothing to merge")
        return
    click.echo(f"{table}: {verb} {result['manifests_before']} manifests into {result['manifests_after']}")


@cli.command()
@click.argument("table")
@click.option("--yes", "-y", is_flag=True, help="Do it without asking (required without a terminal).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@dry_run_option
@json_option
@pass_ctx
def maintain(ctx: Context, table: str, yes: bool, quiet: bool, dry_run: bool, as_json: bool) -> None:
    """Compact, rewrite manifests, expire snapshots (older than 5d, keep 1) and gc orphans (older
    than 3d) in one go. Shows the preview and asks first; --yes skips the question, and without a
    terminal nothing changes unless --yes is given.

    \b
    Examples:
      lake maintain silver.events
      lake maintain silver.events --yes --json
    """
    preview = ctx.lake.maintain(table, dry_run=True)
    plan = preview.plan.to_dict()
    if dry_run or not yes:
        if as_json:
            emit_json(preview.to_dict())
        else:
            _print_preview(plan)
    if dry_run:
        return
    if not yes:
        if not sys.stdin.isatty():
            raise click.ClickException(
                "not a terminal: pass --yes to run maintenance (or --dry-run to preview)"
            )
        click.confirm("Run this maintenance?", abort=True, err=True)
    with Progress(f"maintain {table}", enabled=not quiet and not as_json) as progress:
        result = ctx.lake.maintain(table, plan=preview.plan, on_progress=progress.callback)
    if as_json:
        emit_json(result.to_dict())
        return
    data = result.to_dict()
    c, m, e, g = data["compact"], data["rewrite_manifests"], data["expire"], data["gc"]
    click.echo(
        f"{table}: compacted {c['files_before']} files into {c['files_after']}; "
        f"manifests {m['manifests_before']} -> {m['manifests_after']}; "
        f"expired {len(e['snapshots'])} snapshots ({e['deleted_files']} files, {human_bytes(e['deleted_bytes'])}); "
        f"gc deleted {g['deleted_files']} orphans ({human_bytes(g['deleted_bytes'])})"
    )


def _print_preview(plan: dict[str, Any]) -> None:
    c, m, e, g = plan["compact"], plan["rewrite_manifests"], plan["expire"], plan["gc"]
    click.echo(f"maintenance of {plan['table']}:")
    click.echo(
        f"  compact:           {c['input_files']} files ({human_bytes(c['input_bytes'])}) in "
        f"{c['partitions_rewritten']} partitions -> about {c['expected_output_files']} files"
    )
    click.echo(f"  rewrite manifests: {m['manifests_before']} -> about {m['manifests_after']}")
    click.echo(
        f"  expire:            {len(e['snapshots'])} snapshots older than {e['older_than']}, "
        f"{e['files']} files ({human_bytes(e['bytes'])})"
    )
    click.echo(
        f"  gc:                {g['orphan_files']} orphan files ({human_bytes(g['orphan_bytes'])}) "
        f"older than {g['older_than']}"
    )
