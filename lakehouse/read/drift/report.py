"""`lake drift --format html`: one self-contained page a person reads instead of the numbers: a
verdict, the schema changes, then a card per column with the reference and current distributions
overlaid (plotly, its JavaScript inlined once, so the page works offline and loads nothing).

Numeric and temporal columns are drawn from `ColumnDrift.histogram` (equal-width bins over both sides'
range) as shares of each side's values, so sides of different sizes compare; categorical columns as
grouped bars over the PSI bins (the reference's top categories and "(other)"). Drifted columns come
first. Every name and category is escaped: table data never becomes markup or script.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

from lakehouse.errors import LakehouseError
from lakehouse.read.drift.result import Bin, ColumnDrift, DriftResult, Side

REFERENCE, CURRENT = "#2563eb", "#f97316"
STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #111827; background: #f9fafb; }
h1 { font-size: 20px; margin: 0 0 4px; } .sides { color: #4b5563; margin-bottom: 12px; }
.verdict { padding: 10px 14px; border-radius: 6px; font-weight: 600; margin: 12px 0; }
.verdict.drift { background: #fee2e2; color: #991b1b; } .verdict.ok { background: #dcfce7; color: #166534; }
.card { background: white; border: 1px solid #e5e7eb; border-radius: 8px; padding: 12px 16px; margin: 12px 0; }
.card.drifted { border-left: 6px solid #dc2626; } .card h2 { font-size: 16px; margin: 0 0 6px; }
.badge { font-size: 12px; padding: 1px 8px; border-radius: 10px; margin-left: 8px; background: #e5e7eb; }
.drifted .badge { background: #dc2626; color: white; } .reasons { color: #991b1b; }
table.figures { border-collapse: collapse; margin: 6px 0; } .figures td, .figures th { padding: 2px 10px 2px 0; text-align: left; }
.figures th { color: #6b7280; font-weight: normal; } ul.schema { margin: 4px 0 12px; } .note { color: #6b7280; }
"""


class ReportDependencyError(LakehouseError):
    """The HTML report needs plotly, an optional dependency."""


def _plotly() -> Any:
    try:
        import plotly.graph_objects as go
        import plotly.offline
    except ImportError:
        raise ReportDependencyError("--format html needs plotly: pip install 'lakehouse[report]'") from None
    return go, plotly.offline


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _num(value: float | str | None, digits: int = 3) -> str:
    if value is None:
        return "–"
    return value if isinstance(value, str) else f"{value:.{digits}g}"


def _side(side: Side) -> str:
    ref = f" ({_e(side.ref)})" if side.ref and side.ref != str(side.snapshot_id) else ""
    if side.snapshot_id is None:  # an empty table: nothing to read
        return f"<b>{_e(side.table)}</b> (no snapshot: empty){ref}, {side.rows:,} rows"
    return f"<b>{_e(side.table)}</b> at snapshot {_e(side.snapshot_id)}{ref}, {side.rows:,} rows"


def _shares(bins: tuple[Bin, ...], attr: str) -> list[float]:
    total = sum(getattr(b, attr) for b in bins) or 1
    return [getattr(b, attr) / total for b in bins]


def _figure(go: Any, column: ColumnDrift) -> Any:
    bins = column.histogram if column.kind != "categorical" else column.bins
    if not bins:
        return None
    fig = go.Figure()
    if column.kind == "categorical":
        # plotly reads a few tags in labels (<b>, <a>): escaped, a category is shown as text
        labels = [_e(b.label) for b in bins]
        for attr, name, color in (("reference", "reference", REFERENCE), ("current", "current", CURRENT)):
            fig.add_bar(x=labels, y=_shares(bins, attr), name=name, marker_color=color)
        # categories are labels even when they look like numbers ("10", "20"): never a numeric axis
        fig.update_layout(barmode="group", xaxis={"type": "category"})
    else:
        centers = [((b.lower or 0.0) + (b.upper or 0.0)) / 2 if b.lower is not None and b.upper is not None
                   else (b.upper if b.lower is None else b.lower) for b in bins]  # fmt: skip
        x: list[Any] = centers
        if column.kind == "temporal":
            x = [datetime.fromtimestamp(c, UTC).isoformat() if c is not None else None for c in centers]
        widths = [(b.upper - b.lower) * 1000 if column.kind == "temporal" else b.upper - b.lower
                  for b in bins if b.lower is not None and b.upper is not None]  # fmt: skip
        width = min(widths) if widths else None  # plotly's dates are in milliseconds
        for attr, name, color in (("reference", "reference", REFERENCE), ("current", "current", CURRENT)):
            fig.add_bar(x=x, y=_shares(bins, attr), name=name, marker_color=color, opacity=0.55, width=width)
        fig.update_layout(barmode="overlay", bargap=0)
    fig.update_layout(
        height=260, margin={"l": 50, "r": 10, "t": 10, "b": 40}, yaxis_tickformat=".0%",
        legend={"orientation": "h", "y": 1.12}, plot_bgcolor="white",
    )  # fmt: skip
    return fig


