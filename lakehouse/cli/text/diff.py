"""Text output of `lake diff`: a summary, then the added, removed and changed rows."""

from __future__ import annotations

from typing import Any

import click

from lakehouse.cli.output import Output
from lakehouse.cli.terminal import print_table
from lakehouse.core.sizes import format_size


def _side(snapshot_id: int, ref: str | None) -> str:
    return f"{snapshot_id}" + (f" ({ref})" if ref is not None and ref != str(snapshot_id) else "")


def _change(c: Any) -> str:
    return c.text + (" (not compared)" if c.kind in ("added", "dropped") else "")


class DiffText(Output):
    def diffed(self, result: Any) -> None:
        r = result
        click.echo(
            f"{r.table}: snapshot {_side(r.from_snapshot_id, r.from_ref)} -> "
            f"{_side(r.to_snapshot_id, r.to_ref or 'current')}"
        )
        if r.snapshots:
            ops = ", ".join(f"{s.operation} {s.snapshot_id}" for s in r.snapshots)
            click.echo(f"  {len(r.snapshots)} snapshot(s) in between: {ops}")
        elif r.from_snapshot_id != r.to_snapshot_id:
            click.echo("  --to does not descend from --from: compared by content only")
        for change in r.schema_changes:
            click.echo(f"  schema: {_change(change)}")
        changed = f", {r.rows_changed} changed (key {', '.join(r.key)})" if r.key else ""
        click.echo(f"  rows: {r.rows_added} added, {r.rows_removed} removed{changed}")
        click.echo(f"  files: {r.files_added} added, {r.files_removed} removed")
        self._rows("added", r.added, r.rows_added, r.limit)
        self._rows("removed", r.removed, r.rows_removed, r.limit)
        if r.key:
            self._changed(r)
        click.echo(
            f"read {r.files_read} data file(s), {format_size(r.bytes_read)} (the table holds "
            f"{format_size(r.table_bytes)}) in {r.seconds:.2f}s"
        )

    def _rows(self, kind: str, rows: Any, total: int, limit: int | None) -> None:
        if not total or limit == 0:
            return
        shown = rows.to_pylist()
        more = f" (first {len(shown)} of {total})" if len(shown) < total else ""
        click.echo(f"{kind} rows{more}:")
        print_table(shown, rows.column_names)

    def _changed(self, r: Any) -> None:
        """Key columns, then `old -> new` for each column that differs in at least one row shown."""
        if not r.rows_changed or r.limit == 0:
            return
        shown = r.changed.to_pylist()
        differing = [c for c in r.columns if any(c in row["changed_columns"] for row in shown)]
        rows = [
            {
                **{k: row[k] for k in r.key},
                **{
                    c: f"{row['old_' + c]} -> {row['new_' + c]}" if c in row["changed_columns"] else ""
                    for c in differing
                },
            }
            for row in shown
        ]
        more = f" (first {len(shown)} of {r.rows_changed})" if len(shown) < r.rows_changed else ""
        click.echo(f"changed rows{more}, old -> new:")
        print_table(rows, [*r.key, *differing])
