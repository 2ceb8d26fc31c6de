"""Is a model row-wise in one of its inputs? Then its SQL over only that input's new rows gives only
the model's new rows, and a snapshot-incremental run may read just those (`lakehouse.elt.increments`).

Row-wise: each output row comes from one row of the input, through projections, filters, UNION ALL,
and inner (or preserving-side outer) joins to tables that did not change. Whatever makes an output row
depend on several rows of the input does not qualify: an aggregate, GROUP BY, a window, LIMIT, the
input read twice (a self-join, a CTE referenced twice, a subquery in IN/EXISTS or a scalar), the input
on the NULL-supplying side of an outer join, or in an anti or semi join. DISTINCT and UNION qualify
only with a unique_key: new rows equal to old ones then merge onto themselves.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp

from lakehouse.read.query import lake_tables, parse_single


def not_row_wise(sql: str, table: str, keyed: bool) -> str:
    """Why reading only `table`'s new rows would not give the model's new rows ("" when it would)."""
    tree = parse_single(sql)
    refs = [t for t in lake_tables(tree) if f"{t.db}.{t.name}".lower() == table.lower()]
    if len(refs) != 1:
        return f"it reads {table} {len(refs)} times" if refs else f"it does not read {table} as a table"
    node: exp.Expr = refs[0]
    while node.parent is not None:
        parent = node.parent
        if isinstance(parent, exp.CTE):
            found = _cte_reference(parent)
            if isinstance(found, str):
                return found
            node = found
            continue
        problem = _problem(parent, node, keyed)
        if problem:
            return f"it reads {table} through {problem}"
        node = parent
    return ""


def _problem(parent: exp.Expr, child: exp.Expr, keyed: bool) -> str:
    if isinstance(parent, exp.Select):
        return _select_problem(parent, child, keyed)
    if isinstance(parent, exp.Join) and child is parent.this:
        side, kind = (parent.side or "").upper(), (parent.kind or "").upper()
        method = str(parent.args.get("method") or "").upper()
        if side in ("LEFT", "FULL") or kind in ("ANTI", "SEMI") or method in ("ASOF", "POSITIONAL"):
            return f"a {' '.join(x for x in (method, side, kind) if x)} JOIN"
    if isinstance(parent, (exp.Except, exp.Intersect)):
        return type(parent).__name__.upper()
    if isinstance(parent, exp.Union) and parent.args.get("distinct") and not keyed:
        return "UNION (not UNION ALL) without a unique_key"
    if isinstance(parent, exp.Subquery) and not isinstance(parent.parent, (exp.From, exp.Join)):
        return "a subquery (IN, EXISTS or a scalar)"
    return ""


def _select_problem(select: exp.Select, child: exp.Expr, keyed: bool) -> str:
    """What of this SELECT makes its rows depend on several rows of what it reads."""
    if not isinstance(child, (exp.From, exp.Join)):
        return "a subquery (IN, EXISTS or a scalar)"
    for join in select.args.get("joins") or []:
        if join is not child and (join.side or "").upper() in ("RIGHT", "FULL"):
            return f"a {join.side.upper()} JOIN"
    for arg, what in (("group", "GROUP BY"), ("having", "HAVING"), ("qualify", "QUALIFY"), ("limit", "LIMIT"), ("offset", "OFFSET")):  # fmt: skip
        if select.args.get(arg):
            return what
    if select.args.get("distinct") and not keyed:
        return "DISTINCT without a unique_key"
    for projection in select.expressions:
        for node in _own(projection):
            if isinstance(node, exp.Window):
                return "a window function"
            if isinstance(node, exp.AggFunc):
                return f"an aggregate ({node.sql('duckdb')[:40]})"
    return ""


def _own(node: exp.Expr) -> Iterator[exp.Expr]:
    """`node` and its descendants, not entering nested queries (their aggregates are their own)."""
    yield node
    for child in node.iter_expressions():
        if not isinstance(child, (exp.Query, exp.Subquery)):
            yield from _own(child)


def _cte_reference(cte: exp.CTE) -> exp.Expr | str:
    """The one place a CTE is read (a CTE read twice reads its input twice)."""
    name = cte.alias_or_name.lower()
    query = cte.parent.parent if cte.parent is not None else None
    if query is None:
        return f"its CTE {name} is not read"
    refs = [
        t
        for t in query.find_all(exp.Table)
        if not t.db and t.name.lower() == name and t.find_ancestor(exp.CTE) is not cte
    ]
    if len(refs) != 1:
        return f"it reads the CTE {name} {len(refs)} times"
    return refs[0]
