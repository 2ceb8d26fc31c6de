"""The `lake docs` site on disk: `index.html`, one self-contained page, and `docs.json`, its data.

The page inlines everything, as the lineage page does (lineage_html.py): the site data as JSON, the
table graph (dagre and `assets/lineage.js`, the renderer of `lake lineage --format html`) and the
page's own script (`assets/docs.js`), which shows the overview, one table, or the graph, from the URL's
`#`, and filters the tables as one types in the search box. Its Content-Security-Policy forbids loading
anything, so it opens offline, from a file. Every text the project wrote (descriptions, SQL, names)
reaches the page as JSON data and is shown as text, never parsed as markup.
"""

from __future__ import annotations

import html
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakehouse.elt.docsite.collect import DocsSite
from lakehouse.elt.lineage_html import DAGRE, asset, inline_script, page_data, script_json
from lakehouse.errors import LakehouseError

INDEX = "index.html"
DATA = "docs.json"


class DocsError(LakehouseError):
    """The docs site cannot be written where asked."""


@dataclass(frozen=True)
class DocsResult:
    """What `lake docs` wrote."""

    directory: str
    index: str
    files: tuple[str, ...]
    models: int
    sources: int
    built: tuple[str, ...]
    not_built: tuple[str, ...]
    stale: dict[str, str]  # model -> why `lake run` would rebuild it

    def to_dict(self) -> dict[str, Any]:
        return {
            "directory": self.directory,
            "index": self.index,
            "url": Path(self.index).as_uri(),
            "files": list(self.files),
            "models": self.models,
            "sources": self.sources,
            "built": list(self.built),
            "not_built": list(self.not_built),
            "stale": dict(self.stale),
        }


def render_page(site: DocsSite, title: str = "lake docs") -> str:
    """index.html for `site`."""
    parts = {
        "title": html.escape(title),
        "style": asset("lineage.css") + "\n" + asset("docs.css"),
        "data": script_json(site.to_dict()),
        "lineage": script_json(page_data(site.lineage)),
        "dagre": f"/*!\n{asset('LICENSE.dagre')}*/\n{inline_script(asset(DAGRE))}",
        "graph": inline_script(asset("lineage.js")),
        "script": inline_script(asset("docs.js")),
    }
    # One pass, so nothing inserted is searched for markers again.
    return re.sub(r"\{\{(\w+)\}\}", lambda m: parts[m.group(1)], asset("docs.html"))


def write_site(site: DocsSite, directory: str | os.PathLike[str]) -> DocsResult:
    """Write index.html and docs.json into `directory` (made when missing; other files are left)."""
    out = Path(directory)
    if out.exists() and not out.is_dir():
        raise DocsError(f"cannot write the docs to {out}: it is a file; pass -o DIR with a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        _write(out / DATA, json.dumps(site.to_dict(), indent=1, ensure_ascii=False, default=str) + "\n")
        _write(out / INDEX, render_page(site))
    except OSError as exc:
        raise DocsError(f"cannot write the docs to {out}: {exc.strerror or exc}") from None
    models = [t for t in site.tables if t.kind == "model"]
    return DocsResult(
        directory=str(out.resolve()),
        index=str((out / INDEX).resolve()),
        files=(INDEX, DATA),
        models=len(models),
        sources=len(site.tables) - len(models),
        built=tuple(t.name for t in site.tables if t.facts.built),
        not_built=tuple(t.name for t in site.tables if not t.facts.built),
        stale={t.name: t.facts.stale for t in models if t.facts.built and t.facts.stale},
    )


def _write(path: Path, text: str) -> None:
    """Replace `path` whole: a reader never sees half a page."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
