"""Ingest CSV, JSON Lines and Parquet into an Iceberg table as exactly one snapshot.

DuckDB reads the sources in parallel and streams them into data files; the files are described
from their footers and committed in one append (or overwrite). Any failure removes the files this
ingest wrote, so the table and its location are left as they were.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from pyiceberg.schema import Schema
from pyiceberg.table import Table, Transaction
from pyiceberg.table.snapshots import Operation
from pyiceberg.types import (
    DateType,
    DecimalType,
    DoubleType,
    FixedType,
    FloatType,
    IcebergType,
    IntegerType,
    LongType,
    StringType,
    TimestampType,
    TimestamptzType,
    TimeType,
    UUIDType,
)

from lakehouse.core.hooks import checkpoint
from lakehouse.core.schemas import duckdb_type, quote_ident, quote_literal
from lakehouse.errors import LakehouseError, SchemaMismatchError, SourceError, StorageError
from lakehouse.io.engine import Engine, short_error
from lakehouse.io.sources import (
    CsvGroup,
    SourceSet,
    csv_relation,
    csv_text_relation,
    describe_files,
    diagnose_csv,
    first_out_of_range,
    hive_keys,
    integer_text_sql,
    is_whole_decimal,
    json_key_spellings_sql,
    json_relation,
    json_text_relation,
    mixed_line_endings,
    parquet_relation,
    read_expression,
    unnamed_column,
)
from lakehouse.io.storage import FileInfo
from lakehouse.io.writer import WrittenFiles, copy_to_data_files, data_location, new_write_id
from lakehouse.table.commits import RetryPolicy, commit_with_retry
from lakehouse.table.producers import iceberg_schema, stage_append, stage_rewrite, table_io
from lakehouse.table.snapshots import live_files

if TYPE_CHECKING:
    from lakehouse.core.config import Profile

MODES = ("append", "overwrite")
_SUMMARY_SOURCES_MAX = 4000


@dataclass
class IngestResult:
    table: str
    mode: str
    rows: int
    files: int
    bytes: int
    snapshot_id: int | None
    sources: list[str]
    seconds: float = 0.0
    evolved_columns: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


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


def iceberg_schema_from_arrow(arrow_schema: pa.Schema) -> Schema:

    names = [n.lower() for n in arrow_schema.names]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SchemaMismatchError(f"duplicate column names in source: {', '.join(dupes)}")

    # An all-null column (e.g. a JSON key that is always null) has no type yet: take it as string.
    arrow_schema = pa.schema(
        [f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in arrow_schema]
    )
    try:
        return iceberg_schema(arrow_schema)
    except Exception as exc:
        raise SchemaMismatchError(f"cannot map source schema to Iceberg types: {exc}") from None


def compatible(source: IcebergType, target: IcebergType) -> str | None:
    """None when `source` values can be written into a `target` column without loss, else the reason."""
    if isinstance(target, FixedType):
        return "lake cannot write fixed[n]: DuckDB writes no fixed-length Parquet values; use binary"
    if source == target:
        return None
    numeric = (IntegerType, LongType)
    if isinstance(source, numeric) and isinstance(target, (LongType, FloatType, DoubleType, DecimalType)):
        return None
    if isinstance(source, FloatType) and isinstance(target, DoubleType):
        return None
    if isinstance(source, DecimalType) and isinstance(target, DecimalType):
        if source.scale != target.scale:
            return f"decimal scale changes from {source.scale} to {target.scale}"
        return None if target.precision >= source.precision else "decimal precision would shrink"
    temporal = (DateType, TimestampType, TimestamptzType)
    if isinstance(source, temporal) and isinstance(target, (TimestampType, TimestamptzType)):
        return None
    if isinstance(source, StringType) and isinstance(
        target, (DateType, TimeType, TimestampType, TimestamptzType, UUIDType)
    ):
        return None  # text timestamps are normal in JSON; DuckDB's cast reports bad values
    return "types are incompatible"


@dataclass
class IngestPlan:
    """How source columns map onto the table: the SELECT to stream, and any new columns."""

    select_sql: str
    new_columns: list[str]
    evolved_schema: Schema | None


def plan_columns(
    table_name: str,
    schema: Schema,
    source: pa.Schema,
    relation_sql: str,
    evolve: bool,
    paths: list[str],
    untyped: set[str] = frozenset(),  # type: ignore[assignment]
    sources: SourceSet | None = None,
) -> IngestPlan:
    source_schema_iceberg = iceberg_schema_from_arrow(source)
    by_name = {f.name.lower(): f for f in source_schema_iceberg.fields}
    table_names = {f.name.lower() for f in schema.fields}
    extra = [f.name for f in source_schema_iceberg.fields if f.name.lower() not in table_names]
    where = paths[0] if len(paths) == 1 else f"{paths[0]} and {len(paths) - 1} more"
    if extra and not evolve:
        raise SchemaMismatchError(
            f"source {where} has columns that {table_name} lacks: {', '.join(extra[:10])}"
            f"{f' and {len(extra) - 10} more' if len(extra) > 10 else ''}; "
            "pass --evolve to add them (union by name)"
        )
    evolved = None
    if extra:
        evolved = _union_schema(schema, [by_name[n.lower()] for n in extra])
        schema = evolved
    projections = []
    for target in schema.fields:
        src = by_name.get(target.name.lower())
        if src is None:
            if target.required:
                raise SchemaMismatchError(
                    f"column {target.name} is required by {table_name} but missing in {where}"
                )
            projections.append(
                f"CAST(NULL AS {duckdb_type(target.field_type)}) AS {quote_ident(target.name)}"
            )
            continue
        reason = None if src.name.lower() in untyped else compatible(src.field_type, target.field_type)
        if reason and sources is not None and _whole_decimal(src.field_type):
            _refuse_out_of_range(sources, table_name, target.name, target.field_type)
        if reason:
            raise SchemaMismatchError(
                f"column {target.name}: table {table_name} has {target.field_type}, source {where} has "
                f"{src.field_type} ({reason})"
            )
        expr = quote_ident(src.name)
        if isinstance(target.field_type, TimestampType) and isinstance(src.field_type, StringType):
            # text with an offset is converted to UTC (the session zone), never stripped of its offset
            expr = f"CAST(CAST({expr} AS TIMESTAMPTZ) AS TIMESTAMP)"
        if target.required:
            message = quote_literal(
                f"column {target.name} is NOT NULL in {table_name} but {where} has a null"
            )
            expr = f"CASE WHEN {expr} IS NULL THEN error({message}) ELSE {expr} END"
        projections.append(f"CAST({expr} AS {duckdb_type(target.field_type)}) AS {quote_ident(target.name)}")
    sql = f"SELECT {', '.join(projections)} FROM ({relation_sql}) AS lake_in"
    return IngestPlan(sql, extra, evolved)


_INTEGER_RANGES = {IntegerType: (-(2**31), 2**31 - 1), LongType: (-(2**63), 2**63 - 1)}


def _whole_decimal(source: IcebergType) -> bool:
    """DuckDB types JSON integers beyond BIGINT as HUGEINT, which arrives as decimal(38,0)."""
    return isinstance(source, DecimalType) and source.scale == 0


def _refuse_out_of_range(sources: SourceSet, table_name: str, column: str, target: IcebergType) -> None:
    """An int/long column and a source integer beyond its range: name the column, the value, file and line."""
    bounds = next((b for cls, b in _INTEGER_RANGES.items() if isinstance(target, cls)), None)
    if bounds is None:
        return
    found = first_out_of_range(sources, column, *bounds)
    if found is None:
        return
    path, line, value = found
    at = f" at line {line}" if line is not None else ""
    raise SchemaMismatchError(
        f"column {column} of {table_name} is {target}, but {path}{at} holds {value}, beyond its range"
    )


def _union_schema(schema: Schema, new_fields: list[Any]) -> Schema:
    from pyiceberg.types import NestedField

    next_id = max(schema.highest_field_id, 0)
    fields = list(schema.fields)
    for f in new_fields:
        next_id += 1
        fields.append(NestedField(next_id, f.name, f.field_type, required=False))
    return Schema(*fields, schema_id=schema.schema_id + 1, identifier_field_ids=schema.identifier_field_ids)


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


def ingest(
    profile: Profile,
    engine: Engine,
    load: Callable[[], Table],
    table_name: str,
    sources: SourceSet,
    *,
    mode: str = "append",
    evolve: bool = False,
    properties: dict[str, str] | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> IngestResult:
    import time

    from lakehouse.io.cleanup import remove_write

    if mode not in MODES:
        raise LakehouseError(f"unknown mode {mode!r}; use append or overwrite")
    start = time.perf_counter()
    table = load()
    relation = source_relation(engine, sources, table.schema())
    arrow_schema = source_schema(engine, relation, sources)
    untyped = untyped_columns(engine, relation)
    plan = plan_columns(
        table_name, table.schema(), arrow_schema, relation, evolve, sources.paths, untyped, sources=sources
    )
    metadata = table.metadata
    if plan.evolved_schema is not None:
        metadata = metadata.model_copy(
            update={
                "schemas": [*metadata.schemas, plan.evolved_schema],
                "current_schema_id": plan.evolved_schema.schema_id,
            }
        )
    write_id = new_write_id()
    written = WrittenFiles()
    try:
        checkpoint("before-write")
        written = copy_to_data_files(
            engine, table, plan.select_sql, metadata=metadata, write_id=write_id, on_progress=on_progress
        )
        checkpoint("after-write")
        summary = {
            "lake.operation": f"ingest-{mode}",
            "lake.sources": _sources_summary(sources.paths),
            "lake.source-files": str(len(sources.paths)),
            "lake.rows": str(written.rows),
            "lake.write-id": write_id,
        }
        stage = _stage(mode, written, summary, plan)
        committed = commit_with_retry(
            load, stage, RetryPolicy.from_properties(profile.properties), f"ingest into {table_name}"
        )
    except BaseException as exc:
        remove_write(profile, table, write_id, written.paths)
        if isinstance(exc, LakehouseError):
            raise
        if isinstance(exc, Exception) and _is_duckdb_error(exc):
            raise explain_write_error(exc, sources, table_name, data_location(table)) from None
        if isinstance(exc, OSError):  # reading back or moving a file we wrote
            raise StorageError(f"writing the data files of {table_name} failed: {exc}") from None
        raise
    snapshot = committed.current_snapshot()
    return IngestResult(
        table=table_name,
        mode=mode,
        rows=written.rows,
        files=len(written.data_files),
        bytes=written.bytes,
        snapshot_id=snapshot.snapshot_id if snapshot else None,
        sources=sources.paths,
        seconds=round(time.perf_counter() - start, 3),
        evolved_columns=plan.new_columns,
    )


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


def _is_duckdb_error(exc: Exception) -> bool:
    return type(exc).__module__.startswith(("duckdb", "_duckdb"))


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


def _sources_summary(paths: list[str]) -> str:
    text = ",".join(paths)
    if len(text) <= _SUMMARY_SOURCES_MAX:
        return text
    return text[:_SUMMARY_SOURCES_MAX] + f",...({len(paths)} files)"


def _stage(
    mode: str, written: WrittenFiles, summary: dict[str, str], plan: IngestPlan
) -> Callable[[Transaction], None]:
    def stage(tx: Transaction) -> None:
        if plan.evolved_schema is not None:
            _evolve(tx, plan)
        if mode == "append":
            stage_append(written.data_files, summary)(tx)
            return
        snapshot = tx.table_metadata.current_snapshot()
        current = live_files(table_io(tx), snapshot)
        operation = Operation.OVERWRITE if snapshot is not None else Operation.APPEND
        stage_rewrite(current, written.data_files, summary, operation)(tx)

    return stage


def _evolve(tx: Transaction, plan: IngestPlan) -> None:
    from lakehouse.errors import CommitError

    assert plan.evolved_schema is not None
    with tx.update_schema() as update:
        for name in plan.new_columns:
            new_field = plan.evolved_schema.find_field(name)
            update.add_column(name, new_field.field_type)
    got = tx.table_metadata.schema()
    for name in plan.new_columns:
        if got.find_field(name).field_id != plan.evolved_schema.find_field(name).field_id:
            raise CommitError("the table's schema changed while ingesting; run the ingest again")
