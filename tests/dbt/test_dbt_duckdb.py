"""The same dbt project (tests/dbt_project) under dbt-duckdb and under lake gives the same tables.

dbt runs from the venv `make dbt` builds (`dbt seed`, `dbt run`, `dbt test` with a profiles.yml written
here, DuckDB file in a temp dir); lake runs `lake seed`, `lake run`, `lake test` on a local lake through
the CLI, over an identical copy of the project. Then every relation dbt made is compared with lake's:
- seeds, tables and the incremental model: dbt's table against the Iceberg table, read with pyiceberg;
- views (lake stores their SQL in the catalog, no data): dbt's view against `lake query "SELECT * FROM
  <view>"`, so the view itself is compared, not only the models that inline it.
Rows are compared as multisets, with values normalised where the engines legitimately differ (decimal vs
double, time zones); column names must match, in order, and so must column types (exactly: today both
tools give the same Arrow types for every column; only encodings such as large_string are folded).
The second round appends and changes seed rows, then `dbt seed --full-refresh` + `dbt run` against
`lake seed` + `lake run`: the incremental model with dbt's strategy (delete+insert on a unique_key) merges
only what its `is_incremental()` filter selects, under both; the one that names no strategy differs on
purpose, in exactly the changed row (lake's default reads what the inputs gained, not the filter's guess).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from lakehouse.cli import cli
from lakehouse.dev.dbtenv import find_dbt
from lakehouse.testing import LakeEnv, local_properties, make_lake_env

PROJECT = Path(__file__).resolve().parents[1] / "dbt_project"
SCHEMAS = ("raw", "staging", "marts")  # what the project builds (its intermediate models are ephemeral)

# dbt-duckdb's DuckDB wrote the file: export each relation to Parquet with that same DuckDB (its storage
# format may be newer than ours), listing each relation's kind.
EXPORT = """
import duckdb, json, sys
con = duckdb.connect(sys.argv[1], read_only=True)
rows = con.execute(
    "select table_schema, table_name, table_type from information_schema.tables "
    "where table_catalog = current_database() and table_schema in ('raw', 'staging', 'marts') order by 1, 2"
).fetchall()
for schema, name, kind in rows:
    con.execute(f"COPY (SELECT * FROM {schema}.{name}) TO '{sys.argv[2]}/{schema}.{name}.parquet' (FORMAT parquet)")
