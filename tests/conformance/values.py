"""Seeded values for every Iceberg primitive type, and the (type, transform) matrix of the suite.

Each type has a pool of edge values (the spec's hash test vectors, NaN, ±inf, -0.0, subnormals,
pre-1970 and far-future times, strings that need escaping in a path, ...). A table draws its rows
from a small pool so that two ingests land in the same partitions and compaction has work to do.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa

WIDE = os.environ.get("LAKE_CONFORMANCE") == "wide"
SEEDS = (0, 1) if WIDE else (0,)
ROWS = 200 if WIDE else 16  # rows per ingest
UTC = dt.UTC


@dataclass(frozen=True)
class ColumnType:
    """An Iceberg type as lake's schema string, its Arrow type for the Parquet we ingest, and edge values."""

    name: str  # short id used in test ids and CONFORMANCE.md
    schema: str  # lake / Iceberg type string
    arrow: pa.DataType
    edges: tuple[Any, ...]
    transforms: tuple[str, ...]

    def random_value(self, rng: random.Random) -> Any:
        return _RANDOM[self.name](rng)


def _ts(*args: int) -> dt.datetime:
    return dt.datetime(*args)  # type: ignore[arg-type]


_TIMESTAMPS = (
    _ts(2017, 11, 16, 22, 31, 8),  # the spec's hash test vector
    _ts(1969, 12, 31, 23, 59, 59, 999999),
    _ts(1970, 1, 1, 0, 0, 0),
    _ts(1900, 2, 28, 1, 2, 3, 4),
    _ts(2262, 4, 11, 23, 47, 16),
    _ts(9999, 12, 31, 23, 59, 59, 999999),
)
STRINGS = (
    "iceberg",  # spec vector
    "a/b",
    "k=v",
    "50%",
    "a+b",
    "why?",
    "sp ace",
    "",
    "NULL",
    "null",
    "ünïcødé",
    "日本語😀",
)
TIME_TRANSFORMS = ("identity", "bucket[4]", "year", "month", "day")

TYPES: tuple[ColumnType, ...] = (
    ColumnType("boolean", "boolean", pa.bool_(), (True, False), ("identity",)),
    ColumnType("int", "int", pa.int32(), (34, 0, -1, 2**31 - 1, -(2**31)), ("identity", "bucket[4]", "truncate[10]")),
    ColumnType(
        "long", "long", pa.int64(), (34, 0, -1, 2**63 - 1, -(2**63)), ("identity", "bucket[4]", "truncate[10]")
    ),
    ColumnType(
        "float", "float", pa.float32(),
        (0.5, -0.0, 0.0, float("nan"), float("inf"), float("-inf"), 1e-40, 3.4e38), ("identity",),
    ),
    ColumnType(
        "double", "double", pa.float64(),
        (0.30000000000000004, 1e-300, -1.79e308, 5e-324, -0.0, float("nan"), float("inf"), float("-inf")),
        ("identity",),
    ),
    ColumnType(
        "decimal", "decimal(9,2)", pa.decimal128(9, 2),
        (Decimal("14.20"), Decimal("0.00"), Decimal("-0.01"), Decimal("9999999.99"), Decimal("-9999999.99")),
        ("identity", "bucket[4]", "truncate[10]"),
    ),
    ColumnType(
        "decimal38", "decimal(38,6)", pa.decimal128(38, 6),
        (Decimal("14.200000"), Decimal("-1.000001"), Decimal("99999999999999999999999999999999.999999")),
        ("identity", "bucket[4]", "truncate[10]"),
    ),
    ColumnType(
        "date", "date", pa.date32(),
        (dt.date(2017, 11, 16), dt.date(1969, 12, 31), dt.date(1970, 1, 1), dt.date(1, 1, 1), dt.date(9999, 12, 31)),
        TIME_TRANSFORMS,
    ),
    ColumnType(
        "time", "time", pa.time64("us"),
        (dt.time(22, 31, 8), dt.time(0, 0), dt.time(23, 59, 59, 999999), dt.time(12, 0, 0, 1)),
        ("identity", "bucket[4]"),
    ),
    ColumnType("timestamp", "timestamp", pa.timestamp("us"), _TIMESTAMPS, (*TIME_TRANSFORMS, "hour")),
    ColumnType(
        "timestamptz", "timestamptz", pa.timestamp("us", "UTC"),
        tuple(t.replace(tzinfo=UTC) for t in _TIMESTAMPS), (*TIME_TRANSFORMS, "hour"),
    ),
    ColumnType("string", "string", pa.string(), STRINGS, ("identity", "bucket[4]", "truncate[2]")),
    ColumnType(
        "uuid", "uuid", pa.uuid(),
        (uuid.UUID("f79c3e09-677c-4bbd-a479-3f349cb785e7"), uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)),
        ("identity", "bucket[4]"),
    ),
    ColumnType(
        "fixed", "fixed[4]", pa.binary(4),
        (b"\x00\x01\x02\x03", b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"a/=%"), ("identity", "bucket[4]"),
    ),
    ColumnType(
        "binary", "binary", pa.binary(),
        (b"\x00\x01\x02\x03", b"", b"\xc3\x28", b"a/b=c", b"\xff" * 40), ("identity", "bucket[4]", "truncate[2]"),
    ),
)  # fmt: skip
TYPE_BY_NAME = {t.name: t for t in TYPES}
# Types lake refuses by design (README, "Supported types and transforms"): the suite checks the refusal.
REFUSED = {"fixed": "fixed[4]"}

