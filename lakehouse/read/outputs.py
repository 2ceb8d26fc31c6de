"""What `Lakehouse.read` returns, and in which order: `as_=` converts the Arrow result (pandas and
polars are optional extras), `order_by=` names columns checked against the table's schema.

Without `order_by` rows come in no stable order: DuckDB reads a snapshot's files on several threads,
so two reads of the same pinned snapshot hold the same rows, in an order that can differ.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

from lakehouse.core.schemas import quote_ident
from lakehouse.errors import LakehouseError

if TYPE_CHECKING:
    import pyarrow as pa

OUTPUTS = ("arrow", "pandas", "polars", "duckdb")
_EXTRAS = {"pandas": "pandas", "polars": "polars"}  # output -> (module, extra) of the same name


def check_output(as_: str) -> None:
    """Before reading: an unknown output, or one whose package is not installed, is one line."""
    if as_ not in OUTPUTS:
        raise LakehouseError(f"unknown output as_={as_!r}; use one of: {', '.join(OUTPUTS)}")
    module = _EXTRAS.get(as_)
    if module is not None and importlib.util.find_spec(module) is None:
        raise LakehouseError(
            f"as_={as_!r} needs {module}, which is not installed: pip install 'lakehouse[{module}]'"
        )


def convert(table: pa.Table, as_: str) -> Any:
    """The Arrow result as `as_` asks. "duckdb" is a relation on a new in-memory connection of its
    own that holds the rows, so it stays valid after the Lakehouse closes, for as long as it is held."""
    if as_ == "pandas":
        return table.to_pandas()
    if as_ == "polars":
        import polars as pl

        return pl.from_arrow(table)
    if as_ == "duckdb":
        from lakehouse.io.engine import arrow_relation

        return arrow_relation(table)
    return table


def order_clause(order_by: str | list[str] | None, columns: list[str], table: str) -> str:
    """` ORDER BY "a", "b"` for `order_by` (a name or a list), every name a column of `table`."""
    if order_by is None:
        return ""
    names = [order_by] if isinstance(order_by, str) else list(order_by)
    if not names:
        return ""
    unknown = [n for n in names if n not in columns]
    if unknown:
        raise LakehouseError(
            f"order_by: {table} has no column {', '.join(map(repr, unknown))}; its columns: {', '.join(columns)}"
        )
    return " ORDER BY " + ", ".join(quote_ident(n) for n in names)
