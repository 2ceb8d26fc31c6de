"""Every use of pyiceberg's private API, in one place: snapshot producers, staged refs and updates,
catalog requirements, and the few private helpers we call.

pyiceberg 0.12 has no public API for rewriting files, delete manifests, `replace` summaries, manifest
rewrites, branch moves inside a transaction, or custom commit requirements. The exact version pin in
pyproject.toml and this package are the guard: an upgrade is checked here, nowhere else (ruff's
SLF001 and banned-api rules keep private names out of every other module).
"""

from lakehouse.table.producers.erasure import point_ref, stage_erase
from lakehouse.table.producers.files import (
    DeleteManifestWriter,
    ReplaceFiles,
    RewriteFiles,
    RewriteManifests,
    commit_uuid,
    stage_append,
    stage_rewrite,
)
from lakehouse.table.producers.requirements import (
    AssertSnapshotsLive,
    AssertUnreferenced,
    ClearSnapshotLogUpdate,
    cleared_log,
)
from lakehouse.table.producers.transaction import (
    apply_updates,
    commit_once,
    default_location,
    iceberg_schema,
    point_branch,
    remove_ref,
    require,
    staged_snapshots,
    table_io,
    understands_custom_updates,
)

__all__ = [
    "AssertSnapshotsLive",
    "AssertUnreferenced",
    "ClearSnapshotLogUpdate",
    "DeleteManifestWriter",
    "ReplaceFiles",
    "RewriteFiles",
    "RewriteManifests",
    "apply_updates",
    "cleared_log",
    "commit_once",
    "commit_uuid",
    "default_location",
    "iceberg_schema",
    "point_branch",
    "point_ref",
    "remove_ref",
    "require",
    "stage_append",
    "stage_erase",
    "stage_rewrite",
    "staged_snapshots",
    "table_io",
    "understands_custom_updates",
]
