"""Hive folder names of partitions: the one rule every writer of ours (ingest, compaction) follows.

A data file of a partitioned table lives under `<table>/data/<seg>/<seg>/.../`, one segment per
partition field in spec order, each `<name>=<value>`:

- `name` is the partition field's name, percent-encoded;
- `value` is the partition value's text (below), then percent-encoded: every UTF-8 byte outside
  `A-Z a-z 0-9 - . _ ~` becomes `%XX` (upper-case hex). This is exactly what DuckDB's PARTITION_BY
  writes, so most files are written in place;
- NULL is `__HIVE_DEFAULT_PARTITION__`, as in Hive, Spark and DuckDB;
- a text that is empty, equals `__HIVE_DEFAULT_PARTITION__` or starts with `~` gets one more `~` in
  front: `''` is `~`, the string `'__HIVE_DEFAULT_PARTITION__'` is `~__HIVE_DEFAULT_PARTITION__`. So no
  value is empty (S3 stores refuse an empty path segment) and no two values share a folder; `'null'`
  is `null`, distinct from NULL.

Decoding is the inverse: `__HIVE_DEFAULT_PARTITION__` is NULL; otherwise percent-decode and drop one
leading `~`. The value text is Iceberg's human string for `year`/`month`/`day`/`hour` (`2024`,
`2024-01`, `2024-01-01`, `2024-01-01-10`) and `bucket` (`3`); for identity and `truncate` it is the
text DuckDB's `CAST(v AS VARCHAR)` gives (`2024-01-01 10:00:00.5`, `1.50`, `true`, a UUID's 36
characters), except binary and fixed, which are base64 (Iceberg's human string). Iceberg Java and
pyiceberg write `null` for NULL and URL-encode spaces as `+`; we differ there so that the names
cannot collide.
"""

from __future__ import annotations

import base64
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

if TYPE_CHECKING:  # pyiceberg loads with the first value named (only writers and describe need it)
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.typedef import Record
    from pyiceberg.types import IcebergType

NULL_FOLDER = "__HIVE_DEFAULT_PARTITION__"
_MARK = "~"
_EPOCH = datetime(1970, 1, 1)


def encode_value(text: str | None) -> str:
    """The folder form of a partition value's text (None is NULL)."""
    if text is None:
        return NULL_FOLDER
    if text in ("", NULL_FOLDER) or text.startswith(_MARK):
        text = _MARK + text
    return quote(text, safe="")


def decode_value(folder_value: str) -> str | None:
    """`encode_value` reversed."""
    if folder_value == NULL_FOLDER:
        return None
    text = unquote(folder_value, errors="strict")
    return text[1:] if text.startswith(_MARK) else text


def segment(name: str, text: str | None) -> str:
    return f"{quote(name, safe='')}={encode_value(text)}"


def decode_segment(seg: str) -> tuple[str, str | None]:
    """`country=~` -> ("country", "")."""
    name, _, value = seg.partition("=")
    return unquote(name), decode_value(value)


def partition_path(spec: PartitionSpec, schema: Schema, record: Record) -> str:
    """`ts_day=2024-01-01/country=US` for a manifest partition tuple."""
    parts = []
    for pos, pfield in enumerate(spec.fields):
        source_type = schema.find_field(pfield.source_id).field_type
        parts.append(segment(pfield.name, value_text(pfield, source_type, record[pos])))
    return "/".join(parts)


def human_values(spec: PartitionSpec, schema: Schema, record: Record) -> dict[str, str | None]:
    """A partition as people read it: field name -> Iceberg's human string, None for NULL (pyiceberg's
    `to_human_string` says "null", which a string partition may hold too)."""
    types = spec.partition_type(schema).fields
    return {
        f.name: None if record[i] is None else f.transform.to_human_string(types[i].field_type, record[i])
        for i, f in enumerate(spec.fields)
    }


def value_text(pfield: PartitionField, source_type: IcebergType, value: Any) -> str | None:
    """The text of a manifest partition value (its Iceberg representation), as named in the folder."""
    from pyiceberg import transforms as t

    if value is None:
        return None
    transform = pfield.transform
    if isinstance(
        transform, (t.YearTransform, t.MonthTransform, t.DayTransform, t.HourTransform, t.BucketTransform)
    ):
        return transform.to_human_string(source_type, value)
    return source_text(source_type, value)


def source_text(source_type: IcebergType, value: Any) -> str:
    """DuckDB's VARCHAR text of a value of `source_type` (binary and fixed: base64)."""
    from pyiceberg import types as t

    if isinstance(source_type, (t.BinaryType, t.FixedType)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(source_type, t.UUIDType):
        return str(value if isinstance(value, uuid.UUID) else uuid.UUID(bytes=value))
    if isinstance(source_type, t.BooleanType):
        return "true" if value else "false"
    if isinstance(source_type, t.DecimalType):
        return format(Decimal(value), "f")
    if isinstance(source_type, t.DateType):
        return (
            (date(1970, 1, 1) + timedelta(days=value)).isoformat() if isinstance(value, int) else str(value)
        )
    if isinstance(source_type, t.TimeType):
        micros = value if isinstance(value, int) else None
        clock = (_EPOCH + timedelta(microseconds=micros)).time() if micros is not None else value
        return _trim(clock.isoformat())
    if isinstance(source_type, (t.TimestampType, t.TimestamptzType)):
        moment = _EPOCH + timedelta(microseconds=value) if isinstance(value, int) else value
        text = _trim(moment.replace(tzinfo=None).isoformat(sep=" "))
        return text + "+00" if isinstance(source_type, t.TimestamptzType) else text
    if isinstance(source_type, (t.FloatType, t.DoubleType)):
        return repr(float(value))
    return str(value)


def _trim(text: str) -> str:
    """DuckDB prints fractional seconds without trailing zeros: `10:00:00.5`, `10:00:00`."""
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
