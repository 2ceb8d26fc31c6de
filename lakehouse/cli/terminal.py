"""The terminal side of text output: rich tables and progress for people, plain and quiet when piped."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import click

# Tests (and a user capturing a table for a bug report) set LAKE_TERMINAL=1 to get the terminal output
# without a terminal.
FORCE = "LAKE_TERMINAL"


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty() or os.environ.get(FORCE) == "1"


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty() or os.environ.get(FORCE) == "1"


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
        click.echo("(none)" if stdout_is_terminal() else "", nl=stdout_is_terminal())
        return
    columns = list(columns or rows[0].keys())
    if not stdout_is_terminal():
        click.echo("\t".join(columns))
        for row in rows:
            click.echo("\t".join(_cell(row.get(c)) for c in columns))
        return
    numeric = {
        c
        for c in columns
        if all(_is_number(r.get(c)) for r in rows) and any(r.get(c) is not None for r in rows)
    }
    print_rich_table(columns, [[row.get(c) for c in columns] for row in rows], numeric, title)


def print_rich_table(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], numeric: set[str], title: str | None = None
) -> None:
    """A rich table for people: numbers right-aligned, NULL dim and distinct from an empty string,
    numbers and ids never wrapped (a folded id cannot be copied); other text folds to fit."""
    from rich.table import Table

    texts = [["NULL" if v is None else _cell(v) for v in row] for row in rows]
    table = Table(title=title, show_lines=False)
    for i, col in enumerate(columns):
        longest = max(len(r[i]) for r in texts)
        # short values (timestamps: 32 characters with a zone) stay on one line, like numbers and ids
        whole = col in numeric or _is_id(col) or longest <= 32
        widest = max(len(col), longest) if whole else None
        table.add_column(
            col, justify="right" if col in numeric else "left", no_wrap=whole,
            overflow="fold", min_width=widest,
        )  # fmt: skip
    for row, text in zip(rows, texts, strict=True):
        table.add_row(*(_null() if v is None else t for v, t in zip(row, text, strict=True)))
    console().print(table)


def _null() -> Any:
    from rich.text import Text

    return Text("NULL", style="dim")


def _is_number(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float, Decimal)) and not isinstance(value, bool))


def _is_id(column: str) -> bool:
    name = column.lower()
    return name == "id" or name.endswith(("_id", " id", "snapshot"))


def _cell(value: Any) -> str:
    """A value as people read it: dates in ISO form, bytes in hex, lists and dicts spelled out."""
    if value is None:
        return ""
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value)
    return str(value)


def sample_row(row: Any) -> str:
    """A check's sampled offending row: `id=3, day=2026-09-18, name=NULL`, not a Python repr."""
    if isinstance(row, dict):
        return ", ".join(f"{k}={'NULL' if v is None else _cell(v)}" for k, v in row.items())
    return _cell(row)


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
                TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                TextColumn("{task.fields[detail]}"), TimeElapsedColumn(),
                console=console(stderr=True), transient=True,
            )  # fmt: skip
            self._progress.start()
            self._task = self._progress.add_task(self.description, total=100, detail="")
        return self

    def update(self, percent: float) -> None:
        """`percent` may be a `lakehouse.core.progress.Done`, whose detail says what it counts."""
        if self._progress is not None:
            detail = getattr(percent, "detail", "")
            self._progress.update(self._task, completed=min(100.0, percent), detail=detail)

    @property
    def callback(self) -> Callable[[float], None] | None:
        return self.update if self.enabled else None

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
