"""Which catalog entries claim a table location.

pyiceberg's SQL catalog partitions one database by `catalog_name` (the profile name). Two profiles
on the same database and warehouse therefore each see only their own `s.t`, yet both tables live
at the same path: each one's gc would take the other's files, and a purge would delete both. So
creation refuses a location another entry claims, and gc and purge keep whatever another entry
reaches. Only SQL catalogs share a database this way; other catalogs report no claims.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lakehouse.errors import LakehouseError
from lakehouse.io.paths import canonical
from lakehouse.table.catalog import split_identifier
from lakehouse.table.producers import default_location

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog


@dataclass(frozen=True)
class Claim:
    """Another catalog entry whose metadata lives under a location."""

    catalog_name: str
    identifier: str
    metadata_location: str

    def __str__(self) -> str:
        return f"table {self.identifier} of catalog {self.catalog_name!r}"


def claims(catalog: Catalog, identifier: str, location: str) -> list[Claim]:
    """Entries of the catalog's database, other than `identifier` in this catalog, whose metadata
    location falls under `location` (or is `location`'s own metadata folder)."""
    engine = getattr(catalog, "engine", None)  # pyiceberg's SqlCatalog: a SQLAlchemy engine
    inside = canonical(location)
    if engine is None or inside is None:
        return []
    from sqlalchemy import text

    namespace, name = split_identifier(identifier)
    query = "SELECT catalog_name, table_namespace, table_name, metadata_location FROM iceberg_tables"
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(query)).all()
    except Exception as exc:  # SQLAlchemy raises many kinds; say which step failed, in one line
        raise LakehouseError(
            f"cannot read the catalog's table list to check {location}: {type(exc).__name__}"
        ) from None
    found = []
    for catalog_name, ns, table, metadata_location in rows:
        if (catalog_name, ns, table) == (catalog.name, namespace, name) or not metadata_location:
            continue
        path = canonical(metadata_location)
        if path is not None and path.startswith(inside.rstrip("/") + "/"):
            found.append(Claim(catalog_name, f"{ns}.{table}", metadata_location))
    return sorted(found, key=lambda c: (c.catalog_name, c.identifier))


def refuse_claimed(catalog: Catalog, identifier: str) -> None:
    """Before creating `identifier` at its default location: one line naming an entry that already
    keeps files there."""
    if getattr(catalog, "engine", None) is None:
        return
    namespace, name = split_identifier(identifier)
    location = default_location(catalog, namespace, name)
    if found := claims(catalog, identifier, location):
        raise LakehouseError(
            f"cannot create {identifier} at {location}: {found[0]} already keeps its files there "
            "(same catalog database); give this profile another warehouse, or use that table"
        )
