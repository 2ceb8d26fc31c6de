"""Text output of the table and data commands: create, tables, describe, files, drop, ingest, query."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from lakehouse.cli.output import Output
from lakehouse.cli.terminal import note, print_table, stdout_is_terminal
from lakehouse.core.sizes import format_size

if TYPE_CHECKING:
    from lakehouse.lake import QueryResult


class TableText(Output):
    def created(self, table: str, location: str, info: dict[str, Any]) -> None:
        click.echo(f"created {table} at {location}")

    def table_names(self, names: list[str]) -> None:
        for name in names:
            click.echo(name)

    def described(self, info: dict[str, Any]) -> None:
        click.echo(f"table       {info['table']}")
        click.echo(f"location    {info['location']}")
        click.echo(f"partitions  {', '.join(info['partition_spec']) or '(unpartitioned)'}")
        snap = info["snapshot"]
        if snap:
            click.echo(f"snapshot    {snap['snapshot_id']} ({snap['operation']}, {snap['committed_at']})")
        else:
            click.echo("snapshot    (none: the table is empty)")
        click.echo(
            f"data        {info['data_files']} files, {format_size(info['data_bytes'])}, {info['rows']} rows"
            + ("" if info["rows_exact"] else " at most (equality deletes not applied)")
        )
        if info["delete_files"]:
            deleted = f"{'' if info['rows_exact'] else 'at least '}{info['data_rows'] - info['rows']}"
            click.echo(
                f"deletes     {info['delete_files']} delete files, {format_size(info['delete_bytes'])}, "
                f"{deleted} rows deleted"
            )
        schema = [
            {"id": c["id"], "column": c["name"], "type": c["type"], "required": "not null" if c["required"] else ""}
            for c in info["schema"]
        ]  # fmt: skip
        print_table(schema, title="schema")
        if info["properties"]:
            properties = [{"property": k, "value": v} for k, v in sorted(info["properties"].items())]
            print_table(properties, title="properties")

    def files(self, rows: list[dict[str, Any]]) -> None:
        print_table(
            [{**r, "bytes": format_size(r["bytes"])} for r in rows],
            ["path", "content", "partition", "rows", "bytes"],
        )

    def dropped(self, table: str, result: dict[str, Any], purge: bool, dry_run: bool) -> None:
        for warning in result.get("warnings", []):
            self.warning(warning)
        verb = "would drop" if dry_run else "dropped"
        if not purge:
            click.echo(f"{verb} {table}")
            return
        deleted = result["files"] if dry_run else result["deleted_files"]
        size = format_size(result["bytes"])
        click.echo(f"{verb} {table} and {'delete' if dry_run else 'deleted'} {deleted} files ({size})")
        kept = [*result["kept_outside_location"], *result["kept_shared"]]
        if kept:
            click.echo(
                f"kept {len(kept)} files it references that are outside {result['location']} "
                "or another table uses:"
            )
            for path in kept:
                click.echo(f"  {path}")

    def ingested(self, table: str, result: Any) -> None:
        extra = f"; added columns {', '.join(result.evolved_columns)}" if result.evolved_columns else ""
        if result.merge is not None:
            merged(table, result.merge, result.dry_run)
            if result.dry_run:
                return
        files = f"{result.files} files"
        if result.partitions:  # one file per partition, unless a write spans very many partitions
            most = result.max_files_per_partition
            each = "one per partition" if most == 1 else f"at most {most} per partition"
            files += f" in {result.partitions} partitions ({each})"
        click.echo(
            f"{result.mode} {result.rows} rows into {table}: {files}, "
            f"{format_size(result.bytes)}, snapshot {result.snapshot_id} ({result.seconds:.2f}s){extra}"
        )

    def query_result(self, result: QueryResult, fmt: str | None, output: str | None) -> None:
        """Notes on the snapshots read (terminal only), then rows: a table on a terminal, else csv."""
        from lakehouse.cli.results import format_for, write_result

        for name, snapshot_id in result.snapshots().items():
            note(f"read {name} at snapshot {snapshot_id}")
        fmt = fmt or ("table" if output is None and stdout_is_terminal() else format_for(output))
        write_result(result.reader, fmt, output)


def merged(table: str, plan: dict[str, Any], dry_run: bool) -> None:
    """A merge: rows updated and inserted, and the files (to be) rewritten."""
    verb = "would rewrite" if dry_run else "rewrote"
    click.echo(
        f"{'dry run: ' if dry_run else ''}merge into {table} on {', '.join(plan['keys'])}: "
        f"{plan['rows_updated']} rows updated, {plan['rows_inserted']} inserted; {verb} "
        f"{len(plan['files_rewritten'])} of {plan['files_live']} files ({format_size(plan['bytes_rewritten'])}, "
        f"{plan['files_read']} read after pruning)"
    )
    if dry_run:
        for f in plan["files_rewritten"]:
            click.echo(
                f"  {f['path']}  {f['rows']} rows, {format_size(f['bytes'])}, {f['matched_rows']} matched"
            )
