"""Data checks: each compiles to one SQL query that returns the offending rows (none means it passes).

A check is a one-key mapping in a model's `config(checks=[...])` or a source's `checks:` list:

    {'not_null': ['user_id', 'ts']}                     every listed column
    {'unique': 'event_id'}  /  {'unique': ['user_id', 'day']}   one column / the combination
    {'accepted_values': {'column': 'event_type', 'values': ['view', 'click']}}
    {'range': {'column': 'amount', 'min': 0, 'max': 10000}}     either bound may be left out
    {'row_count': {'min': 1, 'max': 1000000}}
    {'relationships': {'column': 'user_id', 'to': 'silver.users', 'field': 'user_id'}}
    {'freshness': {'column': 'ts', 'max_age': '2 days'}}        max(ts) is no older than that
    {'sql': "SELECT * FROM {{ this }} WHERE amount > 1e6", 'name': 'no_huge_amounts'}
    {'drift': {'column': 'amount', 'against': 'tag:train-2026-01', 'psi_max': 0.2, 'ks_pvalue_min': 0.05}}

Any check may add `severity: 'warn'` (reported, never blocks) and `name:`. The module runs SQL only
through the `query` function it is given, so it never opens a DuckDB connection itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pyarrow as pa

from lakehouse.core.schemas import quote_ident, quote_literal
from lakehouse.core.sizes import parse_duration
from lakehouse.errors import LakehouseError

KINDS = (
    "not_null", "unique", "accepted_values", "range", "row_count", "relationships", "freshness", "drift", "sql",
)  # fmt: skip
SAMPLE_ROWS = 5


class CheckSpecError(LakehouseError):
    """A check in a model's config or sources.yml is malformed."""


@dataclass(frozen=True)
class Check:
    kind: str
    name: str
    params: dict[str, Any]
    severity: str = "error"

    def offending_sql(self, table: str) -> str:
        return _COMPILERS[self.kind](table, self.params)

    def tables(self, owner: str = "") -> list[str]:
        """The tables the check reads besides `owner`'s (a relationships target, those a custom SQL
        check names): a run builds them first and the check reads the snapshots the run pinned."""
        if self.kind == "relationships":
            return [str(self.params["to"]).lower()]
        if self.kind != "sql":
            return []
        from lakehouse.read.query import lake_tables, parse_single

        this = owner or "lake_this.lake_this"
        try:
            tree = parse_single(self.offending_sql(this))
        except LakehouseError:  # a check that cannot parse fails when it runs, with its own error
            return []
        return sorted({f"{t.db}.{t.name}".lower() for t in lake_tables(tree)} - {this.lower()})


@dataclass
class CheckResult:
    table: str
    check: str
    kind: str
    severity: str
    failing_rows: int = 0
    sample: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    snapshot_id: int | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and self.failing_rows == 0

    @property
    def blocking(self) -> bool:
        return not self.passed and self.severity == "error"

    def message(self) -> str:
        if self.error is not None:
            return f"{self.table}: check {self.check} could not run: {self.error}"
        if self.passed:
            return f"{self.table}: check {self.check} passed"
        rows = "row" if self.failing_rows == 1 else "rows"
        return f"{self.table}: check {self.check} failed: {self.failing_rows} offending {rows}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "check": self.check,
            "kind": self.kind,
            "severity": self.severity,
            "passed": self.passed,
            "failing_rows": self.failing_rows,
            "sample": self.sample,
            "error": self.error,
            "snapshot_id": self.snapshot_id,
        }


# ---------------------------------------------------------------- parsing


def _columns(value: Any, owner: str, kind: str) -> list[str]:
    cols = [value] if isinstance(value, str) else list(value or [])
    if not cols or not all(isinstance(c, str) and c for c in cols):
        raise CheckSpecError(f"{owner}: {kind} needs a column name or a list of them, got {value!r}")
    return cols


def _need(params: Any, keys: tuple[str, ...], owner: str, kind: str) -> dict[str, Any]:
    if not isinstance(params, dict):
        raise CheckSpecError(f"{owner}: {kind} takes a mapping with {', '.join(keys)}; got {params!r}")
    missing = [k for k in keys if k not in params]
    if missing:
        raise CheckSpecError(f"{owner}: {kind} needs {', '.join(missing)}")
    return dict(params)


