"""Parse and format the sizes and ages users type: `128MB`, `1GB`, `536870912`; `5d`, `12h`, `2 days`.

The one parser and formatter of both: every option, property and check that takes one uses these.

>>> parse_size("128MB")
134217728
>>> parse_duration("3d").total_seconds()
259200.0
>>> parse_duration("2 days") == parse_duration("48h")
True
"""

from __future__ import annotations

import re
from datetime import timedelta

from lakehouse.errors import LakehouseError

_UNITS = {
    "": 1, "b": 1,
    "k": 1024, "kb": 1024, "kib": 1024,
    "m": 1024**2, "mb": 1024**2, "mib": 1024**2,
    "g": 1024**3, "gb": 1024**3, "gib": 1024**3,
    "t": 1024**4, "tb": 1024**4, "tib": 1024**4,
}  # fmt: skip
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# The long spellings users write in data checks (`max_age: '2 days'`), as SQL intervals spell them.
_DURATION_NAMES = {
    **{name: "s" for name in ("s", "sec", "secs", "second", "seconds")},
    **{name: "m" for name in ("m", "min", "mins", "minute", "minutes")},
    **{name: "h" for name in ("h", "hr", "hrs", "hour", "hours")},
    **{name: "d" for name in ("d", "day", "days")},
    **{name: "w" for name in ("w", "week", "weeks")},
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)\s*")
_DURATION = re.compile(rf"^\s*(?:{_DURATION_PART.pattern})+$")
MAX_SIZE = 2**50  # 1 PB: beyond any file, memory or manifest size lake would ever use
MAX_DURATION = timedelta(days=100 * 366)


def shown(text: object) -> str:
    """The value as typed, cut short: an error line must stay one readable line."""
    value = repr(str(text))
    return value if len(value) <= 40 else value[:37] + "...'"


def parse_size(text: str | int, what: str = "size") -> int:
    """Bytes from `512MB`, `1GB`, `1.5GB` or plain bytes; units are binary (1 MB = 1024 * 1024 bytes)."""
    if isinstance(text, int):
        return text
    match = _SIZE.match(str(text))
    unit = match.group(2).lower() if match else ""
    if not match or unit not in _UNITS:
        raise LakehouseError(
            f"invalid {what} {shown(text)}: use bytes or a number with KB, MB, GB or TB, e.g. 512MB"
        )
    value = float(match.group(1)) * _UNITS[unit]
    if value > MAX_SIZE:
        raise LakehouseError(f"invalid {what} {shown(text)}: at most {format_size(MAX_SIZE)}")
    return int(value)


def format_size(n: int) -> str:
    """The shortest exact spelling: 134217728 -> `128MB`; otherwise one decimal."""
    for unit in ("TB", "GB", "MB", "KB"):
        scale = _UNITS[unit.lower()]
        if n >= scale and n % scale == 0:
            return f"{n // scale}{unit}"
    for unit in ("TB", "GB", "MB", "KB"):
        scale = _UNITS[unit.lower()]
        if n >= scale:
            return f"{n / scale:.1f}{unit}"
    return f"{n}B"


def parse_duration(text: str | timedelta, what: str = "--older-than") -> timedelta:
    """`5d`, `12h`, `30m`, `45s`, `1w`, `0s`, or spelled out: `2 days`, `12 hours`, `1 week`, `1 day 6 hours`."""
    if isinstance(text, timedelta):
        return text
    lowered = str(text).lower()
    parts = _DURATION_PART.findall(lowered) if _DURATION.match(lowered) else []
    if not parts or any(unit not in _DURATION_NAMES for _, unit in parts):
        raise LakehouseError(
            f"invalid {what} {shown(text)}: use a number with s, m, h, d or w, e.g. 5d, 12h or '2 days'"
        )
    seconds = sum(float(number) * _DURATION_UNITS[_DURATION_NAMES[unit]] for number, unit in parts)
    if seconds > MAX_DURATION.total_seconds():
        raise LakehouseError(f"invalid {what} {shown(text)}: at most 100 years")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit in ("w", "d", "h", "m"):
        if seconds and seconds % _DURATION_UNITS[unit] == 0:
            return f"{seconds // _DURATION_UNITS[unit]}{unit}"
    return f"{seconds}s"
