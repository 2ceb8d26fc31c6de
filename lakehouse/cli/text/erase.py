"""Text output of `lake erase`."""

from __future__ import annotations

from typing import Any

import click

from lakehouse.cli.output import Output
from lakehouse.core.sizes import format_size


class EraseText(Output):
    def erased(self, result: Any, dry_run: bool) -> None:
        data = result.to_dict()
        table, rows = data["table"], data["matching_rows"]
        if not data["snapshots"]:
            click.echo(f"{table}: no row matches; nothing to erase")
            return
        verb = "would erase" if dry_run else "erased"
        click.echo(
            f"{table}: {verb} {rows} matching rows (erasure {data['erasure_id']}, predicate "
            f"{data['predicate_sha256'][:19]}...) from {len(data['files'])} data files"
        )
        for f in data["files"]:
            click.echo(
                f"  file {f['path']}: {f['matching']} of {f['rows']} rows match ({format_size(f['bytes'])})"
            )
        for s in data["snapshots"]:
            refs = f" [{', '.join(s['refs'])}]" if s["refs"] else ""
            new = data["rewritten"].get(str(s["snapshot_id"]))
            action = "re-created" if s["action"] == "recreate" else "removed (outside the retention window)"
            if dry_run:
                action = "would be " + action
            click.echo(f"  snapshot {s['snapshot_id']}{refs} {action}" + (f" as {new}" if new else ""))
        if dry_run:
            click.echo(f"  up to {len(data['files_deleted_at_most'])} files would be deleted")
            for path in data["files_deleted_at_most"]:
                click.echo(f"    {path}")
        else:
            click.echo(
                f"  wrote {data['written_files']} files ({format_size(data['written_bytes'])}), deleted "
                f"{data['deleted_files']} ({format_size(data['deleted_bytes'])}) in {data['seconds']:.2f}s"
            )
        if unsearched := data["equality_delete_files_not_searched"]:
            click.echo(
                f"  note: {len(unsearched)} equality delete files (another engine's) were not searched for "
                f"the values, e.g. {unsearched[0]}",
                err=True,
            )
