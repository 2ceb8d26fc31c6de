"""The SQL of a diff: both sides' rows compared as multisets, in DuckDB.

removed = before EXCEPT ALL after, added = after EXCEPT ALL before: a row that moved to another file
(a compaction, a copy-on-write rewrite of its neighbours) is on both sides and cancels out; two equal
rows where there was one is one added row.

With a key, a key that occurs exactly once among the removed rows and exactly once among the added
rows is one changed row (its old and new values). A key repeated on either side is not paired: its
rows stay added and removed, since which old row became which new one is not defined.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lakehouse.core.schemas import quote_ident, quote_literal

if TYPE_CHECKING:
    import pyarrow as pa

    from lakehouse.io.engine import Engine


def except_all(left: str, right: str, columns: Sequence[str]) -> str:
    """The rows of `left` not matched one-for-one by a row of `right` (both SQL relations)."""
    cols = ", ".join(quote_ident(c) for c in columns)
    return f"SELECT {cols} FROM ({left}) AS lake_l EXCEPT ALL SELECT {cols} FROM ({right}) AS lake_r"


def changes_select(before: str, after: str, columns: Sequence[str]) -> str:
    """What `changes()` returns: `change_type` ('insert' or 'delete'), then the table's columns."""
    cols = ", ".join(quote_ident(c) for c in columns)
    return (
        f"SELECT 'delete' AS change_type, {cols} FROM ({except_all(before, after, columns)}) AS lake_del "
        f"UNION ALL SELECT 'insert' AS change_type, {cols} FROM ({except_all(after, before, columns)}) AS lake_ins"
    )


@dataclass(frozen=True)
class Rows:
    added: int
    removed: int
    changed: int
    added_rows: pa.Table
    removed_rows: pa.Table
    changed_rows: pa.Table


def compare(
    engine: Engine, before: str, after: str, columns: Sequence[str], key: Sequence[str], limit: int | None
) -> Rows:
    """Count (in DuckDB) and fetch at most `limit` rows of each kind; `columns` includes the key."""
    token = "lake_diff"
    count = f"count(*) OVER (PARTITION BY {', '.join(quote_ident(k) for k in key)})" if key else "0"
    with (
        engine.temp_table(f"{token}_r", f"SELECT *, {count} AS lake_n FROM ({except_all(before, after, columns)})"),
        engine.temp_table(f"{token}_a", f"SELECT *, {count} AS lake_n FROM ({except_all(after, before, columns)})"),
    ):  # fmt: skip
        removed_all = int(engine.value(f"SELECT count(*) FROM {token}_r"))
        added_all = int(engine.value(f"SELECT count(*) FROM {token}_a"))
        if not key:
            shown = _order_limit(columns, key, limit)
            return Rows(
                added_all, removed_all, 0,
                engine.arrow(f"SELECT {_cols(columns)} FROM {token}_a{shown}"),
                engine.arrow(f"SELECT {_cols(columns)} FROM {token}_r{shown}"),
                engine.arrow("SELECT NULL AS changed_columns WHERE false"),
            )  # fmt: skip
        pairs = (
            f"FROM {token}_r AS o JOIN {token}_a AS n ON {_match('o', 'n', key)} "
            "WHERE o.lake_n = 1 AND n.lake_n = 1"
        )
        changed = int(engine.value(f"SELECT count(*) {pairs}"))
        values = [c for c in columns if c not in key]
        select = [f"o.{quote_ident(k)}" for k in key]
        for c in values:
            select += [
                f"o.{quote_ident(c)} AS {quote_ident('old_' + c)}",
                f"n.{quote_ident(c)} AS {quote_ident('new_' + c)}",
            ]
        differ = ", ".join(
            f"CASE WHEN o.{quote_ident(c)} IS DISTINCT FROM n.{quote_ident(c)} THEN {quote_literal(c)} END"
            for c in values
        )
        select.append(f"list_filter([{differ}]::VARCHAR[], lake_x -> lake_x IS NOT NULL) AS changed_columns")
        order = f" ORDER BY {', '.join(f'o.{quote_ident(k)}' for k in key)}" + (
            f" LIMIT {int(limit)}" if limit is not None else ""
        )
        return Rows(
            added_all - changed, removed_all - changed, changed,
            _unpaired(engine, f"{token}_a", f"{token}_r", columns, key, limit),
            _unpaired(engine, f"{token}_r", f"{token}_a", columns, key, limit),
            engine.arrow(f"SELECT {', '.join(select)} {pairs}{order}"),
        )  # fmt: skip


def _cols(columns: Sequence[str], alias: str = "") -> str:
    return ", ".join(f"{alias}{quote_ident(c)}" for c in columns)


def _match(left: str, right: str, key: Sequence[str]) -> str:
    return " AND ".join(f"{left}.{quote_ident(k)} IS NOT DISTINCT FROM {right}.{quote_ident(k)}" for k in key)


def _order_limit(columns: Sequence[str], key: Sequence[str], limit: int | None) -> str:
    if limit is None:
        return ""
    order = ", ".join(quote_ident(c) for c in (key or columns))
    return f" ORDER BY {order} LIMIT {int(limit)}"


def _unpaired(
    engine: Engine, rows: str, other: str, columns: Sequence[str], key: Sequence[str], limit: int | None
) -> pa.Table:
    """The rows of `rows` whose key is not one changed pair with a row of `other`."""
    keys = _cols(key)
    order = "" if limit is None else f" ORDER BY {_cols(key, 'x.')} LIMIT {int(limit)}"
    return engine.arrow(
        f"SELECT {_cols(columns, 'x.')} FROM {rows} AS x ANTI JOIN (SELECT {keys} FROM {other} WHERE lake_n = 1) "
        f"AS m ON x.lake_n = 1 AND {_match('x', 'm', key)}{order}"
    )
