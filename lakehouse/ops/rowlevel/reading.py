"""The rows of some data files as they are live: read by Iceberg field id, with the table's delete
files applied (`lakehouse.io.fieldids.read_live`), so a rewrite never resurrects a deleted row. Each
row carries `lake_filename` (the data file's path as its manifest names it) and, when asked, `lake_pos`
(its row number in the file, for positional deletes)."""

from __future__ import annotations

from pyiceberg.manifest import ManifestEntry
from pyiceberg.table import Table

from lakehouse.io.fieldids import read_live


def live_relation(
    table: Table,
    data: list[ManifestEntry],
    deletes: tuple[ManifestEntry, ...] | list[ManifestEntry] = (),
    *,
    with_position: bool = False,
) -> str:
    """SQL over `data`'s live rows (those of the snapshot's `deletes` that apply to them removed)."""
    return read_live(table, [*data, *deletes], with_filename=True, with_position=with_position)