print(json.dumps({f"{schema}.{name}": kind for schema, name, kind in rows}))
"""

SECOND_ROUND = {  # appended rows, and one changed payment (id 3: 100 -> 150 cents)
    "raw_customers.csv": ["8,Ann,L.,2024-02-09"],
    "raw_orders.csv": ["11,7,2024-02-08,placed", "12,2,2024-02-09,completed"],
    "raw_payments.csv": ["13,11,credit_card,900", "14,12,coupon,300", "15,3,gift_card,50", "16,12,cash,700"],
}


class Shop:
    """The project copied twice (one per tool), the dbt DuckDB file, and the lake."""

    def __init__(self, root: Path, dbt: Path):
        self.dbt_exe = dbt
        self.dbt_dir = root / "dbt"
        self.lake_dir = root / "lake"
        shutil.copytree(PROJECT, self.dbt_dir)
        shutil.copytree(PROJECT, self.lake_dir)
        self.database = root / "shop.duckdb"
        (self.dbt_dir / "profiles.yml").write_text(
            "shop:\n  target: dev\n  outputs:\n    dev:\n"
            f"      type: duckdb\n      path: '{self.database}'\n      schema: main\n      threads: 1\n"
        )
        self.env: LakeEnv = make_lake_env(root / "lakehouse", local_properties(root / "lakehouse"))
        self.exports = root / "exports"

    def dbt(self, *args: str) -> str:
        result = subprocess.run(
            [str(self.dbt_exe), *args, "--profiles-dir", str(self.dbt_dir), "--project-dir", str(self.dbt_dir)],
            cwd=self.dbt_dir, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert result.returncode == 0, f"dbt {' '.join(args)} failed:\n{result.stdout[-4000:]}"
        return result.stdout

    def lake(self, *args: str) -> Result:
        result = CliRunner().invoke(cli, [*self.env.cli_args(), *args], catch_exceptions=False)
        assert result.exit_code == 0, f"lake {' '.join(args)} failed:\n{result.output}"
        return result

    def round(self, *dbt_seed: str) -> dict[str, str]:
        """Both tools over their copy of the project; returns the output of `dbt test`, `lake run` and
        `lake test` (both tests must pass, warnings allowed)."""
        self.dbt("seed", *dbt_seed)
        self.dbt("run")
        out = {"dbt test": self.dbt("test")}
        self.lake("seed", "--project", str(self.lake_dir))
        out["lake run"] = self.lake("run", "--project", str(self.lake_dir)).output
        out["lake test"] = self.lake("test", "--project", str(self.lake_dir)).output
        return out

    def edit_seeds(self) -> None:
        for project in (self.dbt_dir, self.lake_dir):
            for name, lines in SECOND_ROUND.items():
                path = project / "seeds" / name
                text = path.read_text().replace("3,3,coupon,100\n", "3,3,coupon,150\n")
                path.write_text(text + "".join(line + "\n" for line in lines))

    def dbt_relations(self) -> dict[str, str]:
        """dbt's relations (schema.name -> BASE TABLE or VIEW), each exported to Parquet."""
        shutil.rmtree(self.exports, ignore_errors=True)
        self.exports.mkdir()
        python = self.dbt_exe.parent / "python"
        out = subprocess.run(
            [str(python), "-c", EXPORT, str(self.database), str(self.exports)],
            capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        relations: dict[str, str] = json.loads(out.stdout)
        return relations

    def dbt_rows(self, name: str) -> pa.Table:
        return pq.read_table(self.exports / f"{name}.parquet")

    def lake_rows(self, name: str, kind: str) -> pa.Table:
        if kind != "VIEW":
            return self.env.lake.table(name).scan().to_arrow()
        target = self.exports / f"lake-{name}.parquet"
        self.lake("query", f"SELECT * FROM {name}", "--format", "parquet", "-o", str(target))
        return pq.read_table(target)


@pytest.fixture(scope="module")
def dbt_exe() -> Path:
    """dbt from the environment `make dbt` builds (.dbt/, or $LAKE_DBT_HOME). Without one the tests are
    skipped with the reason, unless LAKE_DBT_REQUIRED=1 (then they fail)."""
    found = find_dbt()
    if found is None:
        reason = "no dbt environment: build it with `make dbt` (or set $LAKE_DBT_HOME)"
        if os.environ.get("LAKE_DBT_REQUIRED") == "1":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return found


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, dbt_exe: Path) -> Shop:
    shop = Shop(tmp_path_factory.mktemp("dbt-vs-lake"), dbt_exe)
    shop.round()
    return shop


def test_first_round_every_relation_equals_dbt_duckdb(shop: Shop) -> None:
    relations = shop.dbt_relations()
    assert sorted(relations) == [
        "marts.customers", "marts.fct_payments", "marts.orders", "marts.payments_log",
        "raw.raw_customers", "raw.raw_orders", "raw.raw_payments",
        "staging.stg_customers", "staging.stg_orders", "staging.stg_payments",
    ]  # fmt: skip
    assert {n for n, kind in relations.items() if kind == "VIEW"} == {
        n for n in relations if n.startswith("staging.")
    }
    assert sorted(shop.env.lake.tables()) == sorted(n for n, k in relations.items() if k != "VIEW")
    _assert_all_equal(shop, relations)


