"""How a table's schema changed between two snapshots: top-level columns matched by field id, so a
rename is a rename (not a drop and an add). Shared by `lake diff` (read/diff/) and `lake drift`
(read/drift/)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Callable

    from pyiceberg.schema import Schema
    from pyiceberg.types import NestedField

__all__ = ["SchemaChange", "schema_changes"]


@dataclass(frozen=True)
class SchemaChange:
    kind: Literal["added", "dropped", "retyped", "renamed"]
    column: str  # the current name (the reference's for dropped)
    old_type: str | None = None
    new_type: str | None = None
    old_name: str | None = None  # renamed: the reference's name

    @property
    def text(self) -> str:
        """One line, as diff and drift print it: `renamed a -> b`, `retyped c: int -> long`, ..."""
        if self.kind == "renamed":
            return f"renamed {self.old_name} -> {self.column}"
        if self.kind == "retyped":
            return f"retyped {self.column}: {self.old_type} -> {self.new_type}"
        if self.kind == "added":
            return f"added {self.column} {self.new_type}"
        return f"dropped {self.column} {self.old_type}"

    @property
    def drifts(self) -> bool:
        """A dropped or retyped column breaks a model trained on the reference; an added one does not."""
        return self.kind in ("dropped", "retyped")


def matched(old: Schema, new: Schema, by_name: bool = False) -> list[tuple[NestedField, NestedField]]:
    """(old field, new field) pairs of the columns in both: by field id (one table's history), or by
    name, case-insensitively (two tables)."""
    key: Callable[[NestedField], object] = (lambda f: f.name.lower()) if by_name else (lambda f: f.field_id)
    before = {key(f): f for f in old.fields}
    return [(before[key(f)], f) for f in new.fields if key(f) in before]


def schema_changes(old: Schema, new: Schema, by_name: bool = False) -> tuple[SchemaChange, ...]:
    """Columns added, renamed, retyped (in `new`'s order), then dropped (in `old`'s)."""
    pairs = {id(f): was for was, f in matched(old, new, by_name)}
    kept = {id(was) for was in pairs.values()}
    out = []
    for f in new.fields:
        was = pairs.get(id(f))
        if was is None:
            out.append(SchemaChange("added", f.name, new_type=str(f.field_type)))
            continue
        if was.name != f.name and not by_name:
            out.append(SchemaChange("renamed", f.name, str(was.field_type), str(f.field_type), was.name))
        if str(was.field_type) != str(f.field_type):
            out.append(SchemaChange("retyped", f.name, str(was.field_type), str(f.field_type)))
    out += [
        SchemaChange("dropped", f.name, old_type=str(f.field_type)) for f in old.fields if id(f) not in kept
    ]
    return tuple(out)
