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


def to_json(data: Any) -> str:
    return json.dumps(json_safe(data), default=_default, indent=2, allow_nan=False)


def to_json_line(row: dict[str, Any]) -> str:
    return json.dumps(json_safe(row), default=_default, allow_nan=False)
