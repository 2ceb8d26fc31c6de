"""The oracles are checked too: pyiceberg's hashes against the spec's test vectors (appendix B), and
the checksum's order independence and strictness."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from pyiceberg.transforms import BucketTransform
from pyiceberg.types import (
    BinaryType,
    DateType,
    DecimalType,
    DoubleType,
    FixedType,
    IcebergType,
    IntegerType,
    LongType,
    StringType,
    TimestampType,
    TimestamptzType,
    TimeType,
    UUIDType,
)

from conformance.canon import canon, checksum, diff

SPEC_VECTORS: list[tuple[IcebergType, Any, int]] = [
    (IntegerType(), 34, 2017239379),
    (LongType(), 34, 2017239379),
    (DecimalType(4, 2), Decimal("14.20"), -500754589),
    (DateType(), dt.date(2017, 11, 16), -653330422),
    (TimeType(), dt.time(22, 31, 8), -662762989),
    (TimestampType(), dt.datetime(2017, 11, 16, 22, 31, 8), -2047944441),
    (
        TimestamptzType(),
        dt.datetime(2017, 11, 16, 14, 31, 8, tzinfo=dt.timezone(dt.timedelta(hours=-8))),
        -2047944441,
    ),
    (StringType(), "iceberg", 1210000089),
    (UUIDType(), uuid.UUID("f79c3e09-677c-4bbd-a479-3f349cb785e7"), 1488055340),
    (FixedType(4), b"\x00\x01\x02\x03", -188683207),
    (BinaryType(), b"\x00\x01\x02\x03", -188683207),
]


@pytest.mark.parametrize(("itype", "value", "expected"), SPEC_VECTORS, ids=[str(v[0]) for v in SPEC_VECTORS])
def test_oracle_bucket_hash_matches_the_spec_vectors(itype: IcebergType, value: Any, expected: int) -> None:
    assert BucketTransform(4).transform(itype, bucket=False)(value) == expected
    # so bucket[4] of the spec's uuid is 0: lake's write path must agree (defect 2)
    assert BucketTransform(4).transform(itype)(value) == (expected & 0x7FFFFFFF) % 4


def test_checksum_is_order_independent_and_strict() -> None:
    d = DoubleType()
    rows = [(1, canon(0.0, d)), (2, canon(float("nan"), d)), (3, canon(-0.0, d))]
    assert checksum(rows) == checksum(list(reversed(rows)))
    assert checksum(rows) != checksum([*rows, rows[0]])  # duplicates count
    assert canon(-0.0, d) != canon(0.0, d)  # a writer that loses the sign of zero is caught
    assert canon(float("nan"), d) == canon(-float("nan"), d)
    assert diff(rows, rows) == ""
    assert "missing 1" in diff(rows, rows[:2])