_RANDOM = {
    "boolean": lambda r: r.random() < 0.5,
    "int": lambda r: r.randint(-(2**31), 2**31 - 1),
    "long": lambda r: r.randint(-(2**63), 2**63 - 1),
    "float": lambda r: float(pa.scalar(r.uniform(-1e6, 1e6), pa.float32()).as_py()),
    "double": lambda r: r.uniform(-1e12, 1e12),
    "decimal": lambda r: Decimal(r.randint(-(10**9) + 1, 10**9 - 1)).scaleb(-2),
    "decimal38": lambda r: Decimal(r.randint(-(10**38) + 1, 10**38 - 1)).scaleb(-6),
    "date": lambda r: dt.date(1970, 1, 1) + dt.timedelta(days=r.randint(-40000, 40000)),
    "time": lambda r: (dt.datetime(2000, 1, 1) + dt.timedelta(microseconds=r.randint(0, 86_400_000_000 - 1))).time(),
    "timestamp": lambda r: dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=r.randint(-(2**55), 2**55)),
    "timestamptz": lambda r: dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(microseconds=r.randint(-(2**55), 2**55)),
    "string": lambda r: "".join(r.choice("ab /=%+?é😀") for _ in range(r.randint(0, 6))),
    "uuid": lambda r: uuid.UUID(int=r.getrandbits(128)),
    "fixed": lambda r: r.randbytes(4),
    "binary": lambda r: r.randbytes(r.randint(0, 6)),
}  # fmt: skip


def cases() -> list[tuple[str, str]]:
    """Every (type, transform) the suite covers; `none` is the unpartitioned table of that type.

    The default run leaves out the unpartitioned tables (the all-types table of test_scenarios
    covers them) and decimal(38,6); the wide sweep runs everything."""
    if WIDE:
        return [(t.name, tr) for t in TYPES for tr in ("none", *t.transforms)]
    return [(t.name, tr) for t in TYPES if t.name != "decimal38" for tr in t.transforms]


def partition_by(transform: str, column: str = "v") -> str | None:
    """lake's --partition-by text for a transform name such as `bucket[4]`."""
    if transform == "none":
        return None
    if transform == "identity":
        return column
    if "[" in transform:
        name, width = transform.rstrip("]").split("[")
        return f"{name}({width}, {column})"
    return f"{transform}({column})"


NESTED_SCHEMA = "n struct<a: int, tags: list<string>, attrs: map<string, long>>"
NESTED_ARROW = pa.struct(
    [("a", pa.int32()), ("tags", pa.list_(pa.string())), ("attrs", pa.map_(pa.string(), pa.int64()))]
)


def table_schema(ctype: ColumnType) -> str:
    """id, the column under test `v`, a string `s`, and a nested struct/list/map column `n`."""
    return f"id long, v {ctype.schema}, s string, {NESTED_SCHEMA}"


def pool(ctype: ColumnType, rng: random.Random) -> list[Any]:
    """A few values to draw from: the edges, two random ones and NULL."""
    return [*ctype.edges, ctype.random_value(rng), ctype.random_value(rng), None]


def _nested(rng: random.Random) -> dict[str, Any] | None:
    if rng.random() < 0.15:
        return None
    tags = None if rng.random() < 0.2 else [rng.choice([*STRINGS, None]) for _ in range(rng.randint(0, 3))]
    attrs = (
        None if rng.random() < 0.2 else [(f"k{i}", rng.choice([i, None])) for i in range(rng.randint(0, 2))]
    )
    return {"a": rng.choice([None, 1, -(2**31)]), "tags": tags, "attrs": attrs}


def rows(ctype: ColumnType, seed: int, start: int, n: int = ROWS) -> pa.Table:
    """n rows with ids start.., drawn from the type's pool; every edge value appears in the first batch."""
    rng = random.Random(seed * 1_000_003 + start)
    values = pool(ctype, random.Random(seed))
    picked = [values[i] if start == 0 and i < len(values) else rng.choice(values) for i in range(n)]
    return pa.table(
        {
            "id": pa.array(range(start, start + n), pa.int64()),
            "v": pa.array([v.bytes if isinstance(v, uuid.UUID) else v for v in picked], ctype.arrow),
            "s": pa.array([rng.choice([*STRINGS, None]) for _ in range(n)], pa.string()),
            "n": pa.array([_nested(rng) for _ in range(n)], NESTED_ARROW),
        }
    )
