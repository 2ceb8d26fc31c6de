"""Find source files and build the DuckDB expression that reads them (CSV, JSON Lines, Parquet).

Globs and directories work locally and on S3. `key=value/` directories become columns
(Hive partitioning), with types inferred by DuckDB.
"""

from __future__ import annotations

import gzip
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from lakehouse.core.config import Profile
from lakehouse.core.schemas import quote_ident, quote_literal
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


def _is_json_document(path: str) -> bool:
    name = path.lower()
    for suffix in _COMPRESSION:
        name = name.removesuffix(suffix)
    return name.endswith(".json")


def _delimiter(path: str) -> str:
    name = path.lower()
    for suffix in _COMPRESSION:
        name = name.removesuffix(suffix)
    return "," if name.endswith(".csv") else "\t" if name.endswith(".tsv") else "auto"


@dataclass(frozen=True)
class CsvGroup:
    """CSV files read together: same delimiter and, where it can be read locally, the same header."""

    delim: str
    header: tuple[str, ...] | None
    files: list[FileInfo]


def read_header(path: str, delim: str) -> tuple[str, ...] | None:
    """The header row of a local CSV file (one line read), or None for S3 or an unknown delimiter."""
    import csv

    if is_s3(path) or delim == "auto":
        return None
    opener = gzip.open if path.lower().endswith(".gz") else open
    try:
        # utf-8-sig: a byte-order mark is not part of the first name (DuckDB skips it too)
        with opener(local_path(path), "rt", newline="", encoding="utf-8-sig") as handle:  # type: ignore[operator]
            return tuple(next(csv.reader(handle, delimiter=delim), []))
    except (UnicodeDecodeError, OSError, csv.Error):
        return None


def csv_groups(sources: SourceSet) -> list[CsvGroup]:
    groups: dict[tuple[str, tuple[str, ...] | None], list[FileInfo]] = defaultdict(list)
    for info in sources.files.get("csv", []):
        delim = _delimiter(info.path)
        groups[(delim, read_header(info.path, delim))].append(info)
    return [CsvGroup(delim, header, files) for (delim, header), files in groups.items()]


def _paths(files: list[FileInfo]) -> str:
    return "[" + ", ".join(quote_literal(f.path) for f in files) + "]"


def csv_relation(group: CsvGroup, hive: bool, columns: dict[str, str] | None = None) -> str:
    """Sniffing read, or with `columns` a strict read: every row must have exactly these fields and types."""
    options = [
        "header = true", "strict_mode = true", "max_line_size = 16777216",
        f"hive_partitioning = {'true' if hive else 'false'}",
    ]  # fmt: skip
    if group.delim != "auto":
        options.append(f"delim = {quote_literal(group.delim)}")
    select = "*"
    if columns:
        # A `timestamp` column is read as TIMESTAMPTZ, then cast back in the UTC session: text with an offset
        # becomes its UTC time (as Spark does for a timestamp without zone) rather than losing the offset.
        zoneless = [k for k, v in columns.items() if v == "TIMESTAMP"]
        whole = [k for k, v in columns.items() if _WHOLE_DECIMAL.fullmatch(v)]
        read = {
            k: "TIMESTAMPTZ" if k in zoneless else "VARCHAR" if k in whole else v for k, v in columns.items()
        }
        spec = ", ".join(f"{quote_literal(k)}: {quote_literal(v)}" for k, v in read.items())
        options += ["auto_detect = false", f"columns = {{{spec}}}"]
        casts = [f"CAST({quote_ident(k)} AS TIMESTAMP) AS {quote_ident(k)}" for k in zoneless]
        casts += [_whole_number(k, columns[k], describe_files(group.files)) for k in whole]
        if casts:
            select = f"* REPLACE ({', '.join(casts)})"
    else:
        options.append("union_by_name = true")
    return f"SELECT {select} FROM read_csv({_paths(group.files)}, {', '.join(options)})"


def integer_text_sql(text_relation: str, names: list[str], sample_rows: int) -> str:
    """Per column of a relation read as text, over the rows the sniffer samples: are all values integer
    text, how many digits the widest has, and that value."""
    digits = "length(ltrim(trim({c}), '+-0'))"
    parts = []
    for name in names:
        c = quote_ident(name)
        present = f"{c} IS NOT NULL AND trim({c}) <> ''"
        parts += [
            f"bool_and(regexp_full_match(trim({c}), '[+-]?[0-9]+')) FILTER (WHERE {present})",
            f"max({digits.format(c=c)})",
            f"arg_max(trim({c}), {digits.format(c=c)})",
        ]
    return f"SELECT {', '.join(parts)} FROM ({text_relation} LIMIT {sample_rows})"


def csv_text_relation(group: CsvGroup) -> str:
    delim = f", delim = {quote_literal(group.delim)}" if group.delim != "auto" else ""
    return f"SELECT * FROM read_csv({_paths(group.files)}, header = true, all_varchar = true{delim})"


