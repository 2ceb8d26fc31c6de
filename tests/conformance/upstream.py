"""Known upstream bugs, recorded once. Each oracle that would trip on one uses another independent
reader for that case; our own behaviour is never skipped.
"""

from __future__ import annotations

from pyiceberg.partitioning import PartitionSpec
from pyiceberg.transforms import IdentityTransform
from pyiceberg.types import IcebergType, UUIDType

UPSTREAM = {
    "pyiceberg-double-partition": (
        "pyiceberg 0.12 reads double identity-partition values from manifests as float32; "
        "manifests.py reads the Avro with DuckDB read_avro instead of pyiceberg",
        "",
    ),
    "pyiceberg-uuid-identity-filter": (
        "pyiceberg 0.12 cannot prune identity-uuid partitions (a filtered scan fails or misses rows); "
        "oracle (e) uses DuckDB iceberg_scan for that case",
        "",
    ),
    "pyiceberg-inspect-files-uuid": (
        "pyiceberg 0.12 inspect.files() fails on tables with a uuid column; the suite never calls it "
        "(manifests.py reads the manifests itself)",
        "",
    ),
}


def filter_reader(itype: IcebergType, spec: PartitionSpec, column_id_or_name: object) -> str:
    """The independent reader for oracle (e)'s filtered scan: pyiceberg unless an upstream bug bites."""
    if isinstance(itype, UUIDType) and any(isinstance(f.transform, IdentityTransform) for f in spec.fields):
        return "duckdb"  # UPSTREAM["pyiceberg-uuid-identity-filter"]
    return "pyiceberg"
