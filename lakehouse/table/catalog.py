"""Open the pyiceberg catalog a profile describes, and validate identifiers before they reach it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lakehouse.core.config import Profile, with_encoded_password
from lakehouse.errors import ConfigError, InvalidIdentifierError

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
# Keys that are ours, not pyiceberg's; they are stripped before the catalog sees the profile.
LAKE_PREFIX = "lake."


def split_identifier(identifier: str) -> tuple[str, str]:
    """`silver.events` -> ("silver", "events"); anything else is refused before any SQL or path sees it."""
    parts = identifier.split(".")
    if len(parts) != 2 or not all(_NAME.match(p) for p in parts):
        raise InvalidIdentifierError(
            f"invalid table name {identifier!r}: use namespace.table with letters, digits and underscores"
        )
    return parts[0], parts[1]


def check_namespace(namespace: str) -> str:
    if not _NAME.match(namespace):
        raise InvalidIdentifierError(f"invalid namespace {namespace!r}: use letters, digits and underscores")
    return namespace


def catalog_properties(profile: Profile) -> dict[str, str]:
    """pyiceberg properties for the profile; `postgres` is pyiceberg's SQL catalog on PostgreSQL."""
    props = {k: v for k, v in profile.properties.items() if not k.startswith(LAKE_PREFIX)}
    kind = props.get("type", "sql")
    if kind == "postgres":
        props["type"] = "sql"
        uri = props.get("uri", "")
        if uri.startswith("postgresql://") or uri.startswith("postgres://"):
            props["uri"] = "postgresql+psycopg2://" + with_encoded_password(uri).split("://", 1)[1]
        elif not uri.startswith("postgresql+"):
            raise ConfigError(
                f"profile {profile.name!r}: a postgres catalog needs uri: postgresql://user@host/db"
            )
    elif kind not in ("sql", "rest", "glue", "hive", "in-memory"):
        raise ConfigError(f"profile {profile.name!r}: unknown catalog type {kind!r}")
    if props.get("type") == "sql":
        props.setdefault("init_catalog_tables", "true")
    if kind == "rest" and props.get("rest.sigv4-enabled", "").lower() == "true":
        _sign_with_s3_keys(props)
    return props


def _rest_catalog(props: dict[str, str]) -> dict[str, str]:
    """Our RestCatalog (table/restcatalog.py) notes tables' locations and vended keys as they load."""
    if props.get("type") != "rest":
        return props
    rest = {k: v for k, v in props.items() if k != "type"}
    rest["py-catalog-impl"] = "lakehouse.table.restcatalog.LakeRestCatalog"
    return rest


# pyiceberg signs REST requests (SigV4) with `client.*` keys only; a profile's `s3.*` ones are the same
# credentials, so they sign too unless the profile gives `client.*` keys of its own.
_SIGNING_KEYS = {
    "client.access-key-id": "s3.access-key-id",
    "client.secret-access-key": "s3.secret-access-key",
    "client.session-token": "s3.session-token",
}


def _sign_with_s3_keys(props: dict[str, str]) -> None:
    if "client.access-key-id" not in props and props.get("s3.access-key-id"):
        props.update({client: props[s3] for client, s3 in _SIGNING_KEYS.items() if props.get(s3)})
    if "client.region" not in props and (
        region := props.get("s3.region") or props.get("rest.signing-region")
    ):
        props["client.region"] = region


def noted_locations(catalog: object) -> frozenset[str]:
    """Where the tables a REST catalog (table/restcatalog.py) handed out so far live: the bucket of
    each S3 location (a catalog puts new tables, such as a model's, next to its others), else the
    location itself; none for other catalogs."""
    found = getattr(catalog, "locations", None) or ()
    return frozenset(
        "s3://" + loc.split("://", 1)[1].split("/", 1)[0] + "/" if loc.startswith("s3://") else loc
        for loc in found
    )


def refresh_expiring(catalog: object) -> None:
    """Load again a REST catalog's tables whose vended keys are about to expire."""
    if callable(refresh := getattr(catalog, "refresh_expiring", None)):
        refresh()


def open_catalog(profile: Profile) -> Catalog:
    from pyiceberg.catalog import load_catalog

    props = _rest_catalog(catalog_properties(profile))
    _prepare_local(props)
    try:
        return load_catalog(profile.name, **props)
    except Exception as exc:  # pyiceberg and SQLAlchemy raise many kinds; show one line, never the URI
        raise ConfigError(
            f"cannot open catalog of profile {profile.name!r} ({type(exc).__name__}): "
            f"{_first_line_without_secrets(str(exc), profile)}"
        ) from None


def _prepare_local(props: dict[str, str]) -> None:
    """The embedded default needs its directories to exist before SQLite can open its file."""
    from pathlib import Path

    uri = props.get("uri", "")
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    warehouse = props.get("warehouse", "")
    if warehouse.startswith("file://"):
        Path(warehouse[len("file://") :]).mkdir(parents=True, exist_ok=True)


def _first_line_without_secrets(text: str, profile: Profile) -> str:
    from lakehouse.core.config import mask_secrets, redact_uri

    return mask_secrets(redact_uri(text.strip().splitlines()[0] if text.strip() else ""), profile.secrets())
