"""Order-independent comparison of rows read by different readers.

Every reader returns Arrow with its own conventions (a uuid as bytes, str or UUID; a map as a list of
tuples or of {key, value} structs; timestamptz in some zone). `canon` maps a value of a known Iceberg
type to one hashable form, strict where it matters: -0.0 stays distinct from 0.0, NaN equals NaN.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections import Counter
from decimal import Decimal
from typing import Any

import pyarrow as pa
from pyiceberg.schema import Schema
from pyiceberg.types import (
    DecimalType,
    DoubleType,
    FloatType,
    IcebergType,
    ListType,
    MapType,
    StructType,
    TimestampType,
    TimestamptzType,
    UUIDType,
)

Row = tuple[Any, ...]


def canon(value: Any, itype: IcebergType) -> Any:
    if value is None:
        return None
    if isinstance(itype, (FloatType, DoubleType)):
        f = float(value)
        return "NaN" if f != f else f.hex()
    if isinstance(itype, DecimalType):
        return Decimal(value).as_integer_ratio()
    if isinstance(itype, UUIDType):
        if isinstance(value, (bytes, bytearray)):
            return str(uuid.UUID(bytes=bytes(value)))
        return str(uuid.UUID(str(value)))
    if isinstance(itype, (TimestampType, TimestamptzType)):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value
    if isinstance(itype, StructType):
        return tuple(canon(value.get(f.name), f.field_type) for f in itype.fields)
    if isinstance(itype, ListType):
        return tuple(canon(v, itype.element_type) for v in value)
    if isinstance(itype, MapType):
        pairs = value.items() if isinstance(value, dict) else value
        pairs = [(p["key"], p["value"]) if isinstance(p, dict) else p for p in pairs]
        return tuple(
            sorted(((canon(k, itype.key_type), canon(v, itype.value_type)) for k, v in pairs), key=repr)
        )
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    return value


def table_rows(table: pa.Table, schema: Schema) -> list[Row]:
    """Canonical rows of `table`, columns taken by the names of `schema` (one reader's output)."""
    columns = []
    for field in schema.fields:
        values = table.column(field.name).to_pylist()
        columns.append([canon(v, field.field_type) for v in values])
    return list(zip(*columns, strict=False)) if columns else []


def checksum(rows: list[Row]) -> str:
    """Sum of per-row digests modulo 2**64: independent of row order, sensitive to duplicates."""
    total = 0
    for row in rows:
        total += int.from_bytes(hashlib.blake2b(repr(row).encode(), digest_size=8).digest(), "little")
    return f"{total % 2**64:016x}"


def diff(expected: list[Row], actual: list[Row], limit: int = 4) -> str:
    """A short description of a multiset difference, '' when equal."""
    exp, act = Counter(expected), Counter(actual)
    if exp == act:
        return ""
    missing, extra = list((exp - act).elements()), list((act - exp).elements())
    return (
        f"{len(expected)} rows expected, {len(actual)} read; missing {len(missing)}: {missing[:limit]}; "
        f"unexpected {len(extra)}: {extra[:limit]}"
    )