def parse_checks(owner: str, specs: list[Any]) -> list[Check]:
    """Turn config entries into `Check`s, failing early (before any run) on a malformed one."""
    checks: list[Check] = []
    for spec in specs or []:
        if isinstance(spec, str):
            spec = {spec: {}}
        if not isinstance(spec, dict):
            raise CheckSpecError(
                f"{owner}: a check must be a mapping such as {{'unique': 'id'}}, got {spec!r}"
            )
        kinds = [k for k in spec if k in KINDS]
        extra = [k for k in spec if k not in KINDS and k not in ("severity", "name")]
        if len(kinds) != 1 or extra:
            raise CheckSpecError(
                f"{owner}: check {spec!r} must have exactly one of {', '.join(KINDS)} (plus severity, name)"
            )
        kind = kinds[0]
        severity = str(spec.get("severity", "error"))
        if severity not in ("error", "warn"):
            raise CheckSpecError(f"{owner}: severity must be 'error' or 'warn', not {severity!r}")
        arg = spec[kind]
        custom_name = spec.get("name")
        if kind == "not_null":
            for col in _columns(arg, owner, kind):  # one check per column: each failure is named
                checks.append(Check(kind, custom_name or f"not_null({col})", {"column": col}, severity))
            continue
        if kind == "unique":
            cols = _columns(arg, owner, kind)
            params: dict[str, Any] = {"columns": cols}
            label = f"unique({', '.join(cols)})"
        elif kind == "accepted_values":
            params = _need(arg, ("column", "values"), owner, kind)
            label = f"accepted_values({params['column']})"
        elif kind == "range":
            params = _need(arg, ("column",), owner, kind)
            if "min" not in params and "max" not in params:
                raise CheckSpecError(f"{owner}: range needs min or max")
            label = f"range({params['column']})"
        elif kind == "row_count":
            params = dict(arg or {})
            if "min" not in params and "max" not in params:
                raise CheckSpecError(f"{owner}: row_count needs min or max")
            label = "row_count"
        elif kind == "relationships":
            params = _need(arg, ("column", "to"), owner, kind)
            params.setdefault("field", params["column"])
            label = f"relationships({params['column']} -> {params['to']}.{params['field']})"
        elif kind == "freshness":
            params = _need(arg, ("column", "max_age"), owner, kind)
            # One duration syntax everywhere (`2 days` or `2d`, as `lake expire --older-than`), checked now.
            try:
                params["max_age"] = parse_duration(params["max_age"], f"{owner}: freshness max_age")
            except LakehouseError as exc:
                raise CheckSpecError(str(exc)) from None
            label = f"freshness({params['column']})"
        elif kind == "drift":
            params = _need(arg, ("column", "against"), owner, kind)
            if params.get("psi_max") is None and params.get("ks_pvalue_min") is None:
                params["psi_max"] = 0.2
            for bound in ("psi_max", "ks_pvalue_min"):
                if params.get(bound) is not None and not isinstance(params[bound], (int, float)):
                    raise CheckSpecError(f"{owner}: drift {bound} must be a number, not {params[bound]!r}")
            label = f"drift({params['column']})"
        else:  # sql
            if not isinstance(arg, str) or not arg.strip():
                raise CheckSpecError(f"{owner}: sql needs a query that returns the offending rows")
            params = {"sql": arg}
            label = "sql"
        checks.append(Check(kind, str(custom_name or label), params, severity))
    return checks


# ---------------------------------------------------------------- SQL


