"""Object storage: the only module that talks to boto3. Paths are `s3://bucket/key` or local paths.

Why not `pyarrow.fs` for listing and deleting (tried for issue 11): its S3 listing reports an empty
`folder/` marker object (Hadoop S3A writes them) as a folder, so gc would no longer see it; its local
listing follows symlinked folders, so gc would offer files outside the table as orphans; and deleting
400 objects one by one took 4.0 s against moto where one batched `delete_objects` took 0.03 s.
tests/test_gc_paths.py guards the first two."""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from lakehouse.core.config import Profile
from lakehouse.errors import StorageError
from lakehouse.io.vended import vended_for

_GLOB_CHARS = set("*?[")
# boto3 and botocore load on first use (about 0.1 s): local lakes and `lake --help` never need them.


@cache
def _s3_errors() -> tuple[type[Exception], ...]:
    """botocore's errors, for `except`: a failed request, and anything else botocore raises."""
    from botocore.exceptions import BotoCoreError, ClientError

    return ClientError, BotoCoreError


@dataclass(frozen=True)
class FileInfo:
    path: str
    size: int
    modified: datetime


@dataclass(frozen=True)
class S3Credentials:
    key_id: str | None
    secret: str | None
    session_token: str | None
    region: str
    endpoint: str | None

    def __repr__(self) -> str:  # never show a credential, even in a traceback or debugger
        return f"S3Credentials(region={self.region!r}, endpoint={self.endpoint!r})"


# `file:///x` (pyiceberg), `file:/x` (Hadoop, so Spark), `file://localhost/x`: one local path `/x`.
_FILE_PREFIX = re.compile(r"file:(?://(?:localhost)?)?(?=/(?!/))")


def is_s3(path: str) -> bool:
    return path.startswith(("s3://", "s3a://", "s3n://"))


def file_prefix(path: str) -> str:
    """The `file:` spelling in front of a local path (`file://` of `file:///x`), or ""."""
    found = _FILE_PREFIX.match(path)
    return found.group(0) if found else ""


def local_path(path: str) -> Path:
    return Path(path[len(file_prefix(path)) :])


def spelled_like(path: str, location: str) -> str:
    """A bare local path, as DuckDB reports what it wrote, spelled as `location` is (`file:///x/...`
    under `file:///x`), which is how pyiceberg spells the files it writes: one form per table."""
    prefix = file_prefix(location)
    return prefix + path if prefix and path.startswith("/") else path


def split_s3(path: str) -> tuple[str, str]:
    parsed = urlparse(path)
    return parsed.netloc, parsed.path.lstrip("/")


def credentials(profile: Profile, location: str | None = None) -> S3Credentials:
    """Keys a REST catalog vended for `location` first (io/vended.py), then the profile's properties,
    then boto3's chain (environment, shared files, instance roles)."""
    props = profile.properties
    key_id = props.get("s3.access-key-id")
    secret = props.get("s3.secret-access-key")
    token = props.get("s3.session-token")
    if location is not None and (given := vended_for(location, props.get("s3.endpoint"))) is not None:
        key_id, secret, token = given.key_id, given.secret, given.session_token
    if not key_id:
        import boto3  # noqa: TID251 - this module is the boto3 boundary

        found = boto3.Session().get_credentials()
        if found is not None:
            frozen = found.get_frozen_credentials()
            key_id, secret, token = frozen.access_key, frozen.secret_key, frozen.token
    region = props.get("s3.region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return S3Credentials(key_id, secret, token, region or "us-east-1", props.get("s3.endpoint"))


@cache
def _client(creds: S3Credentials) -> Any:
    import boto3  # noqa: TID251 - this module is the boto3 boundary
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=creds.endpoint,
        aws_access_key_id=creds.key_id,
        aws_secret_access_key=creds.secret,
        aws_session_token=creds.session_token,
        region_name=creds.region,
        config=Config(retries={"max_attempts": 8, "mode": "adaptive"}, s3={"addressing_style": "path"}),
    )


def s3_client(profile: Profile, location: str | None = None) -> Any:
    """A client with the keys for `location` (vended ones when the catalog gave some)."""
    return _client(credentials(profile, location))


def _s3_error(exc: Exception, what: str) -> StorageError:
    if isinstance(exc, _s3_errors()[0]):
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "?")
        return StorageError(f"{what}: S3 answered {code}")
    return StorageError(f"{what}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")


def ensure_bucket(profile: Profile, bucket: str) -> None:
    client = s3_client(profile)
    try:
        client.head_bucket(Bucket=bucket)
    except _s3_errors()[0]:
        try:
            client.create_bucket(Bucket=bucket)
        except _s3_errors() as exc:
            raise _s3_error(exc, f"cannot create bucket {bucket}") from None
    except _s3_errors()[1] as exc:
        raise _s3_error(exc, f"cannot reach bucket {bucket}") from None


def ensure_table_bucket(profile: Profile, name: str) -> None:
    """Create an S3 Tables bucket (a REST catalog's warehouse: SeaweedFS, AWS S3 Tables) unless it exists."""
    import boto3  # noqa: TID251 - this module is the boto3 boundary

    creds = credentials(profile)
    client = boto3.client(
        "s3tables", endpoint_url=creds.endpoint, region_name=creds.region, aws_access_key_id=creds.key_id,
        aws_secret_access_key=creds.secret, aws_session_token=creds.session_token,
    )  # fmt: skip
    try:
        client.create_table_bucket(name=name)
    except _s3_errors()[0] as exc:
        if getattr(exc, "response", {}).get("Error", {}).get("Code") not in (
            "ConflictException",
            "BucketAlreadyExists",
        ):
            raise _s3_error(exc, f"cannot create table bucket {name}") from None
    except _s3_errors()[1] as exc:
        raise _s3_error(exc, f"cannot reach table bucket {name}") from None


