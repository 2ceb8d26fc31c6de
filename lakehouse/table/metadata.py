"""A table's metadata read straight from its metadata JSON, without pyiceberg.

The read path (`lake query`, time travel, pins) needs only what the metadata file says: schemas,
partition specs, snapshots, refs, the snapshot log and properties. Parsing that JSON takes
milliseconds; importing pyiceberg (pydantic, SQLAlchemy) takes half a second. `TableMeta` exposes the
same names as pyiceberg's `Table` for what it has (`metadata.snapshot_by_id`, `current_snapshot()`,
`properties`, `metadata.refs`, `snapshot_log` ...), so snapshot resolution is written once for both.

A metadata file is immutable, so a parsed one is cached by its location for the life of the process.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lakehouse.core.schemas import quote_ident
from lakehouse.errors import SchemaError

if TYPE_CHECKING:
    from pyiceberg.table import Table


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: int
    parent_snapshot_id: int | None
    sequence_number: int
    timestamp_ms: int
    manifest_list: str | None
    schema_id: int | None
    summary: dict[str, str]

    def total(self, key: str) -> int | None:
        """A `total-*` count of the snapshot summary, or None when the writer did not record it."""
        value = self.summary.get(key)
        return int(value) if value is not None and str(value).lstrip("-").isdigit() else None


@dataclass(frozen=True)
class LogEntry:
    snapshot_id: int
    timestamp_ms: int


@dataclass(frozen=True)
class Ref:
    snapshot_id: int
    snapshot_ref_type: str


@dataclass(frozen=True)
class Field:
    field_id: int
    name: str
    type: Any  # the spec's JSON form: "long", "decimal(9,2)", or a dict for struct/list/map
    required: bool
    doc: str | None = None

    def same_shape(self, other: Field) -> bool:
        """Same name and type, nested names and ids included (docs and required-ness aside)."""
        return self.name == other.name and _shape(self.type) == _shape(other.type)


@dataclass(frozen=True)
class Schema:
    schema_id: int
    fields: tuple[Field, ...]
    identifier_field_ids: tuple[int, ...] = ()

    def find_field(self, field_id: int) -> Field:
        for f in self.fields:
            if f.field_id == field_id:
                return f
        raise ValueError(f"no field {field_id}")

    def columns(self) -> list[tuple[str, str]]:
        """(name, DuckDB type) of every column, in order."""
        return [(f.name, duckdb_type(f.type)) for f in self.fields]


@dataclass(frozen=True)
class PartitionField:
    source_id: int
    field_id: int
    name: str
    transform: str  # "identity", "bucket[16]", "day", ...


@dataclass(frozen=True)
class Spec:
    spec_id: int
    fields: tuple[PartitionField, ...]


@dataclass(frozen=True)
class TableMeta:
    """One version of a table's metadata (one metadata.json)."""

    identifier: str
    metadata_location: str
    format_version: int
    table_uuid: str
    location: str
    current_schema_id: int
    schemas_by_id: dict[int, Schema]
    specs_by_id: dict[int, Spec]
    default_spec_id: int
    current_snapshot_id: int | None
    snapshots: tuple[Snapshot, ...]
    snapshot_log: tuple[LogEntry, ...]
    refs: dict[str, Ref]
    properties: dict[str, str]
    _by_id: dict[int, Snapshot] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_id.update({s.snapshot_id: s for s in self.snapshots})

    # pyiceberg's `Table` names, so snapshot resolution serves both (lakehouse/table/snapshots.py).
    @property
    def metadata(self) -> TableMeta:
        return self

    def name(self) -> tuple[str, ...]:
        return tuple(self.identifier.split("."))

    def snapshot_by_id(self, snapshot_id: int) -> Snapshot | None:
        return self._by_id.get(snapshot_id)

    def current_snapshot(self) -> Snapshot | None:
        return None if self.current_snapshot_id is None else self._by_id.get(self.current_snapshot_id)

    def schema(self) -> Schema:
        return self.schemas_by_id[self.current_schema_id]

    def schemas(self) -> dict[int, Schema]:
        return self.schemas_by_id

    def specs(self) -> dict[int, Spec]:
        return self.specs_by_id


