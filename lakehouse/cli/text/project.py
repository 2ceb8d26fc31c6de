"""Text output of `lake init` and `lake info`."""

from __future__ import annotations

from typing import Any

import click

from lakehouse.cli.output import Output

_CONFIG_SOURCE = {
    "argument": "--config",
    "env": "LAKE_CONFIG",
    "project": "the project's",
    "built-in": "none: the built-in default",
}
_PROFILE_SOURCE = {
    "argument": "--profile",
    "env": "LAKE_PROFILE",
    "default": "the file's default",
    "first": "the file's first",
    "built-in": "built-in default",
}


class ProjectText(Output):
    def project_initialized(self, result: Any) -> None:
        click.echo(f"created a lake project in {result.root}")
        for name in result.written:
            click.echo(f"  {name}")
        for name in result.updated:
            click.echo(f"  {name} (added .lake/)")
        for name in result.kept:
            click.echo(f"  {name} (kept as it was)")
        for note in result.notes:
            click.echo(f"note: {note}", err=True)
        click.echo("next:")
        for step in result.next_steps:
            click.echo(f"  {step}")

    def project_info(self, info: Any) -> None:
        rows: list[tuple[str, str]] = []
        rows.append(
            ("project", info.project_root + (f" (has {info.root_marker})" if info.root_marker else ""))
        )
        config = info.config or "-"
        rows.append(("config", f"{config} ({_CONFIG_SOURCE.get(info.config_source, info.config_source)})"))
        others = [p for p in info.profiles if p != info.profile]
        rows.append(
            (
                "profile",
                f"{info.profile} ({_PROFILE_SOURCE.get(info.profile_source, info.profile_source)})"
                + (f"; also: {', '.join(others)}" if others else ""),
            )
        )
        rows.append(("catalog", f"{info.catalog_type} {info.catalog_uri or ''}".rstrip()))
        rows.append(("warehouse", info.warehouse))
        if info.s3_endpoint:
            endpoint = info.s3_endpoint
            if info.configured_endpoint:
                endpoint += f" (the running dev server's; the profile says {info.configured_endpoint})"
            rows.append(("s3 endpoint", endpoint))
        rows.append(("dev server", _dev(info.dev_server)))
        for probe in info.servers:
            answer = "answers" if probe.reachable else f"does not answer ({probe.reason})"
            rows.append(("reachable", f"{probe.what} {probe.url}: {answer}"))
        width = max(len(key) for key, _ in rows) + 2
        for key, value in rows:
            click.echo(f"{key:<{width}}{value}")
        for note in info.notes:
            click.echo(f"note: {note}", err=True)


def _dev(dev: Any) -> str:
    if dev.state == "running":
        return f"running at {dev.endpoint} (pid {dev.pid})"
    if dev.state == "stale":
        return f"not running (pid {dev.pid} is gone); `{dev.command}` restores the last save"
    if dev.state == "stopped":
        return f"not running; `{dev.command}` starts it"
    return f"n/a: {dev.reason}"
