"""Find source files (CSV, JSON Lines, Parquet) and check them before DuckDB reads them.

Globs and directories work locally and on S3. `key=value/` directories become columns
(Hive partitioning). What DuckDB would report confusingly (an empty file, gzip under a plain name,
a ragged CSV row, mixed line endings, an integer beyond a column's range) is named here, with its
file and line. `lakehouse.io.relations` builds the SQL that reads the files.
"""

from __future__ import annotations

import gzip
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lakehouse.core.config import Profile
from lakehouse.errors import SourceError
from lakehouse.io.storage import FileInfo, expand, is_s3, local_path

FORMATS = ("csv", "jsonl", "parquet")
_SUFFIXES = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
    ".parquet": "parquet", ".pq": "parquet",
}  # fmt: skip
_COMPRESSION = (".gz", ".zst")
_BLANK_MAX = 1 << 16  # a text file this small that holds only whitespace is reported as empty


@dataclass(frozen=True)
class SourceSet:
    """The files one ingest reads, grouped by format."""

    files: dict[str, list[FileInfo]]
    hive: bool

    @property
    def paths(self) -> list[str]:
        return [f.path for group in self.files.values() for f in group]

    @property
    def bytes(self) -> int:
        return sum(f.size for group in self.files.values() for f in group)


def detect_format(path: str) -> str | None:
    name = path.lower()
    for suffix in _COMPRESSION:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    for suffix, fmt in _SUFFIXES.items():
        if name.endswith(suffix):
            return fmt
    return None


def resolve_sources(profile: Profile, patterns: list[str], fmt: str = "auto") -> SourceSet:
    if not patterns:
        raise SourceError("no source given")
    groups: dict[str, list[FileInfo]] = defaultdict(list)
    for pattern in patterns:
        if not is_s3(pattern) and "*" not in pattern and not local_path(pattern).exists():
            raise SourceError(f"source {pattern} does not exist")
        found = expand(profile, pattern)
        if not found:
            raise SourceError(f"no files match {pattern}")
        for info in found:
            kind = fmt if fmt != "auto" else detect_format(info.path)
            if kind is None:
                if len(found) > 1:
                    continue  # a directory may hold _SUCCESS markers, READMEs and the like
                raise SourceError(f"cannot tell the format of {info.path}; pass --format csv|jsonl|parquet")
            _check_file(info, kind)
            groups[kind].append(info)
    if not groups:
        raise SourceError(f"no CSV, JSON Lines or Parquet files in {', '.join(patterns)}")
    hive = any(
        "=" in segment for p in patterns for f in groups.values() for i in f for segment in _rel(i.path, p)
    )
    return SourceSet(dict(groups), hive)


def hive_keys(sources: SourceSet) -> set[str]:
    """Column names that come from `key=value/` directories rather than from file contents."""
    if not sources.hive:
        return set()
    return {seg.split("=", 1)[0].lower() for p in sources.paths for seg in p.split("/")[:-1] if "=" in seg}


def diagnose_csv(path: str, delimiter: str = ",") -> str | None:
    """Find the first row whose field count differs from the header's: `line N: expected X fields, found Y`."""
    import csv

    if is_s3(path):
        return None
    opener = gzip.open if path.lower().endswith(".gz") else open
    try:
        with opener(local_path(path), "rt", newline="", encoding="utf-8-sig") as handle:  # type: ignore[operator]
            reader = csv.reader(handle, delimiter=delimiter)
            header = next(reader, None)
            if header is None:
                return "no header row"
            if problem := unnamed_column(header):
                return problem
            names = [h.strip().lower() for h in header]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                return f"duplicate column names in the header: {', '.join(dupes)}"
            for row in reader:
                if row and len(row) != len(header):
                    return f"line {reader.line_num}: expected {len(header)} fields, found {len(row)}"
    except UnicodeDecodeError as exc:
        return f"not UTF-8 text (byte {exc.start} of a line holds {exc.object[exc.start : exc.start + 1]!r})"
    except csv.Error as exc:
        return f"line {reader.line_num}: {exc}"
    return None


def unnamed_column(header: list[str] | tuple[str, ...]) -> str | None:
    """`column 3 of the header has no name (a trailing comma?)`: DuckDB would invent `column2`."""
    for position, name in enumerate(header, 1):
        if not name.strip():
            trailing = " (a trailing comma?)" if position == len(header) else ""
            return f"column {position} of the header has no name{trailing}; name every column"
    return None


