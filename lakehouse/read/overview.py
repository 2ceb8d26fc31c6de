"""`lake describe` and `lake files` from the metadata JSON and the file plan, without pyiceberg.

The file list comes from the file plan in the everyday case: a snapshot without delete files,
partitioned by transforms whose values print plainly. Otherwise (live counts after row-level deletes,
timestamp or binary partition values) `table_files` returns None and the caller asks pyiceberg
(lakehouse/table/tables.py) for the files and counts; `describe` renders either the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from lakehouse.read.files import NO_TEXT, FilePlan
from lakehouse.table.metadata import PartitionField, Schema, Snapshot, TableMeta, type_text
from lakehouse.table.snapshots import iso_ms

_PLAIN_IDENTITY = {"string", "int", "long", "date"}
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class Counts:
    """A snapshot's files and rows (lakehouse.table.deletes.LiveCounts, where delete files apply)."""

    data_files: int
    delete_files: int
    data_rows: int  # rows in the data files, deleted ones included
    rows: int  # live rows, once the delete files apply
    exact: bool  # False: equality deletes make `rows` an upper bound

    @classmethod
    def of_files(cls, files: list[dict[str, Any]]) -> Counts:
        """Counts of data files alone: no delete file applies, so every row is live."""
        rows = sum(f["rows"] for f in files)
        return cls(len(files), 0, rows, rows, True)


def describe(
    meta: TableMeta, identifier: str, snapshot: Snapshot | None, files: list[dict[str, Any]], counts: Counts,
    *, time_travel: bool,
) -> dict[str, Any]:  # fmt: skip
    """What `lake describe` shows: the table now, in its current schema (a schema change needs no write
    to show, as in Spark); with `time_travel`, the snapshot in the schema it was written with."""
    schema = meta.schema()
    if time_travel and snapshot is not None and snapshot.schema_id is not None:
        schema = meta.schemas_by_id.get(snapshot.schema_id, schema)
    names = {f.field_id: f.name for f in schema.fields}
    spec = meta.specs_by_id[meta.default_spec_id]
    summary = snapshot.summary if snapshot is not None else {}
    return {
        "table": identifier,
        "location": meta.location,
        "format_version": meta.format_version,
        "schema": [
            {"id": f.field_id, "name": f.name, "type": type_text(f.type), "required": f.required}
            | ({"doc": f.doc} if f.doc else {})
            for f in schema.fields
        ],
        "identifier_fields": sorted(names[i] for i in schema.identifier_field_ids if i in names),
        "partition_spec": [_spec_text(p, meta.schema()) for p in spec.fields],
        "properties": dict(meta.properties),
        "snapshot": None
        if snapshot is None
        else {
            "snapshot_id": snapshot.snapshot_id,
            "parent_id": snapshot.parent_snapshot_id,
            "committed_at": iso_ms(snapshot.timestamp_ms),
            "operation": summary.get("operation"),
            "summary": {k: v for k, v in summary.items() if k != "operation"},
        },
        "data_files": counts.data_files,
        "data_bytes": sum(f["bytes"] for f in files if f["content"] == "data"),
        "delete_files": counts.delete_files,
        "delete_bytes": sum(f["bytes"] for f in files if f["content"] != "data"),
        "data_rows": counts.data_rows,
        "rows": counts.rows,
        "rows_exact": counts.exact,
    }


def table_files(meta: TableMeta, plan: FilePlan | None) -> list[dict[str, Any]] | None:
    """What `Lakehouse.files` returns for a snapshot without delete files, or None."""
    if plan is None:
        return []
    if plan.delete_files:
        return None
    schema = meta.schema()
    rows = []
    for file in plan.files:
        spec = meta.specs_by_id.get(file.spec_id)
        if spec is None:
            return None
        partition = {}
        for pfield in spec.fields:
            text = _human(pfield, schema, file.partition.get(pfield.name))
            if text is NO_TEXT:
                return None
            partition[pfield.name] = text
        rows.append({"path": file.path, "content": "data", "partition": partition, "rows": file.record_count,
                     "bytes": file.file_size})  # fmt: skip
    return sorted(rows, key=lambda r: r["path"])


def _spec_text(pfield: PartitionField, schema: Schema) -> str:
    """`day(ts)`, `bucket(16, user_id)`, `country`: the form users typed."""
    try:
        column = schema.find_field(pfield.source_id).name
    except ValueError:
        column = str(pfield.source_id)
    transform = pfield.transform
    if transform == "identity":
        return column
    for kind in ("bucket", "truncate"):
        if transform.startswith(f"{kind}["):
            return f"{kind}({transform[len(kind) + 1 : -1]}, {column})"
    return f"{transform}({column})"


def _human(pfield: PartitionField, schema: Schema, text: str | None) -> str | None:
    """A partition value as Iceberg's human string (pyiceberg's `to_human_string`); NO_TEXT when lake
    cannot say it the same way without pyiceberg."""
    if text is None:
        return None
    if text.startswith(NO_TEXT):
        return NO_TEXT
    transform = pfield.transform
    try:
        source = schema.find_field(pfield.source_id).type
    except ValueError:
        return NO_TEXT
    if transform == "identity":
        return text if source in _PLAIN_IDENTITY else NO_TEXT
    if transform.startswith("bucket["):
        return text
    if transform.startswith("truncate["):
        return text if source in ("int", "long", "string") else NO_TEXT
    if not text.lstrip("-").isdigit():  # a day as a date (DuckDB reads Iceberg's date logical type)
        return text if transform == "day" else NO_TEXT
    value = int(text)
    if transform == "year":
        return f"{1970 + value:04d}"
    if transform == "month":
        year, month = divmod(value, 12)
        return f"{1970 + year:04d}-{month + 1:02d}"
    if transform == "day":
        return (_EPOCH + timedelta(days=value)).isoformat()
    if transform == "hour":
        return (datetime(1970, 1, 1) + timedelta(hours=value)).isoformat("-", "hours")
    return NO_TEXT
