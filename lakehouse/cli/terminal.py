"""The terminal side of text output: rich tables and progress for people, plain and quiet when piped."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import click


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


def console(stderr: bool = False, width: int | None = None) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=width)


def print_tree(tree: Any) -> None:
    """A rich tree on stdout; piped, its lines are never wrapped (a script reads one node a line)."""
    console(width=None if sys.stdout.isatty() else 1_000_000).print(tree)


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
