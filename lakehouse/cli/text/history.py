"""Text output of the history commands: snapshots, tag, tags, rollback, pin."""

from __future__ import annotations

from typing import Any

import click

from lakehouse.cli.output import Output
from lakehouse.cli.terminal import note, print_table

SNAPSHOT_COLUMNS = [
    "snapshot_id", "parent_id", "committed_at", "published_at", "operation", "added_rows", "deleted_rows",
    "added_files", "deleted_files", "total_rows", "refs",
]  # fmt: skip


class HistoryText(Output):
    def snapshots(self, table: str, rows: list[dict[str, Any]]) -> None:
        shown = [
            {
                **r,
                "refs": ", ".join(r["refs"]) + (" (current)" if r["current"] and "main" not in r["refs"] else ""),
                "operation": r["operation"] + (f" (rollback to {r['rollback_to']})" if r["rollback_to"] else ""),
            }
            for r in rows
        ]  # fmt: skip
        print_table(shown, SNAPSHOT_COLUMNS, title=f"snapshots of {table}")

    def tagged(self, table: str, name: str, row: dict[str, Any], delete: bool) -> None:
        if delete:
            click.echo(
                f"deleted {row['type']} {name} of {table} (it pointed at snapshot {row['snapshot_id']})"
            )
            return
        keep = f", kept until {row['expires_at']}" if row["expires_at"] else ""
        click.echo(f"tagged {table} snapshot {row['snapshot_id']} as {row['type']} {name}{keep}")

    def tags(self, table: str, rows: list[dict[str, Any]]) -> None:
        print_table(
            rows, ["name", "type", "snapshot_id", "committed_at", "expires_at"], title=f"tags of {table}"
        )

    def rolled_back(self, table: str, plan: Any, result: dict[str, Any], dry_run: bool) -> None:
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

    def pinned(self, path: str, pin_file: Any) -> None:
        for p in pin_file.pins:
            click.echo(f"pinned {p.table} at snapshot {p.snapshot_id} ({p.committed_at}, {p.rows} rows)")
        click.echo(f"wrote {path}")

    def pins_verified(self, report: Any) -> None:
        """Each check as a note; the verdict on stdout when every check passed (else the error says it)."""
        for check in report.checks:
            note(f"{'ok  ' if check.ok else 'FAIL'} {check.table} @ {check.snapshot_id}: {check.reason}")
        if report.ok:
            click.echo(report.message())