def list_files(profile: Profile, location: str) -> Iterator[FileInfo]:
    """Every file under a location (recursively), local or S3."""
    if is_s3(location):
        bucket, prefix = split_s3(location.rstrip("/") + "/")
        scheme = location.split("://", 1)[0]
        try:
            pages = (
                s3_client(profile, location)
                .get_paginator("list_objects_v2")
                .paginate(Bucket=bucket, Prefix=prefix)
            )
            for page in pages:
                for obj in page.get("Contents", []):
                    yield FileInfo(f"{scheme}://{bucket}/{obj['Key']}", obj["Size"], obj["LastModified"])
        except _s3_errors() as exc:
            raise _s3_error(exc, f"cannot list {location}") from None
        return
    root = local_path(location)
    if root.is_file():
        yield _local_info(root)
        return
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            yield _local_info(Path(dirpath) / name)


def _local_info(path: Path) -> FileInfo:
    stat = path.stat()
    return FileInfo(str(path), stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))


def expand(profile: Profile, pattern: str) -> list[FileInfo]:
    """A file, a directory (recursive) or a glob, local or S3; hidden and `_`-prefixed files are skipped."""
    if not any(ch in _GLOB_CHARS for ch in pattern):
        found = list(list_files(profile, pattern))
    else:
        root = _glob_root(pattern)
        found = [f for f in list_files(profile, root) if _glob_match(f.path, pattern)]
    return sorted((f for f in found if not _hidden(f.path)), key=lambda f: f.path)


def _glob_root(pattern: str) -> str:
    parts = pattern.split("/")
    fixed = []
    for part in parts:
        if any(ch in _GLOB_CHARS for ch in part):
            break
        fixed.append(part)
    return "/".join(fixed) or "."


def _glob_match(path: str, pattern: str) -> bool:
    # `**` matches across directories, `*` within one, as in most shells with globstar.
    if "**" in pattern:
        return fnmatch.fnmatch(path, pattern.replace("**/", "*").replace("**", "*"))
    return path.count("/") == pattern.count("/") and fnmatch.fnmatch(path, pattern)


def _hidden(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name.startswith(".") or name.startswith("_")


def delete_files(profile: Profile, paths: Iterable[str]) -> int:
    """Delete files; S3 in batches of 1,000 keys. Missing files are not an error."""
    deleted = 0
    by_bucket: dict[str, list[str]] = {}
    for path in paths:
        if is_s3(path):
            bucket, key = split_s3(path)
            by_bucket.setdefault(bucket, []).append(key)
        else:
            try:
                local_path(path).unlink()
                deleted += 1
            except FileNotFoundError:
                pass
    for bucket, keys in by_bucket.items():
        client = s3_client(profile, f"s3://{bucket}/{keys[0]}")
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            try:
                answer = client.delete_objects(
                    Bucket=bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True}
                )
            except _s3_errors() as exc:
                raise _s3_error(exc, f"cannot delete files in s3://{bucket}") from None
            if errors := answer.get("Errors"):
                raise StorageError(f"cannot delete s3://{bucket}/{errors[0]['Key']}: {errors[0].get('Code')}")
            deleted += len(chunk)
    return deleted


def abort_multipart_uploads(
    profile: Profile,
    location: str,
    name_prefix: str = "",
    *,
    initiated_before: datetime | None = None,
    contains: str = "",
) -> int:
    """Abort incomplete multipart uploads under a location whose file name starts with `name_prefix`
    (and, with `initiated_before`, that started before that time: `lake gc` spares uploads in flight)."""
    if not is_s3(location):
        return 0
    bucket, prefix = split_s3(location)
    client = s3_client(profile, location)
    aborted = 0
    try:
        answer = client.list_multipart_uploads(Bucket=bucket, Prefix=prefix)
        for upload in answer.get("Uploads", []):
            name = upload["Key"].rsplit("/", 1)[-1]
            if not name.startswith(name_prefix) or contains not in name.replace("-", ""):
                continue  # `contains`: a write id inside a commit UUID (a manifest of that write)
            if initiated_before is not None and upload["Initiated"] >= initiated_before:
                continue
            client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
            aborted += 1
    except _s3_errors() as exc:
        raise _s3_error(exc, f"cannot abort uploads under {location}") from None
    return aborted


def list_buckets(profile: Profile) -> list[str]:
    """Names of the buckets the profile's credentials can see at its endpoint."""
    try:
        answer = s3_client(profile).list_buckets()
    except _s3_errors() as exc:
        raise _s3_error(exc, "cannot list buckets") from None
    return sorted(b["Name"] for b in answer.get("Buckets", []))


def download_file(profile: Profile, path: str, target: Path) -> None:
    """Stream one S3 object to a local file (managed, chunked transfer; never held in memory)."""
    bucket, key = split_s3(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        s3_client(profile, path).download_file(bucket, key, str(target))
    except _s3_errors() as exc:
        raise _s3_error(exc, f"cannot download {path}") from None


def upload_file(profile: Profile, source: Path, path: str) -> None:
    """Stream one local file to an S3 object (multipart above the transfer threshold)."""
    bucket, key = split_s3(path)
    try:
        s3_client(profile, path).upload_file(str(source), bucket, key)
    except _s3_errors() as exc:
        raise _s3_error(exc, f"cannot upload {source} to {path}") from None
    except OSError as exc:
        raise StorageError(f"cannot read {source}: {exc.strerror or exc}") from None
