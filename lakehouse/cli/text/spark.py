"""Text output of `lake spark-conf`: spark-submit arguments, a spark-defaults.conf file, or PySpark code."""

from __future__ import annotations

import shlex
from typing import Any

import click

from lakehouse.cli.output import Output


class SparkText(Output):
    def spark_conf(self, shown: Any, fmt: str) -> None:
        settings: dict[str, str] = shown.settings
        env: dict[str, str] = shown.placeholders
        if fmt == "properties":
            click.echo(f"# Spark settings for lake profile {shown.profile!r} (spark-defaults.conf)")
            if env:
                click.echo(
                    "# ${VAR}: put the value of environment variable VAR here (a file is not expanded)"
                )
            for key, value in settings.items():
                click.echo(f"{key}={value}")
        elif fmt == "pyspark":
            click.echo(_pyspark(settings, env))
        else:  # conf: arguments for spark-submit / pyspark / spark-sql, one per line
            lines = [f"--conf {_shell(key, value, key in env)}" for key, value in settings.items()]
            click.echo(" \\\n".join(lines))


def _shell(key: str, value: str, from_env: bool) -> str:
    if from_env:  # double quotes: the shell expands ${VAR} when the line is used
        return f'"{key}={value}"'
    return shlex.quote(f"{key}={value}")


def _pyspark(settings: dict[str, str], env: dict[str, str]) -> str:
    lines = [
        "import os",
        "",
        "from pyspark.sql import SparkSession",
        "",
        "spark = (",
        "    SparkSession.builder",
    ]
    for key, value in settings.items():
        shown = f'os.environ["{env[key]}"]' if key in env else repr(value)
        lines.append(f"    .config({key!r}, {shown})")
    lines += ["    .getOrCreate()", ")"]
    return "\n".join(lines)
