"""Text output of the maintenance commands: compact, expire, gc, rewrite-manifests, maintain."""

from __future__ import annotations

from typing import Any

import click

from lakehouse.cli.output import Output
from lakehouse.cli.terminal import print_table
from lakehouse.core.sizes import format_size


class MaintenanceText(Output):
    def compacted(self, table: str, result: Any, dry_run: bool) -> None:
        if dry_run:
            _compaction_plan(result.plan.to_dict())
        elif result.snapshot_id is None:
            click.echo(f"{table}: nothing to compact")
        else:
            click.echo(
                f"compacted {table}: {result.files_before} files ({format_size(result.bytes_before)}) -> "
                f"{result.files_after} files ({format_size(result.bytes_after)}), {result.rows} rows, "
                f"snapshot {result.snapshot_id} ({result.seconds:.2f}s)"
            )

    def expired(self, result: Any, dry_run: bool) -> None:
        data = result.to_dict()
        verb = "would expire" if dry_run else "expired"
        click.echo(
            f"{data['table']}: {verb} {len(data['snapshots'])} snapshots older than {data['older_than']} "
            f"(keeping the last {data['retain_last']} and every tagged or branch snapshot)"
        )
        for ref in data["refs_removed"]:
            verb = (
                "would remove" if dry_run else ("removed" if ref["name"] in data["removed_refs"] else "kept")
            )
            click.echo(
                f"{verb} {ref['type']} {ref['name']} (snapshot {ref['snapshot_id']}, committed "
                f"{ref['committed_at']}; its retention ended {ref['expired_at']})"
            )
        by_kind = data["by_kind"] if dry_run else data["deleted_by_kind"]
        rows = [
            {"kind": k, "files": v["files"], "bytes": format_size(v["bytes"])} for k, v in by_kind.items()
        ]
        if rows:
            print_table(rows, title="files only they reach" if dry_run else "deleted files")
        deleted = "would delete" if dry_run else "deleted"
        click.echo(f"{deleted} {data['deleted_files']} files, {format_size(data['deleted_bytes'])}")

    def collected(self, table: str, data: dict[str, Any], dry_run: bool) -> None:
        if dry_run and data["orphans"]:
            print_table([{"path": o["path"], "bytes": format_size(o["bytes"]), "modified": o["modified"]}
                         for o in data["orphans"]])  # fmt: skip
        verb = "would delete" if dry_run else "deleted"
        click.echo(
            f"{table}: {verb} {data['deleted_files']} orphan files, {format_size(data['deleted_bytes'])}; "
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

    def manifests_rewritten(self, table: str, result: dict[str, Any], dry_run: bool) -> None:
        if result["manifests_after"] >= result["manifests_before"]:
            click.echo(f"{table}: {result['manifests_before']} manifests; nothing to merge")
            return
        verb = "would rewrite" if dry_run or result["snapshot_id"] is None else "rewrote"
        click.echo(f"{table}: {verb} {result['manifests_before']} manifests into {result['manifests_after']}")

    def maintenance_preview(self, preview: Any) -> None:
        plan = preview.plan.to_dict()
        c, m, e, g = plan["compact"], plan["rewrite_manifests"], plan["expire"], plan["gc"]
        click.echo(f"maintenance of {plan['table']}:")
        click.echo(
            f"  compact:           {c['input_files']} files ({format_size(c['input_bytes'])}) in "
            f"{c['partitions_rewritten']} partitions -> about {c['expected_output_files']} files"
        )
        click.echo(f"  rewrite manifests: {m['manifests_before']} -> about {m['manifests_after']}")
        click.echo(
            f"  expire:            {len(e['snapshots'])} snapshots older than {e['older_than']}, "
            f"{e['files']} files ({format_size(e['bytes'])})"
        )
        click.echo(
            f"  gc:                {g['orphan_files']} orphan files ({format_size(g['orphan_bytes'])}) "
            f"older than {g['older_than']}"
        )

    def maintained(self, table: str, result: Any) -> None:
        data = result.to_dict()
        c, m, e, g = data["compact"], data["rewrite_manifests"], data["expire"], data["gc"]
        click.echo(
            f"{table}: compacted {c['files_before']} files into {c['files_after']}; "
            f"manifests {m['manifests_before']} -> {m['manifests_after']}; "
            f"expired {len(e['snapshots'])} snapshots ({e['deleted_files']} files, "
            f"{format_size(e['deleted_bytes'])}); "
            f"gc deleted {g['deleted_files']} orphans ({format_size(g['deleted_bytes'])})"
        )


def _compaction_plan(plan: dict[str, Any]) -> None:
    rows = [
        {
            "partition": p["partition"] or "(unpartitioned)",
            "files": p["files"],
            "candidates": p["candidates"],
            "groups": len(p["groups"]),
            "input files": sum(g["input_files"] for g in p["groups"]),
            "input bytes": format_size(sum(g["input_bytes"] for g in p["groups"])),
            "expected outputs": sum(g["expected_output_files"] for g in p["groups"]),
            "note": p["skipped"] or "",
        }
        for p in plan["partitions"]
    ]
    print_table(rows, title=f"compaction plan for {plan['table']}")
    click.echo(
        f"{plan['input_files']} files ({format_size(plan['input_bytes'])}) in {plan['groups']} groups "
        f"-> about {plan['expected_output_files']} files of {format_size(plan['target_size'])} "
        f"(accepted {format_size(plan['min_size'])}..{format_size(plan['max_size'])})"
    )
    for reason in plan.get("left_alone", []):  # why the other partitions are not rewritten
        click.echo(f"left alone: {reason['message']}")
