"""DuckDB's errors of a read or a write, condensed to one line: what failed, in which file, at which line.

DuckDB reports reader errors over several lines and often without the file; the CSV checks of
`lakehouse.io.sources` name a malformed file's problem more precisely when DuckDB's message is vague.
"""

from __future__ import annotations

import re

from lakehouse.errors import LakehouseError, SourceError, StorageError
from lakehouse.io.engine import short_error
from lakehouse.io.sources import SourceSet, diagnose_csv, mixed_line_endings

_LINE = re.compile(r"[Ll]ine:?\s*(\d+)")
_FILE = re.compile(
    r"""(?:file|File)\s*[:"']?\s*["']?([^"'\s]+\.(?:csv|tsv|txt|jsonl?|ndjson|parquet|gz|zst))"""
)
_OWN_ERROR = "not a whole number"


def explain_source_error(exc: BaseException, sources: SourceSet | None = None) -> str:
    """DuckDB's multi-line reader errors condensed to `what, in which file, at which line`."""
    text = str(exc)
    if sources is not None:
        for info in sources.files.get("csv", []):
            delim = "\t" if info.path.lower().removesuffix(".gz").endswith(".tsv") else ","
            if problem := diagnose_csv(info.path, delim):
                return f"malformed CSV in {info.path}: {problem}"
        if "sniffing file" in text:  # DuckDB names no cause (and often no file) for these
            for info in sources.files.get("csv", []):
                if problem := mixed_line_endings(info.path):
                    return f"malformed CSV in {info.path}: {problem}"
    hint = sources.paths[0] if sources is not None and len(sources.paths) == 1 else None
    return _explain(text, exc, hint)


def _explain(text: str, exc: BaseException, file_hint: str | None) -> str:
    first = short_error(exc)
    if _OWN_ERROR in first:  # raised by our own SQL (a whole-number check): it already names column and file
        return first.split("Error: ", 1)[-1]
    line = _LINE.search(text)
    found = _FILE.search(text)
    file = found.group(1) if found else file_hint
    if "CSV Error" in text or "csv" in first.lower() and ("line" in text.lower()):
        return f"malformed CSV{_at(file, line)}: {_csv_reason(text)}"
    if "JSON" in text or "json" in first.lower():
        return f"malformed JSON{_at(file, line)}: {first.split(':', 1)[-1].strip()}"
    if "Could not convert" in text or "Conversion Error" in text:
        return f"bad value{_at(file, line)}: {first.split('Error:', 1)[-1].strip()}"
    return first + (_at(file, line) if file or line else "")


def _at(file: str | None, line: re.Match[str] | None) -> str:
    out = f" in {file}" if file else ""
    return out + (f" at line {line.group(1)}" if line else "")


def _csv_reason(text: str) -> str:
    for marker in (
        "Expected Number of Columns",
        "Could not convert",
        "Invalid unicode",
        "Value with unterminated quote",
        "Maximum line size",
    ):
        for line in text.splitlines():
            if marker.lower() in line.lower():
                return line.strip().rstrip(".")
    lines = [s.strip() for s in text.splitlines() if s.strip()]
    return lines[0].split("Error:", 1)[-1].strip() if lines else "unreadable"


def explain_write_error(exc: Exception, sources: SourceSet, table_name: str, location: str) -> LakehouseError:
    """A failed COPY, blamed on what failed: the store refusing a file we write (an HTTP 403 on its
    key, a full disk), the partition transform, or else the source."""
    text, first = str(exc), short_error(exc)
    if location in text or location.removeprefix("file://") in text:
        refused = " (the store refused the key; check write permission there)" if "403" in text else ""
        return StorageError(f"writing a data file of {table_name} failed: {first}{refused}")
    if "executing the UDF" in text or "lake_partition" in text:
        return LakehouseError(f"computing the partition values of {table_name} failed: {first}")
    return SourceError(explain_source_error(exc, sources))


def is_duckdb_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith(("duckdb", "_duckdb"))
