"""What a source holds, as DuckDB reads it: the relation an ingest streams, and its columns and types.

CSV is read strictly: the header gives the names, the table (or DuckDB's sniffer, for new columns)
the types, so a bad row is an error with its line, never a skipped row. Integers too wide for the
sniffers' types become exact decimals; JSON keys that differ only in case, and file columns that are
also `key=value/` directory keys, are refused rather than renamed or overridden.
"""

from __future__ import annotations

import re

import pyarrow as pa
from pyiceberg.schema import Schema

from lakehouse.core.schemas import duckdb_type
from lakehouse.errors import SchemaMismatchError, SourceError
from lakehouse.io.engine import Engine
from lakehouse.io.explain import explain_source_error
from lakehouse.io.relations import (
    CsvGroup,
    csv_relation,
    csv_text_relation,
    describe_files,
    integer_text_sql,
    is_whole_decimal,
    json_key_spellings_sql,
    json_relation,
    json_text_relation,
    parquet_relation,
    read_expression,
)
from lakehouse.io.sources import SourceSet, diagnose_csv, hive_keys, unnamed_column
from lakehouse.io.storage import FileInfo


def source_schema(engine: Engine, relation_sql: str, sources: SourceSet) -> pa.Schema:
    try:
        schema = engine.schema(relation_sql)
    except Exception as exc:
        raise SourceError(explain_source_error(exc, sources)) from None
    names = [n.lower() for n in schema.names]
    if dupes := sorted({n for n in names if names.count(n) > 1}):
        raise SchemaMismatchError(f"duplicate column names in {sources.paths[0]}: {', '.join(dupes)}")
    _check_json_key_case(engine, sources, schema.names)
    return schema


_RENAMED = re.compile(r"(.+)_\d+")


def _check_json_key_case(engine: Engine, sources: SourceSet, names: list[str]) -> None:
    """DuckDB renames the second of two keys that differ only in case (`Id`, `id` -> `Id`, `id_1`); column
    names are case-insensitive here, so refuse rather than invent a column. Scans only when a name looks renamed."""
    if not sources.files.get("jsonl"):
        return
    lower = {n.lower() for n in names}
    for name in names:
        match = _RENAMED.fullmatch(name)
        if match is None or match.group(1).lower() not in lower:
            continue
        row = engine.one(json_key_spellings_sql(sources, match.group(1)))
        if row is not None:
            keys = " and ".join(row[1][:2])
            raise SchemaMismatchError(
                f"JSON keys {keys} in {row[0]} differ only in case, and column names are case-insensitive; "
                "rename one of them"
            )


def untyped_columns(engine: Engine, relation_sql: str) -> set[str]:
    """Columns DuckDB could not type (JSON keys that are always null or of mixed shape): any target fits."""
    return {name.lower() for name, kind in engine.columns(relation_sql) if kind in ("JSON", '"NULL"', "NULL")}


