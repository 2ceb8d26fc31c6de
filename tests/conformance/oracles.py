"""Oracles (a)–(f) of issue 9, plus gc's orphan set and the one-path-form rule.

Each oracle returns a list of problems (empty when it passes), so a test can record every oracle's
verdict in CONFORMANCE.md before it asserts.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import unquote, unquote_plus, urlparse

import pyarrow as pa
from pyiceberg.conversions import from_bytes
from pyiceberg.expressions import (
    BooleanExpression,
    EqualTo,
    GreaterThanOrEqual,
    IsNaN,
    IsNull,
)
from pyiceberg.partitioning import PartitionField
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.transforms import IdentityTransform, TimeTransform, TruncateTransform
from pyiceberg.types import (
    BinaryType,
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    FixedType,
    FloatType,
    IcebergType,
    PrimitiveType,
    StringType,
    TimestampType,
    TimestamptzType,
    TimeType,
    UUIDType,
)

from conformance import upstream
from conformance.canon import Row, checksum, diff
from conformance.manifests import DATA, POSITION_DELETES, Entry, live_entries
from conformance.readers import columns_by_field_id, iceberg_only, read_rows
from conformance.storage import duck, read_parquet
from lakehouse.testing import LakeEnv

EPOCH = dt.datetime(1970, 1, 1)
Problems = list[str]


# ---------------------------------------------------------------- (a) rows through every reader


def check_rows(env: LakeEnv, name: str, expected: list[Row], readers: tuple[str, ...]) -> dict[str, Problems]:
    table = env.lake.table(name)
    schema = table.schema()
    out: dict[str, Problems] = {}
    want = checksum(expected)
    for reader in readers:
        try:
            rows = read_rows(reader, env, name, table, schema)
        except Exception as exc:  # a reader that cannot read our table is a finding, not a crash
            out[reader] = [f"{reader} failed: {type(exc).__name__}: {str(exc)[:300]}"]
            continue
        problem = diff(expected, rows)
        got = checksum(rows)
        out[reader] = [f"{reader}: checksum {got} != {want}; {problem}"] if problem or got != want else []
    return out


# ---------------------------------------------------------------- internal values


def internal(value: Any, itype: IcebergType) -> Any:
    """One representation per type for comparing partition values, bounds and data."""
    if value is None:
        return None
    if isinstance(itype, DateType) and isinstance(value, dt.date):
        return (value - dt.date(1970, 1, 1)).days
    if isinstance(itype, TimeType) and isinstance(value, dt.time):
        return ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond
    if isinstance(itype, (TimestampType, TimestamptzType)) and isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return (value - EPOCH) // dt.timedelta(microseconds=1)
    if isinstance(itype, UUIDType):
        if isinstance(value, (bytes, bytearray)):
            return uuid.UUID(bytes=bytes(value))
        return uuid.UUID(str(value))
    if isinstance(itype, (FloatType, DoubleType)):
        return float(value)
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    return value


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    return type(a) is type(b) and a == b if not isinstance(a, (int, float)) else a == b and b is not None


def _result_type(pfield: PartitionField, schema: Schema) -> IcebergType:
    return pfield.transform.result_type(schema.find_type(pfield.source_id))


# ---------------------------------------------------------------- (b), (c), (d): each data file against its entry


def check_files(env: LakeEnv, name: str) -> dict[str, Problems]:
    """(b) partition tuples, (c) Hive folder names, (d) bounds and counts, and one path form."""
    table = env.lake.table(name)
    snapshot = table.current_snapshot()
    out: dict[str, Problems] = {"b_partition": [], "c_folders": [], "d_stats": [], "paths": []}
    if snapshot is None:
        return out
    schema = table.schema()
    entries = live_entries(env.profile, snapshot.manifest_list)
    folders: list[tuple[Entry, list[PartitionField]]] = []
    for e in entries:
        if e.content != DATA:
            continue
        spec = table.specs()[e.spec_id]
        data = read_parquet(env.profile, e.path)
        columns = _columns_by_id(data, schema)
        out["b_partition"] += _check_partition(e, spec.fields, schema, columns)
        out["d_stats"] += _check_stats(e, data, schema, columns)
        folders.append((e, list(spec.fields)))
    out["c_folders"] = _check_folders(table, folders, schema)
    out["paths"] = _check_paths(table, entries, snapshot.manifest_list)
    return out


def _columns_by_id(data: pa.Table, schema: Schema) -> dict[int, list[Any]]:
    return {fid: data.column(i).to_pylist() for fid, i in columns_by_field_id(data, schema).items()}


def _check_partition(
    e: Entry, fields: list[PartitionField], schema: Schema, columns: dict[int, list[Any]]
) -> Problems:
    problems = []
    for pf in fields:
        if pf.field_id < 0:
            continue
        source_type = schema.find_type(pf.source_id)
        result_type = pf.transform.result_type(source_type)
        recorded = internal(e.partition.get(pf.name), result_type)
        fn = pf.transform.transform(source_type)
        values = columns.get(pf.source_id)
        if values is None:
            problems.append(f"{e.path}: no column with field id {pf.source_id} for partition {pf.name}")
            continue
        for v in values:
            want = internal(fn(internal(v, source_type)), result_type)
            if isinstance(pf.transform, TruncateTransform) and isinstance(want, int):
                want = upstream.java_wrap(want, source_type)
            if not same(want, recorded):
                problems.append(
                    f"{pf.name}({v!r}) is {want!r} but {e.path.rsplit('/', 2)[-2:]} records {recorded!r}"
                )
                break
    return problems


# ---------------------------------------------------------------- (c) Hive folder names


def _forms(value: Any, rtype: IcebergType, pf: PartitionField) -> set[str] | None:
    """Accepted folder texts for an internal partition value; None means compare numerically."""
    if isinstance(pf.transform, TimeTransform) and not isinstance(pf.transform, IdentityTransform):
        human = pf.transform.to_human_string(rtype, value)
        return {human, str(value)}
    if isinstance(rtype, (FloatType, DoubleType, DecimalType)):
        return None
    if isinstance(rtype, BooleanType):
        return {str(value).lower()}
    if isinstance(rtype, (BinaryType, FixedType)):
        return {
            base64.b64encode(value).decode(),
            base64.urlsafe_b64encode(value).decode(),
            value.hex(),
            value.hex().upper(),
        }
    if isinstance(rtype, DateType):
        return {(dt.date(1970, 1, 1) + dt.timedelta(days=value)).isoformat()}
    if isinstance(rtype, TimeType):
        t = (EPOCH + dt.timedelta(microseconds=value)).time()
        return _trimmed({t.isoformat(), t.isoformat(timespec="microseconds")})
    if isinstance(rtype, (TimestampType, TimestamptzType)):
        ts = EPOCH + dt.timedelta(microseconds=value)
        forms = _trimmed({ts.isoformat(), ts.isoformat(sep=" "), ts.isoformat(timespec="microseconds"),
                          ts.isoformat(sep=" ", timespec="microseconds")})  # fmt: skip
        if isinstance(rtype, TimestamptzType):
            forms |= {f + z for f in forms for z in ("+00:00", "Z", "+00")}
        return forms
    return {str(value)}


def _trimmed(forms: set[str]) -> set[str]:
    """Also each form with its fraction's trailing zeros dropped (`10:08:21.7959`), as DuckDB prints."""
    return forms | {f.rstrip("0") for f in forms if "." in f}


