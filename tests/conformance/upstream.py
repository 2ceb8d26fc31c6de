"""Known upstream bugs, recorded once. Each oracle that would trip on one uses another independent
reader for that case; our own behaviour is never skipped.
"""

from __future__ import annotations

from pyiceberg.partitioning import PartitionSpec
from pyiceberg.transforms import IdentityTransform, TruncateTransform
from pyiceberg.types import DoubleType, FloatType, IcebergType, IntegerType, LongType, UUIDType

UPSTREAM = {
    "pyiceberg-double-partition": (
        "pyiceberg 0.12 reads double identity-partition values from manifests as float32; "
        "manifests.py reads the Avro with DuckDB read_avro instead of pyiceberg (no upstream issue found)",
        "",
    ),
    "pyiceberg-uuid-filter": (
        "pyiceberg 0.12 cannot prune identity-uuid partitions, and a row filter on a uuid column fails in "
        "pyarrow ('equal' has no kernel for extension<arrow.uuid>); oracle (e) uses DuckDB iceberg_scan "
        "for uuid columns",
        "https://github.com/apache/iceberg-python/issues/2372",
    ),
    "pyiceberg-inspect-files-uuid": (
        "pyiceberg 0.12 inspect.files() fails on tables with a uuid column; the suite never calls it "
        "(manifests.py reads the manifests itself)",
        "",
    ),
    "pyiceberg-truncate-overflow": (
        "pyiceberg 0.12 truncate[W] of an int/long near its minimum returns a value outside the type "
        "(truncate[10](-2**31) = -2147483650); Iceberg Java computes in the type and wraps (2147483646). "
        "Oracle (b) wraps pyiceberg's result the way Java does",
        "",
    ),
}

# Upstream bugs that reach lake's own results. The suite does not work around these: the oracle
# fails until lake avoids them (the failure message names the case). lake avoids the DuckDB pruning
# bugs by reading such tables without filter pushdown (lakehouse/read/pruning.py).
AFFECTS_LAKE = {
    "duckdb-iceberg-pre-epoch-transforms": (
        "DuckDB iceberg 1.5.5 computes day/month (and for DATE, month by 30-day division) of pre-1970 "
        "values wrongly when pruning, so `lake query ... WHERE ts = <pre-1970 time>` on a day/month/"
        "year/hour-partitioned table drops rows that pyiceberg finds (oracle e_filter_lake)",
        "https://github.com/duckdb/duckdb-iceberg/pull/1361, https://github.com/duckdb/duckdb-iceberg/issues/699",
    ),
    "duckdb-iceberg-delete-path-case": (
        "suspected, not yet filed: DuckDB iceberg 1.5.5 applies a positional delete for "
        ".../s=NULL/<f>.parquet to .../s=null/<f>.parquet as well (the paths differ only in case; lake "
        "gives both files the same name), so iceberg_scan and `lake query` lose a row that pyiceberg, "
        "polars and the strict reader keep (test_delete_files_from_another_writer[s])",
        "no upstream issue found",
    ),
    "pyiceberg-decimal-partition-precision": (
        "pyiceberg 0.12 refuses to serialize a truncate[W] partition value of a decimal(p,s) that needs "
        "p+1 digits (truncate[10] of -9999999.99 in decimal(9,2) is -10000000.00), so `lake ingest` fails "
        "with 'Cannot serialize value, precision of value is greater than precision of type'",
        "no upstream issue found",
    ),
    "duckdb-parquet-signed-zero": (
        "DuckDB 1.5.5's Parquet writer merges -0.0 and 0.0 in a dictionary-encoded float/double column, "
        "so after `lake ingest` (and compaction) every 0.0 of such a column reads back as -0.0 or the "
        "reverse (a_rows_* on float/double)",
        "https://github.com/duckdb/duckdb/issues/25781",
    ),
    "duckdb-iceberg-bucket-uuid": (
        "DuckDB iceberg 1.5.5 prunes away the files holding `v = <uuid>` on a bucket[N](uuid) partition "
        "(the spec's vector f79c3e09-... is bucket[4] = 0 in our manifests, as pyiceberg computes), so the "
        "independent filtered read of uuid columns uses DuckDB without pushdown",
        "no upstream issue found",
    ),
    "duckdb-iceberg-pruning-binary-decimal": (
        "suspected, not yet filed: DuckDB iceberg 1.5.5 prunes away the matching files for "
        "`v = <value>` on identity, bucket[N] and truncate[W] partitions of binary columns and "
        "truncate[W](decimal(38,s)) although the partition values agree with pyiceberg (oracle b "
        "passes), so an unguarded `lake query` would miss rows",
        "no upstream issue found",
    ),
}


# (type, transform) cases that fail because of an AFFECTS_LAKE bug lake cannot avoid yet: they run, and
# are expected to fail (strictly: a pass means upstream was fixed, and the entry must go).
KNOWN_FAILING = {
    ("decimal", "truncate[10]"): "pyiceberg-decimal-partition-precision",
}
# The same, for the wide sweep only: its 200-row files make DuckDB dictionary-encode float columns
# (double columns, whose values repeat less, pass).
KNOWN_FAILING_WIDE = {
    ("float", "none"): "duckdb-parquet-signed-zero",
    ("float", "identity"): "duckdb-parquet-signed-zero",
}


def java_wrap(value: int, source_type: IcebergType) -> int:
    """An int/long result wrapped to the source type's width, as Iceberg Java's arithmetic does."""
    from pyiceberg.types import IntegerType, LongType

    bits = 32 if isinstance(source_type, IntegerType) else 64 if isinstance(source_type, LongType) else 0
    if not bits:
        return value
    return (value + 2 ** (bits - 1)) % 2**bits - 2 ** (bits - 1)


def filter_reader(itype: IcebergType, spec: PartitionSpec, source_id: int) -> str:
    """The independent reader for oracle (e)'s filtered scan: pyiceberg unless an upstream bug bites."""
    if isinstance(itype, UUIDType):
        # UPSTREAM["pyiceberg-uuid-filter"], and DuckDB prunes bucket(uuid) wrongly (AFFECTS_LAKE)
        return "duckdb-unpruned"
    transforms = [f.transform for f in spec.fields if f.source_id == source_id]
    if isinstance(itype, (FloatType, DoubleType)) and any(
        isinstance(t, IdentityTransform) for t in transforms
    ):
        return "duckdb"  # UPSTREAM["pyiceberg-double-partition"]: pyiceberg prunes on float32 values
    if isinstance(itype, (IntegerType, LongType)) and any(
        isinstance(t, TruncateTransform) for t in transforms
    ):
        return (
            "duckdb"  # UPSTREAM["pyiceberg-truncate-overflow"]: pyiceberg's projection misses wrapped values
        )
    return "pyiceberg"
