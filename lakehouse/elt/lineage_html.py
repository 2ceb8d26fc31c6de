"""`lake lineage --format html`: one self-contained page that draws the table graph and shows a
table's column lineage when it is clicked.

The page inlines everything it needs: the graph data as JSON, dagre (graph layout, MIT, vendored from
npm in `assets/`, see `assets/README.md`) and our renderer (`assets/lineage.js`, SVG with pan, zoom and
click). It loads nothing, and its Content-Security-Policy forbids it to: it opens offline, from a file
or an attachment, and shows the same graph anywhere.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

from lakehouse.elt.lineage import Lineage

ASSETS = Path(__file__).resolve().parent / "assets"
DAGRE = "dagre.min.js"  # @dagrejs/dagre 3.1.3, dist/dagre.min.js as published (it bundles graphlib)


def render_html(lineage: Lineage, title: str = "lake lineage") -> str:
    """The page for `lineage` (computed with `columns=True` for column lineage on click)."""
    parts = {
        "title": html.escape(title),
        "style": asset("lineage.css"),
        "data": script_json(page_data(lineage)),
        "dagre": f"/*!\n{asset('LICENSE.dagre')}*/\n{inline_script(asset(DAGRE))}",
        "script": inline_script(asset("lineage.js")),
    }
    # One pass, so nothing inserted is searched for markers again.
    return re.sub(r"\{\{(\w+)\}\}", lambda m: parts[m.group(1)], asset("lineage.html"))


def page_data(lineage: Lineage) -> dict[str, Any]:
    """What the page draws: nodes, edges as [from, to], and column lineage per table as
    {table: {column: [[table, column], ...]}} (None when it was not computed)."""
    names = [n["name"] for n in lineage.nodes]
    columns: dict[str, dict[str, list[list[str]]]] | None = None
    if lineage.columns is not None:
        columns = {}
        for target, ups in lineage.columns.items():
            table, column = split_column(target, names)
            columns.setdefault(table, {})[column] = [list(split_column(up, names)) for up in ups]
    return {
        "nodes": lineage.nodes,
        "edges": [list(edge) for edge in lineage.edges],
        "columns": columns,
        "errors": lineage.errors,
    }


def split_column(ref: str, tables: list[str]) -> tuple[str, str]:
    """`ns.table.column` -> (`ns.table`, `column`): the longest known table the name starts with,
    else the first two parts (a table is `namespace.name`)."""
    known = [t for t in tables if ref.startswith(t + ".")]
    if known:
        table = max(known, key=len)
        return table, ref[len(table) + 1 :]
    namespace, name, column = (ref.split(".", 2) + ["", ""])[:3]
    return f"{namespace}.{name}", column


def asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


def inline_script(code: str) -> str:
    """Code safe inside <script>: the published file's source-map comment would point at a file the
    page does not have, and `</script` would end the element early."""
    code = re.sub(r"^//# sourceMappingURL=.*$", "", code, flags=re.MULTILINE)
    return re.sub(r"</(script)", r"<\\/\1", code, flags=re.IGNORECASE)


def script_json(value: Any) -> str:
    """JSON for a <script type="application/json"> element: `<`, `>` and `&` escaped, so no table
    description or column name can close the element or start markup."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