def _matches(text: str, value: Any, rtype: IcebergType, pf: PartitionField) -> bool:
    forms = _forms(value, rtype, pf)
    if forms is not None:
        return text in forms
    try:
        if isinstance(rtype, DecimalType):
            return Decimal(text) == value
        parsed = float(text)
        if isinstance(rtype, FloatType):
            parsed = pa.scalar(parsed, pa.float32()).as_py()
        return same(parsed, float(value))
    except (ValueError, ArithmeticError):
        return False


def _lake_decode(text: str) -> str:
    """README "Supported types and transforms": percent-decode, then drop one leading `~` (which marks
    '', the literal '__HIVE_DEFAULT_PARTITION__' and texts starting with `~`)."""
    decoded = unquote(text)
    return decoded[1:] if decoded.startswith("~") else decoded


RULES = {
    # lake's documented rule: Hive's percent-encoding and NULL marker, plus the `~` escape
    "lake": (_lake_decode, lambda t: t == "__HIVE_DEFAULT_PARTITION__"),
    # Hive: percent-encoding, NULL is __HIVE_DEFAULT_PARTITION__
    "hive": (unquote, lambda t: t == "__HIVE_DEFAULT_PARTITION__"),
    # pyiceberg's PartitionKey.to_path: quote_plus, NULL is "null"
    "pyiceberg": (unquote_plus, lambda t: t == "null"),
}


