"""What the lake knows of one table, for `lake docs`: its Iceberg schema (with each field's `doc`), its
current snapshot, and for a model whether the build recorded there is still what the project says.

A model is *stale* when `lake run` would rebuild it (lakehouse.elt.state.why_stale): its SQL or
config() changed since the build (`sql_current` says which hash was compared), or an input has a newer
snapshot or schema than the one the build read. Nothing here writes or plans a run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lakehouse.elt.models import Model, ModelError, sql_hash
from lakehouse.elt.state import config_hash, last_build, why_stale
from lakehouse.errors import LakehouseError, NoSuchTableError

if TYPE_CHECKING:
    from pyiceberg.table import Table

# Why a model of these materializations has no table: an ephemeral one never has; a view has none
# when the models that read it inline its SQL (a catalog's Iceberg view, when there is one, is shown).
TABLELESS = {
    "ephemeral": "ephemeral: inlined into the models that read it, never stored",
    "view": "a view: no table of its own; the models that read it inline its SQL",
}


@dataclass(frozen=True)
class FieldDoc:
    """One top-level field of a table's current Iceberg schema."""

    name: str
    type: str
    required: bool
    doc: str = ""


@dataclass(frozen=True)
class TableFacts:
    """A table as the catalog has it now (`built` False: no such table, `note` says why)."""

    built: bool
    note: str = ""
    fields: tuple[FieldDoc, ...] = ()
    snapshot_id: str | None = None  # a string: 63-bit ids do not fit a JavaScript number
    committed_at: str | None = None
    operation: str | None = None
    rows: int | None = None
    build_snapshot_id: str | None = None  # the snapshot whose build wrote the data (past compactions)
    run_id: str | None = None
    inputs: Mapping[str, str] = field(default_factory=dict)  # input table -> snapshot id it read
    sql_hash: str | None = None  # lake.sql-hash recorded by that build
    current_sql_hash: str | None = None  # the hash of the model's SQL now
    sql_current: bool | None = None  # the recorded hash is the model's SQL now (None: unknown)
    stale: str | None = None  # why `lake run` would rebuild it ("" up to date; None: a source)

    def to_dict(self) -> dict[str, Any]:
        return {
            "built": self.built,
            "note": self.note,
            "fields": [vars(f) for f in self.fields],
            "snapshot_id": self.snapshot_id,
            "committed_at": self.committed_at,
            "operation": self.operation,
            "rows": self.rows,
            "build_snapshot_id": self.build_snapshot_id,
            "run_id": self.run_id,
            "inputs": dict(self.inputs),
            "sql_hash": self.sql_hash,
            "current_sql_hash": self.current_sql_hash,
            "sql_current": self.sql_current,
            "stale": self.stale,
        }


class Tables:
    """Tables opened once each (a model's facts look at its inputs' current snapshots too)."""

    def __init__(self, load: Callable[[str], Table] | None) -> None:
        self._load = load
        self._opened: dict[str, Table | None] = {}
        self.errors: dict[str, str] = {}

    def get(self, name: str) -> Table | None:
        if name not in self._opened:
            table = None
            if self._load is not None:
                try:
                    table = self._load(name)
                except NoSuchTableError:
                    pass
                except LakehouseError as exc:  # an unreadable table is documented, with the reason
                    self.errors[name] = str(exc).splitlines()[0]
            self._opened[name] = table
        return self._opened[name]

    def loader(self, name: str) -> Table:
        """`get` as a loader that raises, for code that expects one (column lineage's schemas)."""
        table = self.get(name)
        if table is None:
            raise NoSuchTableError(f"{name} does not exist")
        return table


def table_facts(tables: Tables, name: str, model: Model | None = None) -> TableFacts:
    """The facts of table `name`; `model` is the model that builds it (None for a source)."""
    materialized = model.config.materialized if model is not None else ""
    if materialized == "ephemeral":
        return TableFacts(built=False, note=TABLELESS[materialized])
    table = tables.get(name)
    if table is None and materialized in TABLELESS:
        return TableFacts(built=False, note=TABLELESS[materialized])
    if table is None:
        how = f"build it with `lake run --select {name}`" if model else "load it with `lake ingest`"
        return TableFacts(built=False, note=tables.errors.get(name) or f"not built yet: {how}")
    fields = tuple(
        FieldDoc(f.name, str(f.field_type), bool(f.required), f.doc or "") for f in table.schema().fields
    )
    snapshot = table.current_snapshot()
    if snapshot is None:
        return TableFacts(built=True, note="the table has no snapshot yet (no data)", fields=fields)
    from lakehouse.table.snapshots import iso_ms

    props = _props(snapshot)
    rows = props.get("total-records")
    facts: dict[str, Any] = {
        "built": True,
        "fields": fields,
        "snapshot_id": str(snapshot.snapshot_id),
        "committed_at": iso_ms(snapshot.timestamp_ms),
        "operation": props.get("lake.operation") or props.get("operation"),
        "rows": int(rows) if rows is not None and str(rows).isdigit() else None,
    }
    if model is not None:
        facts |= _build_facts(tables, table, model)
    return TableFacts(**facts)


def _props(snapshot: Any) -> dict[str, str]:
    summary = snapshot.summary
    if summary is None:
        return {}
    return {k: str(v) for k, v in summary.additional_properties.items()} | {
        "operation": str(summary.operation.value)
    }


def _build_facts(tables: Tables, table: Table, model: Model) -> dict[str, Any]:
    """What the last `lake run` build recorded, against the model's SQL, config() and inputs now."""
    hashes = [sql_hash(model.sql)]
    if model.config.materialized == "incremental":
        with contextlib.suppress(ModelError):  # an incremental build ran it with is_incremental() true
            hashes.append(sql_hash(model.render(incremental=True)))
    built = last_build(table, model.name)
    inputs: dict[str, int | None] = {}
    schemas: dict[str, int | None] = {}
    for ident in model.depends_on:
        read = tables.get(ident)
        current = read.current_snapshot() if read is not None else None
        inputs[ident] = current.snapshot_id if current is not None else None
        schemas[ident] = read.metadata.current_schema_id if read is not None else None
    stale = why_stale(built, tuple(hashes), config_hash(model.config), inputs, schemas)
    out: dict[str, Any] = {"current_sql_hash": hashes[0], "stale": stale}
    if built is not None:
        out |= {
            "build_snapshot_id": str(built.snapshot_id),
            "inputs": {k: str(v) for k, v in sorted(built.inputs.items())},
            "sql_hash": built.sql_hash,
            "sql_current": built.sql_hash in hashes,
        }
        snapshot = table.metadata.snapshot_by_id(built.snapshot_id)
        if snapshot is not None:
            out["run_id"] = _props(snapshot).get("lake.run-id")
    return out
