"""Saving and restoring the dev lake: the SQLite catalog and every object of moto's buckets, as one pair.

moto keeps objects in memory only, so a plain restart would leave the `dev` catalog pointing at objects
that are gone. A save copies the catalog (first) and then every object (streamed) to `.lake/dev/s3/`,
writes `.manifest.json` last and swaps the copy in. A restore uploads the objects again and puts the
saved catalog back; without a complete save, or when the restore fails, both are reset. Never a catalog
that points at missing objects.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from lakehouse.core.config import Profile
from lakehouse.dev.layout import DevPaths, bucket, catalog_db, now, one_line
from lakehouse.errors import LakehouseError

_MANIFEST = ".manifest.json"
_SAVED_CATALOG = ".catalog.db"


def save(profile: Profile, paths: DevPaths, server: Profile) -> dict[str, Any]:
    """Catalog first, then objects (so every object the saved catalog names is in the save)."""
    from lakehouse.io.storage import download_file, list_buckets, list_files

    shutil.rmtree(paths.saving, ignore_errors=True)
    paths.saving.mkdir(parents=True)
    db = catalog_db(profile)
    has_catalog = db.is_file()
    if has_catalog:
        _copy_sqlite(db, paths.saving / _SAVED_CATALOG)
    entries = []
    total = 0
    buckets = list_buckets(server)
    for name in buckets:
        for info in list_files(server, f"s3://{name}"):
            key = info.path.split("/", 3)[3]
            file = _local_name(name, key)
            download_file(server, info.path, paths.saving / file)
            entries.append({"bucket": name, "key": key, "file": file, "size": info.size})
            total += info.size
    manifest = {
        "saved_at": now(),
        "catalog": has_catalog,
        "buckets": buckets,
        "objects": entries,
        "bytes": total,
    }
    (paths.saving / _MANIFEST).write_text(json.dumps(manifest, indent=1))
    # Swap the complete save in; a crash in between leaves no manifest in `s3/`, which means reset.
    shutil.rmtree(paths.discarded, ignore_errors=True)
    if paths.saved.exists():
        paths.saved.rename(paths.discarded)
    paths.saving.rename(paths.saved)
    shutil.rmtree(paths.discarded, ignore_errors=True)
    return {"mode": "saved", "objects": len(entries), "bytes": total, "catalog": has_catalog}


def restore_or_reset(profile: Profile, paths: DevPaths, server: Profile) -> dict[str, Any]:
    from lakehouse.io.storage import ensure_bucket, upload_file

    db = catalog_db(profile)
    ensure_bucket(server, bucket(profile))
    manifest = read_manifest(paths)
    if manifest is None:
        if db.exists() or paths.saved.exists():
            return _reset(profile, paths, server, "no complete save of the objects; catalog reset with them")
        return {"mode": "fresh"}
    try:
        for name in manifest["buckets"]:
            ensure_bucket(server, name)
        for entry in manifest["objects"]:
            upload_file(server, paths.saved / entry["file"], f"s3://{entry['bucket']}/{entry['key']}")
        if manifest["catalog"]:
            db.parent.mkdir(parents=True, exist_ok=True)
            _copy_sqlite(paths.saved / _SAVED_CATALOG, db)
        else:
            _remove_sqlite(db)
    except (LakehouseError, OSError, sqlite3.Error, KeyError, TypeError) as exc:
        return _reset(profile, paths, server, f"restore failed ({one_line(exc)}); catalog and objects reset")
    return {
        "mode": "restored",
        "objects": len(manifest["objects"]),
        "bytes": manifest["bytes"],
        "saved_at": manifest["saved_at"],
    }


def _reset(profile: Profile, paths: DevPaths, server: Profile, reason: str) -> dict[str, Any]:
    """Empty the buckets, delete the catalog database and the save: a clean, consistent start."""
    from lakehouse.io.storage import delete_files, list_buckets, list_files

    _remove_sqlite(catalog_db(profile))
    for directory in (paths.saved, paths.saving, paths.discarded):
        shutil.rmtree(directory, ignore_errors=True)
    for name in list_buckets(server):
        delete_files(server, (f.path for f in list_files(server, f"s3://{name}")))
    return {"mode": "reset", "reason": reason}


def read_manifest(paths: DevPaths) -> dict[str, Any] | None:
    try:
        manifest = json.loads((paths.saved / _MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def saved_summary(paths: DevPaths) -> dict[str, Any] | None:
    manifest = read_manifest(paths)
    if manifest is None:
        return None
    return {
        "objects": len(manifest.get("objects", [])),
        "bytes": manifest.get("bytes"),
        "saved_at": manifest.get("saved_at"),
    }


def _local_name(bucket: str, key: str) -> str:
    """Every object is saved under a hashed name that the save's manifest maps back to its key: S3 keys
    may have segments over 255 bytes, `..`, or be both an object and a prefix (`a` and `a/b`), none of
    which a file system can hold as a path."""
    return f"objects/{bucket}/{hashlib.sha256(key.encode()).hexdigest()}"


def _copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy through SQLite's backup API (safe with open readers on either side)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def _remove_sqlite(db: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