def _figures(column: ColumnDrift) -> str:
    ref, cur = column.reference, column.current
    rows = [
        ("rows", f"{ref.rows:,}", f"{cur.rows:,}"),
        ("missing", f"{ref.null_rate:.1%}", f"{cur.null_rate:.1%}"),
    ]
    if column.kind == "numeric":
        rows += [("mean", _num(ref.mean), _num(cur.mean)), ("std", _num(ref.std), _num(cur.std)),
                 ("min", _num(ref.min), _num(cur.min)), ("max", _num(ref.max), _num(cur.max))]  # fmt: skip
    if column.kind == "temporal":
        rows += [("range", f"{ref.min} .. {ref.max}", f"{cur.min} .. {cur.max}")]
        rows += [("newest behind now", _lag(column.reference_lag_seconds), _lag(column.current_lag_seconds))]
    body = "".join(f"<tr><th>{_e(a)}</th><td>{_e(b)}</td><td>{_e(c)}</td></tr>" for a, b, c in rows)
    tests = []
    if column.psi is not None:
        tests.append(f"PSI <b>{_num(column.psi)}</b>")
    if column.ks is not None:
        tests.append(f"KS D {_num(column.ks)}, p {_num(column.ks_pvalue)}")
    if column.new_category_count:
        tests.append(f"{column.new_category_count} new: {_e(', '.join(column.new_categories[:5]))}")
    if column.vanished_category_count:
        tests.append(
            f"{column.vanished_category_count} vanished: {_e(', '.join(column.vanished_categories[:5]))}"
        )
    head = "<tr><th></th><th>reference</th><th>current</th></tr>"
    return f"<p>{' · '.join(tests)}</p><table class='figures'>{head}{body}</table>"


def _lag(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds / 86400:.1f} days" if abs(seconds) >= 86400 else f"{seconds / 3600:.1f} hours"


def render_html(result: DriftResult) -> str:
    """The whole page, as text."""
    go, offline = _plotly()
    cards = []
    ordered = sorted(result.columns, key=lambda c: (not c.drifted, -(c.psi or 0.0)))
    for i, column in enumerate(ordered):
        fig = _figure(go, column)
        plot = "" if fig is None else fig.to_html(
            full_html=False, include_plotlyjs=False, div_id=f"plot-{i}", config={"displaylogo": False, "responsive": True}
        )  # fmt: skip
        reasons = f"<p class='reasons'>drift: {_e('; '.join(column.reasons))}</p>" if column.drifted else ""
        cards.append(
            f"<section class='card{' drifted' if column.drifted else ''}' data-column='{_e(column.column)}' "
            f"data-kind='{column.kind}'><h2>{_e(column.column)}<span class='badge'>{_e(column.kind)} · "
            f"{_e(column.type)}{' · drift' if column.drifted else ''}</span></h2>{reasons}"
            f"{_figures(column)}{plot}</section>"
        )
    schema = "".join(
        f"<li>{_e(c.kind)} <b>{_e(c.column)}</b>"
        + (f" (was {_e(c.old_name)})" if c.old_name else "")
        + (f": {_e(c.old_type)} → {_e(c.new_type)}" if c.kind == "retyped" else "")
        + (" — drift" if c.drifts else "") + "</li>"
        for c in result.schema_changes
    )  # fmt: skip
    verdict = "drift" if result.drifted else "ok"
    limits = f"PSI &gt; {_num(result.thresholds.psi)}, KS p &lt; {_num(result.thresholds.ks)}"
    notes = "".join(f"<p class='note'>{_e(n)}</p>" for n in result.notes)
    title = f"Drift: {result.reference.table}"
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{_e(title)}</title><style>{STYLE}</style>"
        f"<script>{offline.get_plotlyjs()}</script></head><body>"
        f"<h1>{_e(title)}</h1><div class='sides'>reference: {_side(result.reference)}<br>"
        f"current: {_side(result.current)}<br>computed {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
        f"drift when {limits}</div>"
        f"<div class='verdict {verdict}' id='verdict'>{_e(result.message())}</div>"
        + (f"<h3>Schema changes</h3><ul class='schema'>{schema}</ul>" if schema else "")
        + notes + "".join(cards)
        + "<script>document.body.dataset.ready = 'true';</script>"
        + "</body></html>\n"
    )  # fmt: skip