def mixed_line_endings(path: str) -> str | None:
    """`line N ends in LF but line 1 in CRLF`: DuckDB's sniffer fails on such files with an empty message,
    and its lenient mode would also accept ragged rows, so we name the problem instead of reading it."""
    if is_s3(path):
        return None
    opener = gzip.open if path.lower().endswith(".gz") else open
    try:
        with opener(local_path(path), "rb") as handle:  # type: ignore[operator]
            first: bool | None = None
            for number, line in enumerate(handle, 1):
                if not line.endswith(b"\n"):
                    break  # the last line, without an ending
                crlf = line.endswith(b"\r\n")
                if first is None:
                    first = crlf
                elif crlf != first:
                    style = {True: "CRLF", False: "LF"}
                    return (
                        f"line {number} ends in {style[crlf]} but line 1 in {style[first]}: mixed line endings; "
                        "convert the file to one style (e.g. with dos2unix)"
                    )
    except OSError:
        return None
    return None


def _rel(path: str, pattern: str) -> list[str]:
    root = pattern.split("*", 1)[0].rstrip("/")
    rel = path[len(root) :] if path.startswith(root) else path
    return rel.strip("/").split("/")[:-1]


def _check_file(info: FileInfo, kind: str) -> None:
    """Catch what DuckDB would report confusingly: empty files and gzip data under a plain name."""
    if info.size == 0:
        raise SourceError(f"{info.path} is empty")
    if is_s3(info.path):
        return
    with open(local_path(info.path), "rb") as handle:
        head = handle.read(_BLANK_MAX)
    if kind != "parquet" and len(head) == info.size and not head.strip():
        raise SourceError(f"{info.path} is empty (it holds only blank lines)")
    if kind == "jsonl" and len(head) == info.size and b"".join(head.split()) == b"[]":
        raise SourceError(f"{info.path} is empty (it holds an empty JSON array, no records)")
    head = head[:4]
    compressed_name = info.path.lower().endswith(_COMPRESSION)
    if head[:2] == b"\x1f\x8b" and not compressed_name:
        raise SourceError(f"{info.path} is gzip-compressed but not named .gz; rename it to {info.path}.gz")
    if kind == "parquet" and head != b"PAR1":
        raise SourceError(f"{info.path} is not a Parquet file (no PAR1 magic)")
    if kind == "csv" and compressed_name and info.path.lower().endswith(".gz"):
        try:
            with gzip.open(local_path(info.path)) as handle:
                handle.read(1)
        except OSError as exc:
            raise SourceError(f"{info.path} is not valid gzip: {exc}") from None


def plain_name(path: str) -> str:
    """The lower-case name without a compression suffix: `a.csv.gz` -> `a.csv`."""
    name = path.lower()
    for suffix in _COMPRESSION:
        name = name.removesuffix(suffix)
    return name


def is_json_document(path: str) -> bool:
    """A `.json` file holds one document (an array of records, or one object), not JSON Lines."""
    return plain_name(path).endswith(".json")


def first_out_of_range(
    sources: SourceSet, column: str, low: int, high: int
) -> tuple[str, int | None, int] | None:
    """(file, line, value) of the first JSON integer under `column` outside [low, high]; local files only.
    A `.json` document has no useful line, so its line is None."""
    import json

    for info in sources.files.get("jsonl", []):
        if is_s3(info.path):
            continue
        opener = gzip.open if info.path.lower().endswith(".gz") else open
        with opener(local_path(info.path), "rt", encoding="utf-8-sig") as handle:  # type: ignore[operator]
            rows: Iterable[tuple[int | None, Any]]
            if is_json_document(info.path):
                document = json.load(handle)
                rows = [(None, r) for r in (document if isinstance(document, list) else [document])]
            else:
                rows = ((n, json.loads(line)) for n, line in enumerate(handle, 1) if line.strip())
            for number, row in rows:
                if not isinstance(row, dict):
                    continue
                for key, value in row.items():
                    if key.lower() == column.lower() and isinstance(value, int) and not low <= value <= high:
                        return info.path, number, value
    return None