def source_relation(engine: Engine, sources: SourceSet, schema: Schema | None = None) -> str:
    """The relation ingest streams. CSV is read strictly: the header gives the names, the table (or
    DuckDB's sniffer, for new columns) the types, so a bad row is an error with its line, never a skipped row."""
    hive = hive_keys(sources)
    table_types = {f.name.lower(): duckdb_type(f.field_type) for f in (schema.fields if schema else [])}

    def columns(group: CsvGroup) -> dict[str, str] | None:
        if group.header is not None:
            _check_header(group, hive)
        try:
            sniffed = engine.columns(csv_relation(group, sources.hive))
        except Exception as exc:
            raise SourceError(explain_source_error(exc, sources)) from None
        names = [row[0] for row in sniffed if row[0].lower() not in hive]
        if group.header is None:
            return None
        if [n.lower() for n in names] != [h.strip().lower() for h in group.header]:
            for info in group.files:
                if problem := diagnose_csv(info.path, group.delim):
                    raise SourceError(f"malformed CSV in {info.path}: {problem}")
            raise SourceError(f"cannot read the CSV header of {group.files[0].path}: its dialect is unclear")
        types = {n: table_types.get(n.lower(), t) for n, t in sniffed if n.lower() not in hive}
        doubles = [n for n, t in types.items() if t == "DOUBLE" and n.lower() not in table_types]
        return types | _wide_integers(engine, csv_text_relation(group), doubles, group.files[0].path)

    def json_columns(files: list[FileInfo], fmt: str) -> dict[str, str] | None:
        """JSON is typed by DuckDB alone, unless integers too wide for BIGINT/HUGEINT were typed DOUBLE."""
        if hive:
            _refuse_hive_clash(
                _file_columns(engine, json_relation(files, fmt, False)), hive, describe_files(files)
            )
        try:
            sniffed = engine.columns(json_relation(files, fmt, sources.hive))
        except Exception:
            return None  # the full read reports it, with its file and line
        types = {n: t for n, t in sniffed if n.lower() not in hive}
        doubles = [n for n, t in types.items() if t == "DOUBLE"]
        # a decimal(20,0) / (38,0) column of the table: read its numbers as text, exactly, not as DOUBLE
        widened = {
            n: table_types[n.lower()] for n in doubles if is_whole_decimal(table_types.get(n.lower(), ""))
        }
        new = [n for n in doubles if n.lower() not in table_types]
        widened |= _wide_integers(engine, json_text_relation(files, fmt, new), new, files[0].path)
        return types | widened if widened else None

    if hive and (parquet := sources.files.get("parquet")):
        _refuse_hive_clash(
            _file_columns(engine, parquet_relation(parquet, False)), hive, describe_files(parquet)
        )
    return read_expression(sources, columns, json_columns)


def _check_header(group: CsvGroup, hive: set[str]) -> None:
    """Header faults DuckDB would paper over (an unnamed column becomes `column2`) or report as a sniffing
    failure: an empty name, a trailing comma, a name that is also a `key=value/` directory key."""
    assert group.header is not None
    path = group.files[0].path
    if problem := unnamed_column(group.header):
        raise SourceError(f"malformed CSV in {path}: {problem}")
    _refuse_hive_clash([h.strip() for h in group.header], hive, path)


def _refuse_hive_clash(names: list[str], hive: set[str], where: str) -> None:
    """A file column that is also a `key=value/` directory key: DuckDB would let the path's value win."""
    if clash := [n for n in names if n.lower() in hive]:
        raise SourceError(
            f"column {clash[0]} of {where} is also a Hive partition key ({clash[0]}=... in its path); "
            "rename the column or the directory"
        )


def _file_columns(engine: Engine, sql: str) -> list[str]:
    """Column names of a read without Hive partitioning; none when it cannot bind (the real read says why)."""
    try:
        return [name for name, _ in engine.columns(sql)]
    except Exception:
        return []


# DuckDB's CSV sniffer samples this many rows (its sample_size default).
_SNIFF_ROWS = 20480


def _wide_integers(engine: Engine, text_relation: str, candidates: list[str], where: str) -> dict[str, str]:
    """The sniffers type integers too wide for BIGINT (CSV) or HUGEINT (JSON) as DOUBLE, which rounds them
    (2^53 + 1 becomes 2^53). Integer-only columns become DECIMAL(20,0) (unsigned 64-bit fits) or
    DECIMAL(38,0); wider ones are refused."""
    if not candidates:
        return {}
    row = engine.one(integer_text_sql(text_relation, candidates, _SNIFF_ROWS))
    assert row is not None
    widened = {}
    for i, name in enumerate(candidates):
        integers, digits, widest = row[3 * i : 3 * i + 3]
        if not integers:
            continue  # real fractions: a double column
        if digits > 38:
            shown = widest if len(widest) <= 60 else f"{widest[:30]}...{widest[-10:]} ({digits} digits)"
            raise SourceError(
                f"column {name} of {where} holds the integer {shown}, wider than decimal(38,0) "
                "holds; load it into a string column (create the table with --schema)"
            )
        widened[name] = "DECIMAL(20,0)" if digits <= 20 else "DECIMAL(38,0)"
    return widened
