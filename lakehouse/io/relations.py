"""The DuckDB relations that read source files: `read_csv`, `read_json` and `read_parquet` over groups of
files that read alike, combined by name into one relation.

A relation either lets DuckDB sniff the types, or, given `columns`, reads strictly with those types
(integers wider than BIGINT as exact text, refused if they hold a fraction).
"""

from __future__ import annotations

import csv
import gzip
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from lakehouse.core.schemas import quote_ident, quote_literal
from lakehouse.io.sources import SourceSet, is_json_document, plain_name
from lakehouse.io.storage import FileInfo, is_s3, local_path


def _delimiter(path: str) -> str:
    name = plain_name(path)
    return "," if name.endswith(".csv") else "\t" if name.endswith(".tsv") else "auto"


@dataclass(frozen=True)
class CsvGroup:
    """CSV files read together: same delimiter and, where it can be read locally, the same header."""

    delim: str
    header: tuple[str, ...] | None
    files: list[FileInfo]


def read_header(path: str, delim: str) -> tuple[str, ...] | None:
    """The header row of a local CSV file (one line read), or None for S3 or an unknown delimiter."""
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
        ("newline_delimited", [f for f in jsonl if not is_json_document(f.path)]),
        ("auto", [f for f in jsonl if is_json_document(f.path)]),
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
