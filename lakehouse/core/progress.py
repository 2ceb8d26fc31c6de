"""Progress reports: a percentage that also says what it counts.

Callbacks (`on_progress=`) receive a `Done`, which is a float between 0 and 100, so a callback that
only wants the percentage keeps working; `done.detail` says what the number means for this command
("12.0MB of 45.6MB read", "3 of 12 files rewritten", "2 of 4 models done"), which a progress bar shows.
"""

from __future__ import annotations

from collections.abc import Callable

from lakehouse.core.sizes import format_size


class Done(float):
    """A percentage (0 to 100) with a line saying what has been done."""

    detail: str

    def __new__(cls, percent: float, detail: str = "") -> Done:
        done = super().__new__(cls, max(0.0, min(100.0, percent)))
        done.detail = detail
        return done


def bytes_read(on_progress: Callable[[float], None] | None, total: int) -> Callable[[float], None] | None:
    """A DuckDB percentage shown as bytes of the sources read."""
    if on_progress is None:
        return None
    report = on_progress

    def bytes_done(percent: float) -> None:
        report(Done(percent, f"{format_size(int(total * percent / 100))} of {format_size(total)} read"))

    return bytes_done


def counted(percent: float, done: int, total: int, noun: str) -> Done:
    """`3 of 12 files rewritten`: a count of whole things beside the percentage."""
    return Done(percent, f"{done:,} of {total:,} {noun}")
