"""`lake alter`: schema, partition-spec, property and name changes, each ONE metadata commit.

Every change goes through pyiceberg's public APIs (`update_schema`, `update_spec`, `set_properties`,
`remove_properties`, `catalog.rename_table`). `plan_alter` checks the change, with lake's own messages
first and pyiceberg's validation second, by staging it on a transaction that is never committed; the
staged metadata is the plan's "after". `apply_alter` stages the same change again on a freshly loaded
table inside the retry loop, so a concurrent change is re-checked under the compare-and-swap.
Data files are never touched: readers match columns by field id, and old files keep their spec.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyiceberg.exceptions import ValidationError

from lakehouse.core.properties import check_table_properties
from lakehouse.core.schemas import describe_partition_field, format_schema
from lakehouse.errors import LakehouseError, SchemaError, TableExistsError
from lakehouse.ops.alterations import KINDS, Change, check_change, stage_change
from lakehouse.table import tables
from lakehouse.table.catalog import split_identifier
from lakehouse.table.commits import RetryPolicy, commit_with_retry

__all__ = ["AlterPlan", "AlterResult", "Change", "apply_alter", "plan_alter"]

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table
    from pyiceberg.table.metadata import TableMetadata


@dataclass(frozen=True)
class AlterPlan:
    table: str
    change: Change
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)

    def differences(self) -> list[str]:
        """What moves, key by key: schema columns, partition spec, identifier fields, properties, name."""
        lines = []
        for key in ("name", "schema", "partition_spec", "identifier_fields", "properties"):
            old, new = self.before.get(key), self.after.get(key)
            if old == new:
                continue
            if key == "schema":
                lines += _schema_differences(old or [], new or [])
            elif key == "properties":
                for k in sorted(set(old or {}) | set(new or {})):
                    if (old or {}).get(k) != (new or {}).get(k):
                        lines.append(f"property {k}: {(old or {}).get(k)} -> {(new or {}).get(k)}")
            else:
                lines.append(f"{key.replace('_', ' ')}: {_plain(old)} -> {_plain(new)}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "change": self.change.describe(),
            "kind": self.change.kind,
            "changes": self.differences(),
            "before": self.before,
            "after": self.after,
        }


@dataclass(frozen=True)
class AlterResult:
    plan: AlterPlan
    dry_run: bool
    table: str  # the name after the change (a rename's new name)
    metadata_location: str | None = None
    schema_id: int | None = None
    spec_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.plan.to_dict(),
            "dry_run": self.dry_run,
            "name": self.table,
            "metadata_location": self.metadata_location,
            "schema_id": self.schema_id,
            "spec_id": self.spec_id,
        }


def plan_alter(catalog: Catalog, identifier: str, change: Change) -> AlterPlan:
    """Check `change` against the table as it is now and return what it would look like afterwards;
    nothing is written."""
    if change.kind not in KINDS:
        raise LakehouseError(f"unknown change {change.kind!r}; use one of: {', '.join(KINDS)}")
    table = tables.load_table(catalog, identifier)
    name = ".".join(table.name()[-2:]) if len(table.name()) >= 2 else identifier
    before = summarize(table.metadata, name)
    if change.kind == "rename":
        return AlterPlan(name, change, before, {**before, "name": _check_rename(catalog, name, change.value)})
    if change.kind == "set-property":
        check_table_properties(name, {**table.properties, **dict(change.properties)})
    check_change(table.metadata, name, change)
    tx = table.transaction()
    _stage(tx, name, change)
    return AlterPlan(name, change, before, summarize(tx.table_metadata, name))


def apply_alter(
    catalog: Catalog, plan: AlterPlan, policy: RetryPolicy, load: Callable[[str], Table]
) -> AlterResult:
    """Commit the planned change as one metadata commit (a rename: one catalog call)."""
    change = plan.change
    if change.kind == "rename":
        target = plan.after["name"]
        tables.ensure_namespace(catalog, split_identifier(target)[0])
        catalog.rename_table(plan.table, target)
        renamed = load(target)
        return AlterResult(plan, False, target, renamed.metadata_location)

    def stage(tx: Any) -> None:
        check_change(tx.table_metadata, plan.table, change)  # against the table as it is now
        _stage(tx, plan.table, change)

    committed = commit_with_retry(lambda: load(plan.table), stage, policy, f"alter {plan.table}")
    meta = committed.metadata
    return AlterResult(plan, False, plan.table, committed.metadata_location, meta.current_schema_id,
                       meta.default_spec_id)  # fmt: skip


def summarize(meta: TableMetadata, name: str) -> dict[str, Any]:
    """The parts of a table's metadata that `alter` can change, in describe's form."""
    schema = meta.schema()
    return {
        "name": name,
        "schema": format_schema(schema),
        "partition_spec": [describe_partition_field(f, schema) for f in meta.spec().fields],
        "identifier_fields": sorted(schema.identifier_field_names()),
        "properties": dict(meta.properties),
    }


def _stage(tx: Any, name: str, change: Change) -> None:
    """Stage the change on a transaction; pyiceberg's own validation errors become one-line lake errors."""
    try:
        stage_change(tx, change)
    except (ValueError, ValidationError) as exc:
        raise SchemaError(f"cannot {change.describe()} on {name}: {exc}") from None


def _check_rename(catalog: Catalog, name: str, new_name: str | None) -> str:
    if not new_name:
        raise LakehouseError("rename needs the new table name, e.g. silver.events_v2")
    split_identifier(new_name)
    if new_name.lower() == name.lower():
        raise TableExistsError(f"{name} is already called {new_name}")
    twin = next((t for t in tables.list_tables(catalog) if t.lower() == new_name.lower()), None)
    if twin is not None:
        raise TableExistsError(f"cannot rename {name} to {new_name}: table {twin} already exists")
    return new_name


def _schema_differences(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[str]:
    """Columns by field id: added, dropped, renamed, retyped, made optional, moved."""
    before, after = {c["id"]: c for c in old}, {c["id"]: c for c in new}
    lines = []
    for fid, col in after.items():
        was = before.get(fid)
        if was is None:
            lines.append(f"add column {col['name']} {col['type']}{' not null' if col['required'] else ''}")
            continue
        if was["name"] != col["name"]:
            lines.append(f"rename column {was['name']} -> {col['name']}")
        if was["type"] != col["type"]:
            lines.append(f"column {col['name']}: {was['type']} -> {col['type']}")
        if was["required"] != col["required"]:
            lines.append(f"column {col['name']}: {'optional' if not col['required'] else 'required'}")
    lines += [f"drop column {c['name']}" for fid, c in before.items() if fid not in after]
    if not lines and [c["id"] for c in old] != [c["id"] for c in new]:
        lines.append("column order: " + ", ".join(c["name"] for c in new))
    return lines


def _plain(value: Any) -> str:
    if isinstance(value, list):
        return "(" + ", ".join(map(str, value)) + ")" if value else "(none)"
    return str(value)