_LAKE_FILE = re.compile(r"^[0-9a-f]{16}-")  # lake names every data file `<write id>-...`


def _folder_problem(rule: str, e: Entry, fields: list[PartitionField], schema: Schema, location: str) -> str:
    """Why `e`'s folders do not decode to its partition values under `rule` ('' when they do)."""
    decode, is_null = RULES[rule]
    path = urlparse(e.path).path
    if not path.startswith(location):
        return f"{e.path} is not under {location}"
    segments = path[len(location) :].split("/")[:-1]
    if len(segments) != len(fields):
        return f"{e.path}: {len(segments)} folders for {len(fields)} partition fields"
    for seg, pf in zip(segments, fields, strict=False):
        key, _, text = seg.partition("=")
        rtype = _result_type(pf, schema)
        value = internal(e.partition.get(pf.name), rtype)
        if decode(key) != pf.name:
            return f"folder {seg!r} is not named {pf.name}"
        if is_null(text):
            if value is not None:
                return f"folder {seg!r} decodes to NULL, partition is {value!r}"
        elif value is None:
            return f"folder {seg!r} holds a NULL partition"
        elif not _matches(decode(text), value, rtype, pf):
            return f"folder {seg!r} does not decode to {value!r}"
    return ""


def _check_folders(table: Table, files: list[tuple[Entry, list[PartitionField]]], schema: Schema) -> Problems:
    """Every file lake wrote decodes under lake's one documented rule (so none collide); a file another
    writer added (pyiceberg, Spark) decodes under some known rule."""
    location = urlparse(table.location()).path.rstrip("/") + "/data/"
    problems = []
    for e, fields in files:
        if _LAKE_FILE.match(e.path.rsplit("/", 1)[-1]):
            if problem := _folder_problem("lake", e, fields, schema, location):
                problems.append(f"lake-written {problem}")
        elif all(_folder_problem(rule, e, fields, schema, location) for rule in RULES):
            tried = {rule: _folder_problem(rule, e, fields, schema, location) for rule in RULES}
            problems.append(f"no folder naming fits {e.path}: {tried}")
    return problems[:4]


def _check_paths(table: Table, entries: list[Entry], manifest_list: str) -> Problems:
    """Every recorded path has the same form as the table location (issue 9, defect 8)."""
    prefix = table.location().rstrip("/") + "/"
    bad = [p for p in [manifest_list, *(e.path for e in entries)] if not p.startswith(prefix)]
    return [f"{len(bad)} paths not of the form {prefix}...: {bad[:2]}"] if bad else []


# ---------------------------------------------------------------- (d) bounds and counts


def _ordered(value: Any, itype: IcebergType) -> Any:
    if isinstance(itype, StringType):
        return value.encode()
    if isinstance(itype, UUIDType):
        return value.bytes
    return value


