"""A project's views, stored where every lake command finds them: as namespace properties of the
catalog (`lake.view.<name>` = the view's SQL), which SQL and REST catalogs both keep.

`lake run` stores each `materialized='view'` model's SQL; `lake query` reads a name that is no table
through it, at the snapshots the query pins. Other engines do not see these views.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakehouse.table.catalog import split_identifier

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

PREFIX = "lake.view."


def store_view(catalog: Catalog, identifier: str, sql: str) -> bool:
    """Store (or replace) the view's SQL; False when it was stored already."""
    namespace, name = split_identifier(identifier)
    key = PREFIX + name.lower()
    if catalog.load_namespace_properties(namespace).get(key) == sql:
        return False
    catalog.update_namespace_properties(namespace, updates={key: sql})
    return True


def view_sql(catalog: Catalog, identifier: str) -> str | None:
    """The stored SQL of view `identifier`, if there is one."""
    from pyiceberg.exceptions import NoSuchNamespaceError

    namespace, name = split_identifier(identifier)
    try:
        return catalog.load_namespace_properties(namespace).get(PREFIX + name.lower())
    except NoSuchNamespaceError:
        return None
