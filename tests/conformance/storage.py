"""Independent access to a lake's files: pyarrow file systems and a fresh DuckDB connection.

Nothing here goes through lakehouse's engine or storage modules; only the profile's properties
(endpoint, keys) and the extension binaries are shared.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import duckdb
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from lakehouse.core.config import Profile
from lakehouse.io.engine import extension_path


def is_s3(profile: Profile) -> bool:
    return profile.is_s3  # an s3:// warehouse, or a REST catalog's warehouse given by name


def filesystem(profile: Profile, path: str) -> tuple[pafs.FileSystem, str]:
    """A pyarrow file system and the path inside it, for any path form a writer may record."""
    parsed = urlparse(path)
    if parsed.scheme in ("s3", "s3a", "s3n"):
        props = profile.properties
        endpoint = urlparse(props.get("s3.endpoint", ""))
        fs = pafs.S3FileSystem(
            access_key=props.get("s3.access-key-id"),
            secret_key=props.get("s3.secret-access-key"),
            region=props.get("s3.region", "us-east-1"),
            endpoint_override=endpoint.netloc or None,
            scheme=endpoint.scheme or "https",
        )
        return fs, parsed.netloc + parsed.path
    if parsed.scheme in ("", "file"):
        return pafs.LocalFileSystem(), parsed.path
    raise AssertionError(f"path {path!r} has a scheme no reader here knows")


def read_parquet(profile: Profile, path: str) -> Any:
    fs, inner = filesystem(profile, path)
    return pq.read_table(inner, filesystem=fs)


_CONNECTIONS: dict[str, duckdb.DuckDBPyConnection] = {}


def duck(profile: Profile) -> duckdb.DuckDBPyConnection:
    """A standalone DuckDB connection (one per warehouse) with iceberg/avro/httpfs and an S3 secret."""
    key = profile.warehouse
    if key not in _CONNECTIONS:
        con = duckdb.connect()
        for name in ("avro", "httpfs", "iceberg"):
            con.execute(f"LOAD '{extension_path(name)}'")
        if is_s3(profile):
            props = profile.properties
            endpoint = urlparse(props["s3.endpoint"])
            con.execute(
                f"CREATE SECRET (TYPE s3, KEY_ID '{props['s3.access-key-id']}', "
                f"SECRET '{props['s3.secret-access-key']}', REGION '{props.get('s3.region', 'us-east-1')}', "
                f"ENDPOINT '{endpoint.netloc}', URL_STYLE 'path', USE_SSL false)"
            )
        _CONNECTIONS[key] = con
    return _CONNECTIONS[key].cursor()