def parse(data: bytes, identifier: str, location: str) -> TableMeta:
    """A metadata file's bytes (gzip-compressed or not), as the spec lays them out (v1 and v2)."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    doc = json.loads(data)
    # v1 may carry only "schema" and "partition-spec"
    schemas = [_schema(s) for s in doc["schemas"]] if "schemas" in doc else [_schema(doc["schema"])]
    if "partition-specs" in doc:
        specs = [_spec(s) for s in doc["partition-specs"]]
    else:
        specs = [Spec(0, tuple(_partition_field(f) for f in doc.get("partition-spec", [])))]
    current = doc.get("current-snapshot-id")
    current = None if current in (None, -1) else int(current)
    snapshots = tuple(_snapshot(s) for s in doc.get("snapshots", []))
    refs = {
        name: Ref(int(r["snapshot-id"]), r.get("type", "branch")) for name, r in doc.get("refs", {}).items()
    }
    if current is not None and "main" not in refs:  # as pyiceberg: v1 files have no refs
        refs["main"] = Ref(current, "branch")
    return TableMeta(
        identifier=identifier,
        metadata_location=location,
        format_version=int(doc.get("format-version", 1)),
        table_uuid=str(doc.get("table-uuid", "")),
        location=str(doc["location"]),
        current_schema_id=int(doc.get("current-schema-id", schemas[0].schema_id)),
        schemas_by_id={s.schema_id: s for s in schemas},
        specs_by_id={s.spec_id: s for s in specs},
        default_spec_id=int(doc.get("default-spec-id", 0)),
        current_snapshot_id=current,
        snapshots=snapshots,
        snapshot_log=tuple(LogEntry(int(e["snapshot-id"]), int(e["timestamp-ms"])) for e in doc.get("snapshot-log", [])),
        refs=refs,
        properties={str(k): str(v) for k, v in doc.get("properties", {}).items()},
    )  # fmt: skip


def of_table(table: Table, identifier: str) -> TableMeta:
    """The view of a table pyiceberg loaded (REST and other catalogs, or a table in hand)."""
    return load(identifier, table.metadata_location, lambda _: table.metadata.model_dump_json().encode())


_cache: dict[tuple[str, str], TableMeta] = {}


def load(identifier: str, location: str, read: Callable[[str], bytes]) -> TableMeta:
    """The metadata file at `location`, read with `read` once per process."""
    key = (identifier, location)
    if key not in _cache:
        if len(_cache) > 512:
            _cache.clear()
        _cache[key] = parse(read(location), identifier, location)
    return _cache[key]


def _schema(doc: dict[str, Any]) -> Schema:
    fields = tuple(
        Field(int(f["id"]), str(f["name"]), f["type"], bool(f.get("required")), f.get("doc"))
        for f in doc["fields"]
    )
    return Schema(
        int(doc.get("schema-id", 0)), fields, tuple(int(i) for i in doc.get("identifier-field-ids", []))
    )


def _spec(doc: dict[str, Any]) -> Spec:
    return Spec(int(doc["spec-id"]), tuple(_partition_field(f) for f in doc.get("fields", [])))


def _partition_field(doc: dict[str, Any]) -> PartitionField:
    field_id = int(doc.get("field-id", 1000))
    return PartitionField(int(doc["source-id"]), field_id, str(doc["name"]), str(doc["transform"]))


def _snapshot(doc: dict[str, Any]) -> Snapshot:
    parent = doc.get("parent-snapshot-id")
    schema_id = doc.get("schema-id")
    return Snapshot(
        snapshot_id=int(doc["snapshot-id"]),
        parent_snapshot_id=None if parent is None else int(parent),
        sequence_number=int(doc.get("sequence-number", 0)),
        timestamp_ms=int(doc["timestamp-ms"]),
        manifest_list=doc.get("manifest-list"),
        schema_id=None if schema_id is None else int(schema_id),
        summary={str(k): str(v) for k, v in doc.get("summary", {}).items()},
    )


def _shape(type_: Any) -> Any:
    """A type without docs, required flags or defaults: what decides how a file is read by name."""
    if isinstance(type_, dict):
        kind = type_.get("type")
        if kind == "struct":
            return ("struct", tuple((f["id"], f["name"], _shape(f["type"])) for f in type_["fields"]))
        if kind == "list":
            return ("list", type_["element-id"], _shape(type_["element"]))
        if kind == "map":
            return ("map", type_["key-id"], _shape(type_["key"]), type_["value-id"], _shape(type_["value"]))
    return type_


_SIMPLE = {
    "boolean": "BOOLEAN", "int": "INTEGER", "long": "BIGINT", "float": "FLOAT", "double": "DOUBLE",
    "date": "DATE", "time": "TIME", "timestamp": "TIMESTAMP", "timestamptz": "TIMESTAMPTZ",
    "string": "VARCHAR", "uuid": "UUID", "binary": "BLOB",
}  # fmt: skip


def duckdb_type(type_: Any) -> str:
    """The DuckDB type of an Iceberg type in its JSON form (as lakehouse.core.schemas.duckdb_type)."""
    if isinstance(type_, str):
        if type_ in _SIMPLE:
            return _SIMPLE[type_]
        if type_.startswith("decimal("):
            precision, scale = (int(p) for p in type_[len("decimal(") : -1].split(","))
            return f"DECIMAL({precision},{scale})"
        if type_.startswith("fixed["):
            return "BLOB"
    elif isinstance(type_, dict):
        kind = type_.get("type")
        if kind == "list":
            return f"{duckdb_type(type_['element'])}[]"
        if kind == "map":
            return f"MAP({duckdb_type(type_['key'])}, {duckdb_type(type_['value'])})"
        if kind == "struct":
            inner = ", ".join(f"{quote_ident(f['name'])} {duckdb_type(f['type'])}" for f in type_["fields"])
            return f"STRUCT({inner})"
    raise SchemaError(f"type {type_} is not supported")


def type_text(type_: Any) -> str:
    """An Iceberg type as pyiceberg prints it (`decimal(9, 2)`, `list<string>`, `struct<1: a: optional string>`)."""
    if isinstance(type_, str):
        if type_.startswith("decimal("):
            precision, scale = (p.strip() for p in type_[len("decimal(") : -1].split(","))
            return f"decimal({precision}, {scale})"
        return type_
    kind = type_.get("type")
    if kind == "list":
        return f"list<{type_text(type_['element'])}>"
    if kind == "map":
        return f"map<{type_text(type_['key'])}, {type_text(type_['value'])}>"
    inner = ", ".join(
        f"{f['id']}: {f['name']}: {'required' if f.get('required') else 'optional'} {type_text(f['type'])}"
        + (f" ({f['doc']})" if f.get("doc") else "")
        for f in type_["fields"]
    )
    return f"struct<{inner}>"
