"""Text output of `lake dev up | down | status`."""

from __future__ import annotations

from typing import Any

import click

from lakehouse.cli.output import Output
from lakehouse.core.sizes import format_size


class DevText(Output):
    def dev_up(self, result: dict[str, Any]) -> None:
        if result.get("server") == "seaweedfs":
            _seaweed_up(result)
            return
        where = f"at {result['endpoint']} (pid {result['pid']}), bucket {result['bucket']}"
        if result["action"] == "already running":
            click.echo(f"already running {where}")
        else:
            click.echo(f"started moto S3 {where}")
            click.echo(_restore(result["restore"]))
        if note := result.get("note"):
            click.echo(f"note: {note}", err=True)

    def dev_down(self, result: dict[str, Any]) -> None:
        action = result["action"]
        if action == "stopped" and result.get("server") == "seaweedfs":
            click.echo(f"stopped SeaweedFS (pid {result['pid']}); its tables stay in {result['dir']}")
        elif action == "not running":
            click.echo("not running")
        elif action == "stale pid removed":
            click.echo(f"not running (removed the stale pid {result['pid']}); {result['message']}")
        else:
            save = result["save"]
            click.echo(
                f"saved {save['objects']} objects ({format_size(save['bytes'])}) and the catalog to .lake/dev/s3/"
            )
            click.echo(f"stopped moto S3 at {result['endpoint']} (pid {result['pid']})")

    def dev_status(self, result: dict[str, Any]) -> None:
        if result.get("server") == "seaweedfs":
            for key in ("state", "pid", "uri", "endpoint", "bucket", "dir", "log"):
                if result.get(key) is not None:
                    click.echo(
                        f"{'catalog' if key == 'uri' else 'warehouse' if key == 'bucket' else key:<9} {result[key]}"
                    )
            return
        click.echo(f"state     {result['state']}")
        if result["state"] == "running":
            click.echo(f"pid       {result['pid']}")
            click.echo(f"endpoint  {result['endpoint']}")
            click.echo(f"objects   {result['objects']}")
        elif "stale_pid" in result:
            click.echo(f"stale pid {result['stale_pid']} (process gone; `lake dev up` starts a new server)")
        click.echo(f"bucket    {result['bucket']}")
        saved = result["saved"]
        if saved:
            click.echo(
                f"saved     {saved['objects']} objects, {format_size(saved['bytes'] or 0)}, at {saved['saved_at']}"
            )
        else:
            click.echo("saved     (nothing: the next `up` starts empty)")
        click.echo(f"log       {result['log']}")


def _seaweed_up(result: dict[str, Any]) -> None:
    where = f"catalog {result['uri']}, S3 {result['endpoint']} (pid {result['pid']}), warehouse {result['bucket']}"
    if result["action"] == "already running":
        click.echo(f"already running: {where}")
        return
    click.echo(f"started SeaweedFS: {where}")
    kept = result["restore"]["mode"] == "kept"
    click.echo(
        f"{'serving the tables kept in' if kept else 'new, empty lake in'} {result['dir']}; profile {result['profile']}"
    )


def _restore(restore: dict[str, Any]) -> str:
    mode = restore["mode"]
    if mode == "restored":
        return (
            f"restored {restore['objects']} objects ({format_size(restore['bytes'])}) "
            f"and the catalog saved at {restore['saved_at']}"
        )
    if mode == "reset":
        return f"reset: {restore['reason']}"
    return "started empty (no saved state)"
