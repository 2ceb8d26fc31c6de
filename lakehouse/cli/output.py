"""Output shared by all commands: `--json` for machines, rich tables for people, quiet when piped."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def json_option(fn: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")(fn)


def dry_run_option(fn: F) -> F:
    return click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")(fn)


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return str(value)


def json_safe(value: Any) -> Any:
    """NaN and infinities are not JSON: write them as the strings "NaN", "Infinity" and "-Infinity"
    (as Spark's and BigQuery's JSON exports do), so every document parses and no value is lost."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def to_json(data: Any) -> str:
    return json.dumps(json_safe(data), default=_default, indent=2, allow_nan=False)


def emit_json(data: Any) -> None:
    click.echo(to_json(data))


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def print_table(
    rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None, title: str | None = None
) -> None:
    """Rows as a rich table on a terminal, tab-separated text when piped."""
    if not rows:
        click.echo("(none)" if sys.stdout.isatty() else "", nl=sys.stdout.isatty())
        return
    columns = list(columns or rows[0].keys())
    if not sys.stdout.isatty():
        click.echo("\t".join(columns))
        for row in rows:
            click.echo("\t".join(_cell(row.get(c)) for c in columns))
        return
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    console().print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def note(message: str, quiet: bool = False) -> None:
    """A human note on stderr, only on a terminal (stdout stays clean for data)."""
    if not quiet and stderr_is_terminal():
        click.echo(message, err=True)


class Progress:
    """A rich progress bar on stderr when it is a terminal; otherwise nothing at all."""

    def __init__(self, description: str, enabled: bool) -> None:
        self.enabled = enabled and stderr_is_terminal()
        self.description = description
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                console=console(stderr=True), transient=True,
            )  # fmt: skip
            self._progress.start()
            self._task = self._progress.add_task(self.description, total=100)
        return self

    def update(self, percent: float) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=min(100.0, percent))

    @property
    def callback(self) -> Callable[[float], None] | None:
        return self.update if self.enabled else None

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
