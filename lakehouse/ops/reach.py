"""Reachability: which files a table's metadata (every snapshot, tag and branch, the metadata log and
statistics) reaches, in canonical spelling. Expire, gc and purge delete only what this says is not
reached, by this table or by another catalog entry sharing its location."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyiceberg.manifest import ManifestContent, ManifestFile
from pyiceberg.table import Table
from pyiceberg.table.metadata import TableMetadata

from lakehouse.errors import LakehouseError
from lakehouse.io.paths import normalize, storage_root

if TYPE_CHECKING:
    from collections.abc import Sequence

    from lakehouse.table.claims import Claim


@dataclass
class Reach:
    """Files that a set of snapshots reaches: path (normalized) -> (kind, bytes; 0 if unknown), and
    each one's spelling in the metadata (what a deletion uses). A builder, not a plan."""

    files: dict[str, tuple[str, int]] = field(default_factory=dict)
    spelled: dict[str, str] = field(default_factory=dict)

    def add(self, path: str, kind: str, size: int = 0) -> None:
        key = normalize(path)
        self.files[key] = (kind, size)
        self.spelled.setdefault(key, path)

    def foreign(self, location: str) -> list[str]:
        """Paths a listing of `location` cannot be compared with: another scheme or bucket, relative."""
        root = storage_root(location)
        return sorted(p for p in self.spelled.values() if root is None or storage_root(p) != root)


class ManifestCache:
    """Live entries per manifest, read once however many snapshots share the manifest."""

    def __init__(self, table: Table) -> None:
        self.io = table.io
        self._entries: dict[str, list[tuple[str, str, int]]] = {}

    def entries(self, manifest: ManifestFile) -> list[tuple[str, str, int]]:
        if manifest.manifest_path not in self._entries:
            kind = "data" if manifest.content == ManifestContent.DATA else "delete"
            self._entries[manifest.manifest_path] = [
                (e.data_file.file_path, kind, e.data_file.file_size_in_bytes)
                for e in manifest.fetch_manifest_entry(self.io, discard_deleted=True)
            ]
        return self._entries[manifest.manifest_path]


def reach(table: Table, metadata: TableMetadata, snapshot_ids: Iterable[int], cache: ManifestCache) -> Reach:
    found = Reach()
    for snapshot_id in snapshot_ids:
        snapshot = metadata.snapshot_by_id(snapshot_id)
        if snapshot is None:
            continue
        found.add(snapshot.manifest_list, "manifest-list")
        for manifest in snapshot.manifests(table.io):
            found.add(manifest.manifest_path, "manifest", manifest.manifest_length)
            for path, kind, size in cache.entries(manifest):
                found.add(path, kind, size)
    return found


def reachable(table: Table, cache: ManifestCache | None = None, excluding: Iterable[int] = ()) -> Reach:
    """Everything the table's current metadata reaches: every snapshot (so every tag and branch),
    the current and logged metadata files, and statistics files. `excluding` leaves out snapshots
    that gc is about to remove (those of abandoned audit branches)."""
    metadata = table.metadata
    skip = set(excluding)
    ids = [s.snapshot_id for s in metadata.snapshots if s.snapshot_id not in skip]
    found = reach(table, metadata, ids, cache or ManifestCache(table))
    if table.metadata_location:
        found.add(table.metadata_location, "metadata")
    for entry in metadata.metadata_log:
        found.add(entry.metadata_file, "metadata")
    for stats in [*getattr(metadata, "statistics", []), *getattr(metadata, "partition_statistics", [])]:
        found.add(stats.statistics_path, "statistics")
    return found


def refuse_foreign(found: Reach, location: str, identifier: str) -> None:
    """gc compares a listing with the metadata: a file it cannot compare would look like an orphan."""
    if foreign := found.foreign(location):
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise LakehouseError(
            f"cannot gc {identifier}: its metadata names {foreign[0]}{more}, which a listing of {location} "
            "cannot be matched with (another scheme or bucket, or a relative path); nothing was deleted"
        )


def claimed_reach(table: Table, claims: Sequence[Claim], identifier: str) -> Reach:
    """Everything other catalog entries keeping metadata under this table's location reach (another
    profile's table at the same path): never to be deleted. An unreadable one stops the step."""
    from pyiceberg.table import StaticTable

    found = Reach()
    for claim in claims:
        try:
            other = StaticTable.from_metadata(claim.metadata_location, properties=table.io.properties)
            part = reachable(other)
        except Exception as exc:  # pyiceberg/pyarrow/fsspec raise many kinds: stop, delete nothing
            raise LakehouseError(
                f"{identifier} shares {table.location()} with {claim}, whose metadata "
                f"{claim.metadata_location} cannot be read ({type(exc).__name__}); nothing was deleted"
            ) from None
        found.files.update(part.files)
        for key, path in part.spelled.items():
            found.spelled.setdefault(key, path)
    return found


# Hadoop's checksum of `<name>` is `.<name>.crc` beside it; Spark writes one for every file.
def _checksum_of(path: str) -> str | None:
    folder, _, name = path.rpartition("/")
    if name.startswith(".") and name.endswith(".crc") and len(name) > len("..crc"):
        return f"{folder}/{name[1 : -len('.crc')]}"
    return None


def live(path: str, known: Mapping[str, Any] | set[str] | frozenset[str], location: str) -> bool:
    """Reached by the metadata, a checksum of such a file, or a Hadoop table's version hint."""
    key = normalize(path)
    if key in known:
        return True
    if (companion := _checksum_of(key)) is not None and live(companion, known, location):
        return True
    return key == normalize(location.rstrip("/") + "/metadata/version-hint.text")


def counts_by_kind(files: Mapping[str, tuple[str, int]]) -> dict[str, dict[str, int]]:
    """Files and bytes per kind (data, delete, manifest, manifest-list, metadata, statistics)."""
    out: dict[str, dict[str, int]] = {}
    for kind, size in files.values():
        slot = out.setdefault(kind, {"files": 0, "bytes": 0})
        slot["files"] += 1
        slot["bytes"] += size
    return out
