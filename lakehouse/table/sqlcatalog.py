"""TEMPORARY stand-in (lead's tree) until the imports branch's light SQL catalog reader is merged."""

from __future__ import annotations

import sqlite3

from lakehouse.core.config import Profile
from lakehouse.errors import NoSuchTableError


def is_light(profile: Profile) -> bool:
    return profile.properties.get("type", "sql") == "sql" and profile.properties.get("uri", "").startswith(
        "sqlite:///"
    )


def metadata_location(profile: Profile, identifier: str) -> str:
    path = profile.properties["uri"][len("sqlite:///") :]
    namespace, name = identifier.split(".")
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        row = con.execute(
            "SELECT metadata_location FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?",
            (profile.name, namespace, name),
        ).fetchone()
        con.close()
    except sqlite3.Error:
        row = None
    if row is None:
        raise NoSuchTableError(f"table {identifier} does not exist")
    return str(row[0])
