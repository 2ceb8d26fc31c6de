"""How a table's schema changed between two snapshots: top-level columns matched by field id, so a
rename is a rename (not a drop and an add). Shared by `lake diff` (read/diff/) and `lake drift`
(read/drift/)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from pyiceberg.schema import Schema

__all__ = ["SchemaChange", "schema_changes"]


@dataclass(frozen=True)
class SchemaChange:
    kind: Literal["added", "dropped", "retyped", "renamed"]
    column: str  # the current name (the reference's for dropped)
    old_type: str | None = None
    new_type: str | None = None
    old_name: str | None = None  # renamed: the reference's name

    @property
    def drifts(self) -> bool:
        """A dropped or retyped column breaks a model trained on the reference; an added one does not."""
        return self.kind in ("dropped", "retyped")


def schema_changes(old: Schema, new: Schema) -> tuple[SchemaChange, ...]:
    """Columns added, renamed, retyped (in `new`'s order), then dropped (in `old`'s)."""
    before = {f.field_id: f for f in old.fields}
    after = {f.field_id: f for f in new.fields}
    out = []
    for fid, f in after.items():
        was = before.get(fid)
        if was is None:
            out.append(SchemaChange("added", f.name, new_type=str(f.field_type)))
            continue
        if was.name != f.name:
            out.append(SchemaChange("renamed", f.name, str(was.field_type), str(f.field_type), was.name))
        if str(was.field_type) != str(f.field_type):
            out.append(SchemaChange("retyped", f.name, str(was.field_type), str(f.field_type)))
    out += [
        SchemaChange("dropped", f.name, old_type=str(f.field_type))
        for i, f in before.items()
        if i not in after
    ]
    return tuple(out)
