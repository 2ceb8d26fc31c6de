"""`lake docs`: a static documentation site for a project, one self-contained HTML directory.

`collect` gathers the facts (descriptions, columns, checks, lineage, each table's latest snapshot),
`facts` reads a table's schema and snapshot and says whether its build is stale, and `render` writes
`index.html` (opens offline: everything inline, nothing fetched) and `docs.json`.
"""

from __future__ import annotations

from lakehouse.elt.docsite.collect import DocsSite, build_site
from lakehouse.elt.docsite.render import DocsResult, write_site

__all__ = ["DocsResult", "DocsSite", "build_site", "write_site"]