def _check_stats(e: Entry, data: pa.Table, schema: Schema, columns: dict[int, list[Any]]) -> Problems:
    problems = []
    where = "/".join(e.path.rsplit("/", 2)[-2:])
    if e.record_count != data.num_rows:
        problems.append(f"{where}: record_count {e.record_count}, file has {data.num_rows} rows")
    for f in schema.fields:
        if not isinstance(f.field_type, PrimitiveType) or f.field_id not in columns:
            continue
        values = [internal(v, f.field_type) for v in columns[f.field_id]]
        nulls = sum(v is None for v in values)
        nans = sum(isinstance(v, float) and v != v for v in values)
        present = [
            _ordered(v, f.field_type)
            for v in values
            if v is not None and not (isinstance(v, float) and v != v)
        ]
        counts = (
            ("value_counts", e.value_counts, len(values)),
            ("null_value_counts", e.null_value_counts, nulls),
        )
        if isinstance(f.field_type, (FloatType, DoubleType)):
            counts += (("nan_value_counts", e.nan_value_counts, nans),)
        for label, recorded, actual in counts:
            if f.field_id in recorded and recorded[f.field_id] != actual:
                problems.append(f"{where}: {label}[{f.name}] = {recorded[f.field_id]}, actual {actual}")
        for label, bounds, ok in (
            ("lower", e.lower_bounds, lambda b, v: b <= min(v)),
            ("upper", e.upper_bounds, lambda b, v: b >= max(v)),
        ):
            if f.field_id not in bounds:
                continue
            if not present:
                problems.append(f"{where}: {label} bound for {f.name}, which has no value")
                continue
            bound = _ordered(
                internal(from_bytes(f.field_type, bounds[f.field_id]), f.field_type), f.field_type
            )
            if isinstance(f.field_type, (StringType, BinaryType)) and label == "lower":
                ok = lambda b, v: b <= min(v)  # noqa: E731 (a truncated lower bound is a prefix: still <=)
            if not ok(bound, present):
                problems.append(
                    f"{where}: {label} bound of {f.name} is {bound!r}, data spans {min(present)!r}..{max(present)!r}"
                )
    return problems


# ---------------------------------------------------------------- (e) filtered scans on partition columns


def _sql_literal(value: Any, itype: IcebergType) -> str:
    if isinstance(itype, BooleanType):
        return "TRUE" if value else "FALSE"
    if isinstance(itype, (FloatType, DoubleType)):
        return f"CAST('{value!r}' AS {'FLOAT' if isinstance(itype, FloatType) else 'DOUBLE'})"
    if isinstance(itype, DecimalType):
        return f"CAST('{value}' AS DECIMAL({itype.precision},{itype.scale}))"
    if isinstance(itype, (BinaryType, FixedType)):
        return f"from_hex('{value.hex()}')"
    if isinstance(itype, UUIDType):
        return f"UUID '{value}'"
    if isinstance(itype, TimestamptzType):
        return f"TIMESTAMPTZ '{value.astimezone(dt.UTC).isoformat()}'"
    kind = {DateType: "DATE", TimeType: "TIME", TimestampType: "TIMESTAMP"}.get(type(itype))
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    text = text.replace("'", "''")
    return f"{kind} '{text}'" if kind else (f"'{text}'" if isinstance(value, str) else text)