def json_text_relation(files: list[FileInfo], fmt: str, names: list[str]) -> str:
    """JSON numbers read as VARCHAR keep their text, every digit of it."""
    spec = ", ".join(f"{quote_literal(n)}: 'VARCHAR'" for n in names)
    return f"SELECT * FROM read_json({_paths(files)}, format = '{fmt}', columns = {{{spec}}})"


# decimal(20,0) and decimal(38,0): the types of integers beyond long. DuckDB's readers round "1.5" into them.
_WHOLE_DECIMAL = re.compile(r"DECIMAL\((19|[2-3][0-9]),\s*0\)")


def is_whole_decimal(duckdb_type: str) -> bool:
    return _WHOLE_DECIMAL.fullmatch(duckdb_type) is not None


def describe_files(files: list[FileInfo]) -> str:
    return files[0].path if len(files) == 1 else f"{files[0].path} (or one of {len(files) - 1} more)"


def _whole_number(name: str, duckdb_type: str, where: str) -> str:
    """Text cast to a whole-number decimal, refusing a fraction that the cast would round away."""
    c = quote_ident(name)
    message = f"{quote_literal(f'column {name} of {where} holds ')} || {c} || {quote_literal(', not a whole number')}"
    whole = f"regexp_full_match(trim({c}), '[+-]?[0-9]+')"
    return f"CAST(CASE WHEN {c} IS NULL OR {whole} THEN trim({c}) ELSE error({message}) END AS {duckdb_type}) AS {c}"


def json_relation(files: list[FileInfo], fmt: str, hive: bool, columns: dict[str, str] | None = None) -> str:
    typed, select = "", "*"
    if columns:
        whole = [k for k, v in columns.items() if _WHOLE_DECIMAL.fullmatch(v)]
        read = {k: "VARCHAR" if k in whole else v for k, v in columns.items()}
        typed = (
            ", columns = {"
            + ", ".join(f"{quote_literal(k)}: {quote_literal(v)}" for k, v in read.items())
            + "}"
        )
        if whole:
            select = (
                f"* REPLACE ({', '.join(_whole_number(k, columns[k], describe_files(files)) for k in whole)})"
            )
    return (
        f"SELECT {select} FROM read_json({_paths(files)}, format = '{fmt}', union_by_name = true, "
        f"maximum_object_size = 67108864, hive_partitioning = {'true' if hive else 'false'}{typed})"
    )


CsvColumns = Callable[[CsvGroup], "dict[str, str] | None"]
JsonColumns = Callable[[list[FileInfo], str], "dict[str, str] | None"]


def json_groups(sources: SourceSet) -> list[tuple[str, list[FileInfo]]]:
    """(DuckDB format, files): a `.json` file may hold one top-level array of records (or one object), and
    DuckDB's `auto` format reads an array's elements as rows, where `newline_delimited` makes it one row."""
    jsonl = sources.files.get("jsonl", [])
    groups = [
        ("newline_delimited", [f for f in jsonl if not _is_json_document(f.path)]),
        ("auto", [f for f in jsonl if _is_json_document(f.path)]),
    ]
    return [(fmt, files) for fmt, files in groups if files]


def parquet_relation(files: list[FileInfo], hive: bool) -> str:
    return f"SELECT * FROM read_parquet({_paths(files)}, union_by_name = true, hive_partitioning = {'true' if hive else 'false'})"


def read_expression(
    sources: SourceSet, csv_columns: CsvColumns | None = None, json_columns: JsonColumns | None = None
) -> str:
    """One DuckDB relation over all sources; several formats or CSV headers are combined BY NAME."""
    parts = []
    for group in csv_groups(sources):
        parts.append(csv_relation(group, sources.hive, csv_columns(group) if csv_columns else None))
    for fmt, json_files in json_groups(sources):
        typed = json_columns(json_files, fmt) if json_columns else None
        parts.append(json_relation(json_files, fmt, sources.hive, typed))
    if files := sources.files.get("parquet"):
        parts.append(parquet_relation(files, sources.hive))
    return " UNION ALL BY NAME ".join(parts)


def json_key_spellings_sql(sources: SourceSet, key: str) -> str:
    """Files and the distinct spellings of `key` (case-insensitively) among their objects' keys."""
    files = sources.files.get("jsonl", [])
    objects = f"SELECT filename, unnest(json_keys(json)) AS k FROM read_json_objects({_paths(files)}, filename = true)"
    return (
        f"SELECT filename, list_sort(list_distinct(list(k))) FROM ({objects}) WHERE lower(k) = {quote_literal(key.lower())} "
        "GROUP BY filename HAVING count(DISTINCT k) > 1 ORDER BY filename LIMIT 1"
    )


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
            if _is_json_document(info.path):
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
