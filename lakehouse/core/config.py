"""Profiles from `catalog/lake.yaml`: pyiceberg catalog properties under a name.

Lookup order for the file: explicit path > $LAKE_CONFIG > the project root's `catalog/lake.yaml` > a
built-in default (SQLite catalog and file warehouse under `<root>/.lake/`). The project root is the
nearest directory upwards holding `catalog/lake.yaml` or an existing `.lake/` (`core.project`), and
the working directory only when there is none.
Lookup order for the profile: explicit name > $LAKE_PROFILE > the file's `default`.
Relative paths in a profile are relative to the project root.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import yaml

from lakehouse.core.project import CONFIG_RELPATH, base_dir_of, find_root, running_dev_endpoint
from lakehouse.core.settings import Settings
from lakehouse.errors import ConfigError

_ENV_REF = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")
# Property names whose values are credentials; never shown. `uri` may embed a password too.
SECRET_KEYS = ("secret", "password", "token", "credential", "session", "access-key-id", "key-id")
# Credentials learnt while running (keys a REST catalog vends with a table, io/vended.py): masked too.
_LEARNT: set[str] = set()


def learn_secret(value: str) -> None:
    """Mask `value` wherever a profile's secrets are masked (a credential no profile spells out)."""
    if value:
        _LEARNT.add(value)


@dataclass(frozen=True)
class Profile:
    """One catalog profile: a name plus pyiceberg catalog properties (and `lake.*` settings)."""

    name: str
    properties: dict[str, str]
    config_path: Path | None = None
    base_dir: Path = field(default_factory=Path.cwd)
    # The profile's own s3.endpoint when it was aimed at a running `lake dev` server's port instead.
    configured_endpoint: str | None = field(default=None, compare=False)
    # The typed `lake.*` settings, read once here: a bad value fails when the profile loads.
    settings: Settings = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = f"profile {self.name!r}" + (f" in {self.config_path}" if self.config_path else "")
        object.__setattr__(self, "settings", Settings.from_properties(self.properties, where))

    @property
    def catalog_type(self) -> str:
        return self.properties.get("type", "sql")

    @property
    def warehouse(self) -> str:
        return self.properties["warehouse"]

    @property
    def is_s3(self) -> bool:
        """An s3:// warehouse, or a REST catalog's warehouse given by name (`lakewh`: Polaris,
        Lakekeeper, S3 Tables and SeaweedFS keep their tables in object storage)."""
        return self.warehouse.startswith("s3://") or (
            self.catalog_type == "rest" and not self.warehouse_location
        )

    @property
    def warehouse_location(self) -> str | None:
        """The warehouse when it is a location (`s3://b/w`, `file:///x`); None for a catalog's name
        for it, whose tables' locations only the catalog knows."""
        return self.warehouse if "://" in self.warehouse or self.warehouse.startswith("/") else None

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.properties.get(key, default)

    def public_properties(self) -> dict[str, str]:
        """Properties safe to show: secrets masked, passwords stripped from URIs."""
        return {k: redact_value(k, v) for k, v in self.properties.items()}

    def secrets(self) -> list[str]:
        """Every credential of the profile, in each spelling that could reach a message."""
        found: set[str] = set()
        for key, value in self.properties.items():
            if value and any(s in key.lower() for s in SECRET_KEYS):
                found.add(value)
            elif password := uri_password(value):
                found.add(password)
        found |= _LEARNT
        spellings = {form for value in found for form in (value, quote(value, safe=""), unquote(value))}
        return sorted((s for s in spellings if s), key=len, reverse=True)


def uri_password(value: str) -> str | None:
    """The password of `scheme://user:password@host/...`; the userinfo ends at the LAST `@`, so a
    password holding `@` or `:` is read whole (RFC 3986)."""
    if "://" not in value or "@" not in value.split("://", 1)[1]:
        return None
    userinfo = value.split("://", 1)[1].rpartition("@")[0]
    if ":" not in userinfo:
        return None
    return userinfo.split(":", 1)[1] or None


def with_encoded_password(uri: str) -> str:
    """`postgresql://u:p@ss:w@host/db` -> `postgresql://u:p%40ss%3Aw@host/db`, which every URL parser reads."""
    password = uri_password(uri)
    if password is None or password == quote(unquote(password), safe=""):
        return uri
    scheme, rest = uri.split("://", 1)
    userinfo, _, host = rest.rpartition("@")
    user = userinfo.split(":", 1)[0]
    encoded = f"{scheme}://{user}:{quote(password, safe='')}@{host}"
    if not urlsplit(encoded).hostname:
        raise ConfigError("the catalog uri has no host after its credentials")
    return encoded


