"""Values as JSON documents: dates, decimals and bytes spelled out, NaN as a string, errors masked."""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from lakehouse.cli.base import redact


def masked_errors(data: Any) -> Any:
    """`data` with every `error` message masked: a failing model or check may quote a credential (as
    DuckDB quotes a literal it cannot cast), and the JSON must not carry it where the error line doesn't."""
    if isinstance(data, dict):
        return {
            k: redact(v) if k == "error" and isinstance(v, str) else masked_errors(v) for k, v in data.items()
        }
    if isinstance(data, list):
        return [masked_errors(v) for v in data]
    return data


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return str(value)


def json_safe(value: Any) -> Any:
    """NaN and infinities are not JSON: write them as the strings "NaN", "Infinity" and "-Infinity"
    (as Spark's and BigQuery's JSON exports do), so every document parses and no value is lost."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


# Keys whose integer values are snapshot ids, and keys of maps (table -> snapshot id) or lists of them.
_ID_KEYS = frozenset({"snapshot_id", "parent_id", "snapshot"})
_ID_COLLECTIONS = frozenset({"snapshots", "inputs", "snapshot_ids", "compacted_into"})


def _is_id_key(key: str | None) -> bool:
    return key is not None and (key in _ID_KEYS or key.endswith("_snapshot_id"))


def ids_as_strings(data: Any, key: str | None = None, in_ids: bool = False) -> Any:
    """Snapshot ids written as strings, as pin files do: they are 63-bit, and jq and JavaScript read
    JSON numbers as doubles, which round them (a copied id would then name no snapshot). Python API
    results keep them as ints; only the CLI's documents change. Query result rows are user data and
    never pass through here."""
    if hasattr(data, "to_dict") and not isinstance(data, (dict, list, tuple, str)):
        data = data.to_dict()  # a result object: its ids are found by key like a dict's
    if isinstance(data, bool):
        return data
    if isinstance(data, int):
        return str(data) if in_ids or _is_id_key(key) else data
    collection = key in _ID_COLLECTIONS  # a map of table -> id, or a list of ids
    if isinstance(data, dict):
        return {k: ids_as_strings(v, k, collection) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        # items that are records start afresh: their own keys say which of their values are ids
        return [
            ids_as_strings(v, key, in_ids or collection)
            if isinstance(v, (int, float, str, type(None)))
            else ids_as_strings(v)
            for v in data
        ]
    return data


def to_json(data: Any) -> str:
    """A CLI document: snapshot ids as strings, non-finite floats spelled out, dates in ISO form."""
    return json.dumps(json_safe(ids_as_strings(data)), default=_default, indent=2, allow_nan=False)


def to_json_line(row: dict[str, Any]) -> str:
    return json.dumps(json_safe(row), default=_default, allow_nan=False)
