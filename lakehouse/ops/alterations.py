"""Each kind of `lake alter` change: lake's own checks (one line naming the column and the table) and
how it is staged on a pyiceberg transaction through public APIs only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyiceberg.types import DecimalType, DoubleType, FloatType, IcebergType, IntegerType, LongType

from lakehouse.core.schemas import (
    PartitionTerm,
    build_partition_spec,
    describe_partition_field,
    describe_term,
    parse_partition_terms,
    parse_schema,
)
from lakehouse.errors import LakehouseError, SchemaError

if TYPE_CHECKING:
    from pyiceberg.partitioning import PartitionField
    from pyiceberg.schema import Schema
    from pyiceberg.table import Transaction
    from pyiceberg.table.metadata import TableMetadata

SCHEMA_KINDS = ("add-column", "rename-column", "drop-column", "widen", "set-optional", "identifier-fields")
PARTITION_KINDS = ("partition-add", "partition-drop", "partition-replace")
KINDS = (*SCHEMA_KINDS, *PARTITION_KINDS, "set-property", "unset-property", "rename")


@dataclass(frozen=True)
class Change:
    """One alteration, as typed: `kind` is one of `KINDS`; the other fields are its arguments."""

    kind: str
    column: str | None = None  # the column it names (dotted for a nested one)
    value: str | None = None  # new name, type, table name, or partition terms
    doc: str | None = None
    after: str | None = None
    first: bool = False
    required: bool = False
    names: tuple[str, ...] = ()  # identifier fields, or property keys to unset
    properties: tuple[tuple[str, str], ...] = ()  # set-property pairs

    def describe(self) -> str:
        """The change as a user would type it, e.g. `rename-column name label`."""
        parts = [self.kind, self.column or "", self.value or ""]
        parts += list(self.names) + [f"{k}={v}" for k, v in self.properties]
        return " ".join(p for p in parts if p)


def parse_type(text: str) -> IcebergType:
    """One column type as `lake create --schema` spells it: long, decimal(12,2), struct<a: int>, ..."""
    try:
        return parse_schema(f"x {text}").fields[0].field_type
    except LakehouseError as exc:
        raise SchemaError(f"cannot parse type {text!r}: {exc}") from None


def check_change(meta: TableMetadata, name: str, change: Change) -> None:
    """Refuse bad input with a message that names the column and the table, before pyiceberg does."""
    schema = meta.schema()
    kind, column = change.kind, change.column
    if kind in ("rename-column", "drop-column", "widen", "set-optional"):
        _field(schema, name, column)
    if kind == "add-column":
        if not column or not change.value:
            raise LakehouseError("add-column needs a name and a type, e.g. add-column discount double")
        if _find(schema, column) is not None:
            raise SchemaError(f"column {column} already exists in {name}")
        parse_type(change.value)
        if change.required and meta.current_snapshot_id is not None:
            raise SchemaError(
                f"cannot add required column {column} to {name}: its rows would have no value; "
                "add it optional (and later set the identifier fields or fill it) instead"
            )
        for anchor in [change.after] if change.after else []:
            _field(schema, name, anchor)
    elif kind == "rename-column":
        parent, _, _ = (column or "").rpartition(".")
        target = f"{parent}.{change.value}" if parent else (change.value or "")
        if not change.value:
            raise LakehouseError("rename-column needs the new name")
        if _find(schema, target) is not None and target.lower() != (column or "").lower():
            raise SchemaError(
                f"cannot rename {column} to {change.value}: {name} already has a column {target}"
            )
    elif kind == "drop-column":
        _refuse_drop(meta, name, column or "")
    elif kind == "widen":
        _check_widen(schema, name, column or "", parse_type(change.value or ""))
    elif kind == "identifier-fields":
        for col in change.names:
            _field(schema, name, col)
    elif kind in PARTITION_KINDS:
        terms = parse_partition_terms(change.value)
        if not terms and kind != "partition-replace":
            raise LakehouseError(f"{kind} needs a partition term, e.g. day(ts) or bucket(16, user_id)")
        build_partition_spec(schema, terms)  # the same type checks as `lake create --partition-by`
        for term in terms if kind == "partition-drop" else []:
            _current_field(meta, name, term)
        for term in terms if kind == "partition-add" else []:
            if _has_field(meta, term):
                raise SchemaError(f"{name} is already partitioned by {describe_term(term)}")
    elif kind == "unset-property":
        for key in change.names:
            if key not in meta.properties:
                raise LakehouseError(f"property {key} is not set on {name}")


def stage_change(tx: Transaction, change: Change) -> None:
    """Stage one change on `tx` (committed by the caller, or never for a dry run)."""
    kind = change.kind
    if kind in SCHEMA_KINDS:
        # a required column can be added only while no row exists (check_change refused the rest)
        empty = change.kind == "add-column" and tx.table_metadata.current_snapshot_id is None
        with tx.update_schema(allow_incompatible_changes=empty) as update:
            _schema_change(update, change)
    elif kind in PARTITION_KINDS:
        meta = tx.table_metadata
        terms = parse_partition_terms(change.value)
        with tx.update_spec() as spec:
            if kind == "partition-drop":
                for term in terms:
                    spec.remove_field(_current_field(meta, "", term).name)
                return
            current = {describe_partition_field(f, meta.schema()): f for f in meta.spec().fields}
            wanted = {describe_term(t): t for t in _canonical(meta.schema(), terms)}
            if kind == "partition-replace":
                for text, pfield in current.items():
                    if _canonical_text(text) not in wanted:
                        spec.remove_field(pfield.name)
            kept = {_canonical_text(t) for t in current}
            for text, term in wanted.items():
                if kind == "partition-replace" and text in kept:
                    continue
                spec.add_field(term.column, term.iceberg_transform(), term.field_name())
    elif kind == "set-property":
        tx.set_properties(dict(change.properties))
    elif kind == "unset-property":
        tx.remove_properties(*change.names)


def _schema_change(update: Any, change: Change) -> None:
    kind, column = change.kind, change.column or ""
    if kind == "add-column":
        path = tuple(column.split("."))
        update.add_column(path, parse_type(change.value or ""), doc=change.doc, required=change.required)
        if change.first:
            update.move_first(column)
        elif change.after:
            update.move_after(column, change.after)
    elif kind == "rename-column":
        update.rename_column(column, change.value)
    elif kind == "drop-column":
        update.delete_column(column)
    elif kind == "widen":
        update.update_column(column, field_type=parse_type(change.value or ""))
    elif kind == "set-optional":
        update.make_column_optional(column)
    elif kind == "identifier-fields":
        update.set_identifier_fields(*change.names)


def _find(schema: Schema, column: str) -> Any:
    try:
        return schema.find_field(column, case_sensitive=False)
    except ValueError:
        return None


def _field(schema: Schema, name: str, column: str | None) -> Any:
    found = _find(schema, column or "")
    if found is None:
        known = ", ".join(f.name for f in schema.fields)
        raise SchemaError(f"column {column} does not exist in {name} (columns: {known})")
    return found


def _refuse_drop(meta: TableMetadata, name: str, column: str) -> None:
    schema = meta.schema()
    found = _field(schema, name, column)
    if found.field_id in schema.identifier_field_ids:
        raise SchemaError(
            f"cannot drop column {column} of {name}: it is an identifier field; set others first "
            "(lake alter TABLE identifier-fields ...)"
        )
    for spec in meta.specs().values():  # old files keep old specs: their source must stay readable
        for pfield in spec.fields:
            if pfield.source_id == found.field_id:
                where = (
                    "the current partition spec"
                    if spec.spec_id == meta.default_spec_id
                    else f"partition spec {spec.spec_id}"
                )
                raise SchemaError(
                    f"cannot drop column {column} of {name}: {where} partitions by it ({pfield.name}), "
                    "and files written with a spec keep it"
                )


_WIDENINGS: dict[type, type] = {IntegerType: LongType, FloatType: DoubleType}


def _check_widen(schema: Schema, name: str, column: str, target: IcebergType) -> None:
    source = _field(schema, name, column).field_type
    ok = _WIDENINGS.get(type(source)) is type(target) or source == target
    if isinstance(source, DecimalType) and isinstance(target, DecimalType):
        ok = target.scale == source.scale and target.precision >= source.precision
    if not ok:
        raise SchemaError(
            f"cannot widen column {column} of {name} from {source} to {target}; allowed: int -> long, "
            "float -> double, decimal(P,S) -> decimal(P2,S) with P2 > P"
        )
    if source == target:
        raise SchemaError(f"column {column} of {name} is already {target}")


def _canonical(schema: Schema, terms: list[PartitionTerm]) -> list[PartitionTerm]:
    """Terms with the column spelled as the schema spells it."""
    return [
        PartitionTerm(t.transform, schema.find_field(t.column, case_sensitive=False).name, t.param)
        for t in terms
    ]


def _canonical_text(text: str) -> str:
    """describe_partition_field writes identity as a bare column; describe_term as identity(col)."""
    return text if "(" in text else f"identity({text})"


def _has_field(meta: TableMetadata, term: PartitionTerm) -> bool:
    try:
        _current_field(meta, "", term)
    except SchemaError:
        return False
    return True


def _current_field(meta: TableMetadata, name: str, term: PartitionTerm) -> PartitionField:
    schema = meta.schema()
    source = schema.find_field(term.column, case_sensitive=False)
    for pfield in meta.spec().fields:
        if pfield.source_id == source.field_id and pfield.transform == term.iceberg_transform():
            return pfield
    current = ", ".join(describe_partition_field(f, schema) for f in meta.spec().fields) or "none"
    raise SchemaError(f"{name} is not partitioned by {describe_term(term)} (its partition fields: {current})")