def test_second_round_seeds_reloaded_and_incremental_merged_as_dbt_does(shop: Shop) -> None:
    shop.edit_seeds()
    out = shop.round("--full-refresh")
    line = next(ln for ln in out["lake run"].splitlines() if "marts.fct_payments" in ln)
    assert "[merge, 4 rows" in line, out["lake run"]  # incremental: the 4 new payments, not rebuilt
    # a 'cash' payment: the accepted_values test of severity warn warns under both, and passes the run
    assert "WARN=1 " in out["dbt test"], out["dbt test"]
    assert "accepted_values(payment_method)\twarn\t1" in out["lake test"], out["lake test"]
    relations = shop.dbt_relations()
    _assert_all_equal(shop, {n: k for n, k in relations.items() if n != "marts.payments_log"})
    # Different on purpose (README, "Coming from dbt"): without incremental_strategy, dbt-duckdb appends
    # what the is_incremental() filter selects, so the changed payment 3 keeps its old amount; lake's
    # default strategy reads what the inputs gained (a rewritten seed: all of it) and sees the change.
    dbt, lake = (
        _rows(shop.dbt_rows("marts.payments_log")),
        _rows(shop.lake_rows("marts.payments_log", "BASE TABLE")),
    )
    assert (dbt - lake, lake - dbt) == (Counter({(3, 3, 1.0): 1}), Counter({(3, 3, 1.5): 1}))
    fct = {
        r["payment_id"]: r for r in shop.env.lake.table("marts.fct_payments").scan().to_arrow().to_pylist()
    }
    assert len(fct) == 16 and fct[3]["amount"] == Decimal("1.00")  # the filter kept the old row, as in dbt
    orders = {r["order_id"]: r for r in shop.env.lake.table("marts.orders").scan().to_arrow().to_pylist()}
    assert orders[3]["amount"] == Decimal("14.50")  # a table model is rebuilt: 1.50 + 12.50 + 0.50


# ---------------------------------------------------------------- comparison


def _assert_all_equal(shop: Shop, relations: dict[str, str]) -> None:
    diffs = [
        d
        for name, kind in sorted(relations.items())
        if (d := _diff(name, shop.dbt_rows(name), shop.lake_rows(name, kind)))
    ]
    assert not diffs, "dbt-duckdb and lake differ:\n" + "\n".join(diffs)


def _diff(name: str, dbt: pa.Table, lake: pa.Table) -> str:
    """'' when equal, else what differs: columns, types, and rows only one side has."""
    if dbt.column_names != lake.column_names:
        return f"{name}: columns differ: dbt {dbt.column_names}, lake {lake.column_names}"
    kinds = [
        f"{f.name} (dbt {f.type}, lake {lake.schema.field(f.name).type})"
        for f in dbt.schema
        if _kind(f.type) != _kind(lake.schema.field(f.name).type)
    ]
    if kinds:
        return f"{name}: column types differ: {', '.join(kinds)}"
    ours, theirs = _rows(dbt), _rows(lake)
    if ours == theirs:
        return ""
    only_dbt, only_lake = (
        sorted((ours - theirs).elements(), key=repr),
        sorted((theirs - ours).elements(), key=repr),
    )
    return (
        f"{name}: {dbt.num_rows} rows in dbt, {lake.num_rows} in lake; columns {dbt.column_names}\n"
        f"  only in dbt:  {only_dbt[:10]}\n  only in lake: {only_lake[:10]}"
    )


def _rows(table: pa.Table) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(_value(v) for v in row.values()) for row in table.to_pylist())


def _value(value: Any) -> Any:
    if isinstance(value, Decimal | float):
        return round(float(value), 6)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _kind(kind: pa.DataType) -> str:
    """The type as compared: exact (int32 is not int64, decimal(38,2) is not double), except for Arrow's
    encodings of one type (string/large_string, timestamp units; Parquet has no dictionary of its own)."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return "string"
    if pa.types.is_timestamp(kind):
        return f"timestamp(tz={kind.tz is not None})"
    return str(kind)


def test_a_difference_is_named_row_by_row() -> None:
    dbt = pa.table({"id": pa.array([1, 2], pa.int32()), "amount": [Decimal("1.50"), Decimal("2.00")]})
    same = pa.table({"id": pa.array([2, 1], pa.int32()), "amount": [Decimal("2.00"), Decimal("1.50")]})
    assert _diff("marts.t", dbt, same) == ""
    other = pa.table({"id": pa.array([1, 3], pa.int32()), "amount": [Decimal("1.50"), Decimal("2.00")]})
    assert _diff("marts.t", dbt, other) == (
        "marts.t: 2 rows in dbt, 2 in lake; columns ['id', 'amount']\n"
        "  only in dbt:  [(2, 2.0)]\n  only in lake: [(3, 2.0)]"
    )
    wide = pa.table({"id": pa.array([1, 2], pa.int64()), "amount": [1.5, 2.0]})
    assert _diff("marts.t", dbt, wide) == (
        "marts.t: column types differ: id (dbt int32, lake int64), amount (dbt decimal128(3, 2), lake double)"
    )