def _lit(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return quote_literal(str(value))


def _not_null(table: str, p: dict[str, Any]) -> str:
    return f"SELECT * FROM {table} WHERE {quote_ident(p['column'])} IS NULL"


def _unique(table: str, p: dict[str, Any]) -> str:
    cols = ", ".join(quote_ident(c) for c in p["columns"])
    some = " OR ".join(f"{quote_ident(c)} IS NOT NULL" for c in p["columns"])
    return (
        f"SELECT {cols}, count(*) AS duplicates FROM {table} WHERE {some} "
        f"GROUP BY {cols} HAVING count(*) > 1 ORDER BY duplicates DESC"
    )


def _unique_by_hash(table: str, p: dict[str, Any]) -> str:
    """Groups of rows with one hash of the key: none proves `unique` (equal keys hash alike), for less
    work than grouping by the key itself (0.93 s of CPU against 1.0-1.7 s on 5M string keys). Else
    the exact query runs, so a hash collision costs time, never a false failure."""
    cols = ", ".join(quote_ident(c) for c in p["columns"])
    some = " OR ".join(f"{quote_ident(c)} IS NOT NULL" for c in p["columns"])
    return f"SELECT hash({cols}) AS lake_key FROM {table} WHERE {some} GROUP BY lake_key HAVING count(*) > 1"


def _accepted_values(table: str, p: dict[str, Any]) -> str:
    values = ", ".join(_lit(v) for v in p["values"])
    col = quote_ident(p["column"])
    return f"SELECT * FROM {table} WHERE {col} IS NOT NULL AND {col} NOT IN ({values})"


def _out_of_bounds(expr: str, p: dict[str, Any], literal: Callable[[Any], str]) -> str:
    """`expr < min OR expr > max`, for whichever bounds the check sets."""
    bounds = (("<", p.get("min")), (">", p.get("max")))
    return " OR ".join(f"{expr} {op} {literal(value)}" for op, value in bounds if value is not None)


def _range(table: str, p: dict[str, Any]) -> str:
    return f"SELECT * FROM {table} WHERE {_out_of_bounds(quote_ident(p['column']), p, _lit)}"


def _row_count(table: str, p: dict[str, Any]) -> str:
    return f"SELECT count(*) AS row_count FROM {table} HAVING {_out_of_bounds('count(*)', p, lambda v: str(int(v)))}"


def _relationships(table: str, p: dict[str, Any]) -> str:
    col, ref = quote_ident(p["column"]), quote_ident(p["field"])
    return (
        f"SELECT lake_child.* FROM {table} AS lake_child WHERE lake_child.{col} IS NOT NULL AND NOT EXISTS "
        f"(SELECT 1 FROM {p['to']} AS lake_parent WHERE lake_parent.{ref} = lake_child.{col})"
    )


def _freshness(table: str, p: dict[str, Any]) -> str:
    col = quote_ident(p["column"])
    age = f"to_microseconds({p['max_age'] // timedelta(microseconds=1)})"
    return (
        f"SELECT max({col}) AS latest, CAST(now() AS TIMESTAMPTZ) - CAST(max({col}) AS TIMESTAMPTZ) AS age "
        f"FROM {table} HAVING max({col}) IS NULL "
        f"OR CAST(max({col}) AS TIMESTAMPTZ) < CAST(now() AS TIMESTAMPTZ) - {age}"
    )


def _drift(table: str, p: dict[str, Any]) -> str:
    from lakehouse.elt.driftcheck import drift_sql

    return drift_sql(table, p)


def _custom(table: str, p: dict[str, Any]) -> str:
    from lakehouse.elt.models import render

    return render(p["sql"], table)[0]


_COMPILERS: dict[str, Callable[[str, dict[str, Any]], str]] = {
    "not_null": _not_null,
    "unique": _unique,
    "accepted_values": _accepted_values,
    "range": _range,
    "row_count": _row_count,
    "relationships": _relationships,
    "freshness": _freshness,
    "drift": _drift,
    "sql": _custom,
}


# ---------------------------------------------------------------- running


def run_check(
    query: Callable[[str], pa.Table], table: str, check: Check, snapshot_id: int | None = None
) -> CheckResult:
    """Count the offending rows and keep a sample of them; a check that cannot run is reported, not raised."""
    result = CheckResult(table, check.name, check.kind, check.severity, snapshot_id=snapshot_id)
    try:
        if check.kind == "drift":  # numeric or categorical statistics, by the column's type
            from lakehouse.elt.driftcheck import is_numeric

            typed = query(f"SELECT typeof({quote_ident(check.params['column'])}) FROM {table} LIMIT 1")
            kind = str(typed.column(0)[0].as_py()) if typed.num_rows else "VARCHAR"
            check = Check(
                check.kind, check.name, {**check.params, "numeric": is_numeric(kind)}, check.severity
            )
        if check.kind == "unique":
            quick = query(f"SELECT count(*) AS n FROM ({_unique_by_hash(table, check.params)}) AS lake_check")
            if int(quick.column(0)[0].as_py()) == 0:
                return result
        sql = check.offending_sql(table)
        counted = query(f"SELECT count(*) AS n FROM ({sql}) AS lake_check")
        result.failing_rows = int(counted.column(0)[0].as_py())
        if result.failing_rows:
            result.sample = query(f"SELECT * FROM ({sql}) AS lake_check LIMIT {SAMPLE_ROWS}").to_pylist()
    except LakehouseError as exc:
        result.error = str(exc)
    return result


def run_checks(
    query: Callable[[str], pa.Table], table: str, checks: list[Check], snapshot_id: int | None = None
) -> list[CheckResult]:
    return [run_check(query, table, c, snapshot_id) for c in checks]
