"""Text output of `lake drift`: one table per column kind, drifted columns first, then the verdict."""

from __future__ import annotations

from typing import Any

import click

from lakehouse.cli.output import Output
from lakehouse.cli.terminal import print_table


def _side(side: Any) -> str:
    ref = f" ({side.ref})" if side.ref and side.ref != str(side.snapshot_id) else ""
    return f"{side.table} at {side.snapshot_id}{ref}, {side.rows:,} rows"


def _num(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}g}"


def _pct(value: float) -> str:
    return f"{value:.1%}"


def _lag(seconds: float | None) -> str:
    if seconds is None:
        return ""
    days = seconds / 86400
    return f"{days:.1f}d" if abs(days) >= 1 else f"{seconds / 3600:.1f}h"


class DriftText(Output):
    def drifted(self, result: Any) -> None:
        r = result
        click.echo(f"reference: {_side(r.reference)}")
        click.echo(f"current:   {_side(r.current)}")
        for change in r.schema_changes:
            click.echo(f"  schema: {change.text}{' (drift)' if change.drifts else ''}")
        ordered = sorted(r.columns, key=lambda c: (not c.drifted, -(c.psi or 0)))
        numeric = [
            {"column": c.column, "psi": _num(c.psi), "ks D": _num(c.ks), "ks p": _num(c.ks_pvalue),
             "mean": f"{_num(c.reference.mean)} -> {_num(c.current.mean)}",
             "nulls": f"{_pct(c.reference.null_rate)} -> {_pct(c.current.null_rate)}",
             "drift": ", ".join(c.reasons) or "no"}
            for c in ordered if c.kind == "numeric"
        ]  # fmt: skip
        categorical = [
            {"column": c.column, "psi": _num(c.psi),
             "new": _examples(c.new_categories, c.new_category_count),
             "vanished": _examples(c.vanished_categories, c.vanished_category_count),
             "nulls": f"{_pct(c.reference.null_rate)} -> {_pct(c.current.null_rate)}",
             "drift": ", ".join(c.reasons) or "no"}
            for c in ordered if c.kind == "categorical"
        ]  # fmt: skip
        temporal = [
            {"column": c.column, "reference": f"{c.reference.min} .. {c.reference.max}",
             "current": f"{c.current.min} .. {c.current.max}",
             "newest behind now": f"{_lag(c.reference_lag_seconds)} -> {_lag(c.current_lag_seconds)}"}
            for c in ordered if c.kind == "temporal"
        ]  # fmt: skip
        for title, rows in (
            ("numeric", numeric),
            ("categorical", categorical),
            ("dates and times", temporal),
        ):
            if rows:
                click.echo(f"{title}:")
                print_table(rows)
        for note in r.notes:
            click.echo(f"note: {note}")
        limits = f"psi > {_num(r.thresholds.psi) or 'off'}, ks p < {_num(r.thresholds.ks) or 'off'}"
        click.echo(f"{r.message()} ({limits}; {r.seconds:.2f}s)")


def _examples(values: tuple[str, ...], count: int) -> str:
    if not count:
        return ""
    shown = ", ".join(values[:3])
    return f"{count}: {shown}" + (", ..." if count > 3 else "")