def _predicates(
    column: str, itype: IcebergType, values: list[Any]
) -> list[tuple[str, BooleanExpression, str, Any]]:
    """(label, pyiceberg expression, DuckDB SQL predicate, python test) for each probe value."""
    out = []
    for v in values:
        if v is None:
            out.append(("IS NULL", IsNull(column), f"{column} IS NULL", lambda x: x is None))
        elif isinstance(v, float) and v != v:
            out.append(("IS NaN", IsNaN(column), f"isnan({column})", lambda x: x is not None and x != x))
        else:
            lit = v.bytes if isinstance(itype, UUIDType) else v  # pyiceberg literals take uuid bytes or UUID
            lit = uuid.UUID(bytes=v.bytes) if isinstance(itype, UUIDType) else lit
            out.append((f"= {v!r}", EqualTo(column, lit), f"{column} = {_sql_literal(v, itype)}",
                        lambda x, v=v: x is not None and x == v))  # fmt: skip
    orderable = (DateType, TimeType, TimestampType, TimestamptzType, StringType, DecimalType)
    present = (
        sorted({v for v in values if v is not None}, key=lambda x: x) if isinstance(itype, orderable) else []
    )
    if present:
        pivot = present[len(present) // 2]
        out.append((f">= {pivot!r}", GreaterThanOrEqual(column, pivot), f"{column} >= {_sql_literal(pivot, itype)}",
                    lambda x, p=pivot: x is not None and x >= p))  # fmt: skip
    return out


def check_filters(
    env: LakeEnv, name: str, model: dict[int, dict[str, Any]], max_values: int = 5
) -> dict[str, Problems]:
    """(e) pyiceberg's and lake's filtered scans on every partition source column return exactly the rows."""
    table = env.lake.table(name)
    schema = table.schema()
    out: dict[str, Problems] = {"e_filter_independent": [], "e_filter_lake": []}
    sources = {schema.find_field(pf.source_id).name for pf in table.spec().fields}
    for column in sorted(sources):
        itype = schema.find_type(column)
        seen: dict[Any, Any] = {}
        for row in model.values():
            v = _python(row[column], itype)
            seen.setdefault(("nan",) if isinstance(v, float) and v != v else (type(v).__name__, repr(v)), v)
        probes = list(seen.values())
        probes = [p for p in probes if p is None or (isinstance(p, float) and p != p)] + [
            p for p in probes if not (p is None or (isinstance(p, float) and p != p))
        ][:max_values]
        for label, expr, sql, test in _predicates(column, itype, probes):
            want = sorted(i for i, row in model.items() if test(_python(row[column], itype)))
            reader = upstream.filter_reader(itype, table.spec(), schema.find_field(column).field_id)
            got = (
                _filter_pyiceberg(table, expr)
                if reader == "pyiceberg"
                else _filter_duckdb(env, table, sql, pushdown=reader == "duckdb")
            )
            if got != want:
                out["e_filter_independent"].append(
                    f"{reader} {column} {label}: ids {got[:8]} != expected {want[:8]}"
                )
            for path, lake in (("", env.lake), (" (iceberg_scan only)", iceberg_only(env.lake))):
                try:
                    lake_ids = sorted(
                        lake.query(f"SELECT id FROM {name} WHERE {sql}").column("id").to_pylist()
                    )
                except Exception as exc:
                    lake_ids = [f"error {exc}"]  # type: ignore[list-item]
                if lake_ids != want:
                    out["e_filter_lake"].append(
                        f"lake{path} {column} {label}: ids {lake_ids[:8]} != expected {want[:8]}"
                    )
    return out


def _python(value: Any, itype: IcebergType) -> Any:
    if isinstance(itype, UUIDType) and value is not None and not isinstance(value, uuid.UUID):
        return uuid.UUID(bytes=value) if isinstance(value, bytes) else uuid.UUID(str(value))
    return value


def _filter_pyiceberg(table: Table, expr: BooleanExpression) -> list[int]:
    return sorted(table.scan(row_filter=expr, selected_fields=("id",)).to_arrow().column("id").to_pylist())


def _filter_duckdb(env: LakeEnv, table: Table, sql: str, pushdown: bool = True) -> list[int]:
    con = duck(env.profile)
    scan = f"iceberg_scan('{table.metadata_location}')"
    if not pushdown:  # OFFSET 0: DuckDB filters rows after the scan, pruning nothing
        scan = f"(SELECT * FROM {scan} OFFSET 0)"
    try:
        rel = con.execute(f"SELECT id FROM {scan} WHERE {sql}")
        return sorted(r[0] for r in rel.fetchall())
    finally:
        con.close()


# ---------------------------------------------------------------- (f) snapshots


def check_snapshots(env: LakeEnv, name: str, live_rows: int, operation: str | None = None) -> Problems:
    """Linear parent chain, growing sequence numbers, summary totals equal to the manifests."""
    table = env.lake.table(name)
    current = table.current_snapshot()
    if current is None:
        return []
    problems = []
    if operation is not None and current.summary is not None and current.summary.operation.value != operation:
        problems.append(f"operation {current.summary.operation.value}, expected {operation}")
    chain, snap = [], current
    by_id = {s.snapshot_id: s for s in table.snapshots()}
    while snap is not None:
        chain.append(snap)
        snap = by_id.get(snap.parent_snapshot_id) if snap.parent_snapshot_id is not None else None
    for child, parent in zip(chain, chain[1:], strict=False):
        if not child.sequence_number > parent.sequence_number:
            problems.append(
                f"snapshot {child.snapshot_id} seq {child.sequence_number} <= parent's {parent.sequence_number}"
            )
        if child.timestamp_ms < parent.timestamp_ms:
            problems.append(f"snapshot {child.snapshot_id} is older than its parent")
    if current.sequence_number > table.metadata.last_sequence_number:
        problems.append("current sequence number exceeds last-sequence-number")
    entries = live_entries(env.profile, current.manifest_list)
    for e in entries:
        if (
            e.data_sequence_number > current.sequence_number
            or e.manifest_sequence_number > current.sequence_number
        ):
            problems.append(
                f"{e.path}: data sequence number {e.data_sequence_number} > snapshot's {current.sequence_number}"
            )
        if e.file_sequence_number >= 0 and e.data_sequence_number > e.file_sequence_number:
            problems.append(
                f"{e.path}: data sequence number {e.data_sequence_number} > file sequence number {e.file_sequence_number}"
            )
    data = [e for e in entries if e.content == DATA]
    deletes = [e for e in entries if e.content != DATA]
    summary = current.summary.additional_properties if current.summary else {}
    totals = {
        "total-records": sum(e.record_count for e in data),
        "total-data-files": len(data),
        "total-delete-files": len(deletes),
        "total-position-deletes": sum(e.record_count for e in deletes if e.content == POSITION_DELETES),
    }
    for key, actual in totals.items():
        if key in summary and int(summary[key]) != actual:
            problems.append(f"summary {key} = {summary[key]}, manifests hold {actual}")
    live = totals["total-records"] - totals["total-position-deletes"]
    # with delete files the subtraction is exact only if no delete is dangling; then readers judge
    if not deletes and live != live_rows:
        problems.append(f"manifests say {live} live rows, the table has {live_rows}")
    return problems


# ---------------------------------------------------------------- gc and lake's own counts


def normalise(path: str) -> str:
    """One spelling per file: scheme aliases, slashes after `file:` and percent-encoding differ by writer."""
    parsed = urlparse(path)
    scheme = {"s3a": "s3", "s3n": "s3", "": "file"}.get(parsed.scheme, parsed.scheme)
    return f"{scheme}://{parsed.netloc}{unquote(parsed.path)}"


def reachable(env: LakeEnv, table: Table) -> set[str]:
    """Every file any snapshot or metadata version names, read independently of lake."""
    from conformance.manifests import manifest_list

    meta = table.metadata
    files = {table.metadata_location, *(e.metadata_file for e in meta.metadata_log)}
    for snap in meta.snapshots:
        files.add(snap.manifest_list)
        for m in manifest_list(env.profile, snap.manifest_list):
            files.add(m["manifest_path"])
            files.update(e.path for e in live_entries(env.profile, snap.manifest_list))
    files.update(st.statistics_path for st in meta.statistics)
    return {normalise(f) for f in files}


def check_gc(env: LakeEnv, name: str) -> Problems:
    """`lake gc --older-than 0s --dry-run` never lists a file that metadata reaches (defect 9)."""
    plan = env.lake.gc(name, older_than="0s", dry_run=True, force=True).plan
    known = reachable(env, env.lake.table(name))
    live = [o.path for o in plan.orphans if normalise(o.path) in known]
    return [f"gc would delete {len(live)} files the table still reaches: {live[:3]}"] if live else []


def check_describe(env: LakeEnv, name: str, live_rows: int) -> Problems:
    """`lake describe` counts live rows (positional deletes subtracted) and data files only."""
    info = env.lake.describe(name)
    table = env.lake.table(name)
    snapshot = table.current_snapshot()
    entries = live_entries(env.profile, snapshot.manifest_list) if snapshot else []
    data_files = sum(e.content == DATA for e in entries)
    problems = []
    if info.get("rows") != live_rows:
        problems.append(f"describe says {info.get('rows')} rows, the table has {live_rows}")
    if info.get("data_files") != data_files:
        problems.append(f"describe says {info.get('data_files')} data files, the manifests hold {data_files}")
    return problems