def mask_secrets(text: str, secrets: list[str]) -> str:
    """Replace every secret, and any piece of one 4 or more characters long, with `***`."""
    secrets = [s for s in secrets if len(s) >= 4]  # shorter ones would mask ordinary words
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    for secret in secrets:
        for size in range(len(secret) - 1, 3, -1):
            for start in range(len(secret) - size + 1):
                piece = secret[start : start + size]
                if piece in text:
                    text = text.replace(piece, "***")
    return text


def redact_value(key: str, value: str) -> str:
    if any(s in key.lower() for s in SECRET_KEYS):
        return "***"
    return redact_uri(value)


def redact_uri(value: str) -> str:
    """`postgresql://user:pw@host/db` -> `postgresql://user:***@host/db` (up to the last `@` of the URI)."""
    return re.sub(r"(://[^:/@\s]+:)\S+@", r"\1***@", value)


def _expand(value: Any) -> str:
    """Expand `${VAR}` and `${VAR:-default}` so profiles can take ports and secrets from the environment."""
    text = str(value)
    return _ENV_REF.sub(lambda m: os.environ.get(m.group(1), m.group(2) or ""), text)


def find_config(explicit: str | os.PathLike[str] | None = None, start: Path | None = None) -> Path | None:
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        return path
    if env := os.environ.get("LAKE_CONFIG"):
        path = Path(env)
        if not path.is_file():
            raise ConfigError(f"LAKE_CONFIG points at {path}, which does not exist")
        return path
    root = find_root(start)
    return root.config if root is not None else None


def default_profile(base_dir: Path) -> Profile:
    """The embedded default: no server needed, everything under `.lake/`."""
    lake_dir = (base_dir / ".lake").resolve()
    return Profile(
        name="local",
        properties={
            "type": "sql",
            "uri": f"sqlite:///{lake_dir / 'catalog.db'}",
            "warehouse": f"file://{lake_dir / 'warehouse'}",
        },
        config_path=None,
        base_dir=base_dir,
    )


def load_profile(
    name: str | None = None, config: str | os.PathLike[str] | None = None, start: Path | None = None
) -> Profile:
    path = find_config(config, start)
    if path is None:
        if name not in (None, "local"):
            raise ConfigError(
                f"profile {name!r} not found: no {CONFIG_RELPATH} here or above, and no --config; "
                "`lake init` writes one with `local` and `dev` profiles"
            )
        # Inside a project without a config (only `.lake/`), the default lives at its root: never a
        # second, empty `.lake/` in a subdirectory.
        root = find_root(start)
        return default_profile(root.path if root is not None else (start or Path.cwd()))
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    profiles = document.get("profiles")
    if not isinstance(profiles, dict) or not profiles:
        raise ConfigError(f"{path} has no `profiles:` mapping")
    chosen = name or os.environ.get("LAKE_PROFILE") or document.get("default") or next(iter(profiles))
    if chosen not in profiles:
        raise ConfigError(f"profile {chosen!r} is not in {path}; it has: {', '.join(sorted(profiles))}")
    raw = profiles[chosen] or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"profile {chosen!r} in {path} must be a mapping of properties")
    # Relative paths in a profile are relative to the directory holding `catalog/`, i.e. the project root.
    base_dir = base_dir_of(path)
    props = {str(k): _expand(v) for k, v in raw.items()}
    props = {k: _resolve_relative(v, base_dir) for k, v in props.items()}
    if "warehouse" not in props:
        raise ConfigError(f"profile {chosen!r} in {path} needs a `warehouse` property")
    configured = None
    if running := running_dev_endpoint(base_dir, str(chosen), props.get("s3.endpoint")):
        # `lake dev up --port N` runs this profile's server: every command finds it, no LAKE_DEV_PORT.
        configured, props["s3.endpoint"] = props["s3.endpoint"], running
    return Profile(
        name=chosen, properties=props, config_path=path, base_dir=base_dir, configured_endpoint=configured
    )


def _resolve_relative(value: str, base_dir: Path) -> str:
    """`sqlite:///.lake/x.db` and `file://.lake/wh` are taken relative to the project root."""
    for prefix in ("sqlite:///", "file://"):
        if value.startswith(prefix) and not value[len(prefix) :].startswith("/"):
            return prefix + str((base_dir / value[len(prefix) :]).resolve())
    return value
