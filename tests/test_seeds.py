"""`lake seed`: seed CSVs found at any depth, typed by dbt's column_types (dbt_project.yml and YAML beside
the seeds, the nearer winning) or by ingest's inference, one snapshot each, up to date by their hash;
bad input fails on one line with every table unchanged. Judged with pyiceberg's own scans."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from lakehouse.testing import LakeEnv

ORDERS = "id,customer,amount,ordered_at\n1,ann,10.5,2024-01-01\n2,bob,3,2024-01-02\n3,cy,7.25,2024-01-03\n"
ITEMS = "id,order_id,sku\n10,1,A-1\n11,1,B-2\n12,3,A-1\n"
DBT_PROJECT = """
name: shop
seed-paths: ["data"]
seeds:
  +column_types: {sku: varchar(20)}
  shop:
    +schema: raw
    eu:
      +column_types: {order_id: integer, id: varchar}
      de:
        +schema: raw_de
"""
PROPERTIES = """
version: 2
seeds:
  - name: raw_items
    config:
      column_types: {id: bigint}
"""


def _scan(env: LakeEnv, table: str) -> pa.Table:
    return env.lake.table(table).scan().to_arrow().sort_by("id")


def _types(env: LakeEnv, table: str) -> dict[str, str]:
    return {f.name: str(f.field_type) for f in env.lake.table(table).schema().fields}


def _snapshots(env: LakeEnv, table: str) -> int:
    return len(env.lake.table(table).snapshots())


def _plain(root: Path) -> Path:
    """A lake project without dbt_project.yml: models in sql/, seeds in ../seeds (beside sql/)."""
    (root / "sql").mkdir(parents=True, exist_ok=True)
    (root / "seeds").mkdir(parents=True, exist_ok=True)
    (root / "seeds" / "raw_orders.csv").write_text(ORDERS)
    return root / "sql"


def _dbt(root: Path) -> Path:
    """A dbt project: seed-paths [data], seeds in nested folders, config in dbt_project.yml and beside."""
    project = root / "shop"
    (project / "data" / "eu" / "de").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(DBT_PROJECT)
    (project / "data" / "raw_orders.csv").write_text(ORDERS)
    (project / "data" / "eu" / "raw_items.csv").write_text(ITEMS)
    (project / "data" / "eu" / "de" / "raw_stock.csv").write_text("id,sku,qty\n1,A-1,5\n2,B-2,0\n")
    (project / "data" / "eu" / "items.yml").write_text(PROPERTIES)
    return project


def test_seeds_at_depth_typed_by_dbt_project_and_yaml_beside_them(
    local_lake: LakeEnv, run_cli: Any, tmp_path: Path
) -> None:
    project = _dbt(tmp_path)
    result = run_cli(local_lake, "seed", "--project", str(project), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [(s["table"], s["status"]) for s in doc["seeds"]] == [
        ("raw.raw_items", "loaded"), ("raw.raw_orders", "loaded"), ("raw_de.raw_stock", "loaded"),
    ]  # fmt: skip
    assert all(isinstance(s["snapshot_id"], str) for s in doc["seeds"])
    # +schema of the project wins over the folder name; a deeper +schema over the project's
    assert local_lake.lake.tables() == ["raw.raw_items", "raw.raw_orders", "raw_de.raw_stock"]
    # id: the YAML beside the seed (bigint) wins over the folder's varchar; order_id from the folder,
    # sku from the top of the seeds: block (column_types dicts merge)
    assert _types(local_lake, "raw.raw_items") == {"id": "long", "order_id": "int", "sku": "string"}
    # the folder's id: varchar reaches the nested seed; qty is inferred
    assert _types(local_lake, "raw_de.raw_stock") == {"id": "string", "sku": "string", "qty": "long"}
    assert _scan(local_lake, "raw.raw_items").to_pylist() == [
        {"id": 10, "order_id": 1, "sku": "A-1"}, {"id": 11, "order_id": 1, "sku": "B-2"},
        {"id": 12, "order_id": 3, "sku": "A-1"},
    ]  # fmt: skip
    assert [_snapshots(local_lake, t) for t in local_lake.lake.tables()] == [1, 1, 1]


def test_without_dbt_project_seeds_beside_sql_are_inferred_as_ingest_infers(
    local_lake: LakeEnv, run_cli: Any, tmp_path: Path
) -> None:
    project = _plain(tmp_path)
    (tmp_path / "seeds" / "shop").mkdir()
    (tmp_path / "seeds" / "shop" / "raw_items.csv").write_text(ITEMS)
    result = run_cli(local_lake, "seed", "--project", str(project))
    assert result.exit_code == 0, result.output
    assert "OK   main.raw_orders: created, 3 rows" in result.stdout
    assert "2 of 2 seed(s) loaded" in result.stdout
    local_lake.lake.ingest("check.orders", str(tmp_path / "seeds" / "raw_orders.csv"), create=True)
    assert _types(local_lake, "main.raw_orders") == _types(local_lake, "check.orders")
    assert _scan(local_lake, "main.raw_orders") == _scan(local_lake, "check.orders")
    assert _types(local_lake, "shop.raw_items") == {"id": "long", "order_id": "long", "sku": "string"}


def test_up_to_date_seeds_are_skipped_and_a_changed_one_overwrites_its_table(
    any_lake: LakeEnv, run_cli: Any, tmp_path: Path
) -> None:
    project = _plain(tmp_path)
    (tmp_path / "seeds" / "raw_regions.csv").write_text("id,name\n1,north\n")
    assert run_cli(any_lake, "seed", "--project", str(project)).exit_code == 0
    again = run_cli(any_lake, "seed", "--project", str(project))
    assert "main.raw_orders: up to date" in again.stdout and "0 of 2 seed(s) loaded" in again.stdout
    assert _snapshots(any_lake, "main.raw_orders") == 1

    (tmp_path / "seeds" / "raw_orders.csv").write_text(ORDERS + "4,dee,1.5,2024-01-04\n")
    changed = run_cli(any_lake, "seed", "--project", str(project), "--json")
    seeds = {s["table"]: s for s in json.loads(changed.stdout)["seeds"]}
    assert (
        seeds["main.raw_orders"]["status"] == "loaded" and seeds["main.raw_regions"]["status"] == "up_to_date"
    )
    table = any_lake.lake.table("main.raw_orders")
    assert len(table.snapshots()) == 2 and table.current_snapshot().summary.operation.value == "overwrite"
    assert _scan(any_lake, "main.raw_orders")["id"].to_pylist() == [1, 2, 3, 4]
    assert _snapshots(any_lake, "main.raw_regions") == 1

    # --full-refresh loads an up-to-date seed again; --select picks seeds by name
    refreshed = run_cli(any_lake, "seed", "--project", str(project), "--full-refresh", "-s", "raw_regions")
    assert "1 of 1 seed(s) loaded" in refreshed.stdout, refreshed.output
    assert _snapshots(any_lake, "main.raw_regions") == 2 and _snapshots(any_lake, "main.raw_orders") == 2


def test_a_changed_column_type_needs_full_refresh_which_recreates_the_table(
    any_lake: LakeEnv, run_cli: Any, tmp_path: Path
) -> None:
    from conftest import fails_unchanged

    project = _plain(tmp_path)
    assert run_cli(any_lake, "seed", "--project", str(project)).exit_code == 0
    (tmp_path / "seeds" / "props.yml").write_text(
        "version: 2\nseeds:\n  - name: raw_orders\n    config:\n      column_types: {amount: 'decimal(10,2)'}\n"
    )
    args = ["seed", "--project", str(project)]
    fails_unchanged(run_cli, any_lake, "main.raw_orders", args, "column amount", "--full-refresh")
    result = run_cli(any_lake, *args, "--full-refresh")
    assert "main.raw_orders: recreated, 3 rows" in result.stdout, result.output
    assert _types(any_lake, "main.raw_orders")["amount"] == "decimal(10, 2)"
    assert [str(v) for v in _scan(any_lake, "main.raw_orders")["amount"].to_pylist()] == [
        "10.50",
        "3.00",
        "7.25",
    ]
    assert _snapshots(any_lake, "main.raw_orders") == 1


def test_dry_run_plans_and_writes_nothing(local_lake: LakeEnv, run_cli: Any, tmp_path: Path) -> None:
    project = _dbt(tmp_path)
    result = run_cli(local_lake, "seed", "--project", str(project), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "3 seed(s), 3 to load" in result.stdout
    assert "would create raw.raw_items" in result.stdout and '"id" long, "order_id" int' in result.stdout
    assert local_lake.lake.tables() == []
    doc = json.loads(run_cli(local_lake, "seed", "--project", str(project), "--dry-run", "--json").stdout)
    assert [s["action"] for s in doc["seeds"]] == ["create"] * 3 and doc["seeds"][0]["rows"] == 3
    assert local_lake.lake.tables() == []


@pytest.mark.parametrize(
    ("yaml_types", "csv", "needles"),
    [
        ("{id: intger}", ORDERS, ["raw_orders.csv", "column id", "intger"]),
        ("{amount: integer}", ORDERS, ["raw_orders.csv", "amount", "10.5"]),
        (
            "{ordered_at: date}",
            ORDERS + "4,dee,1,not-a-date\n",
            ["raw_orders.csv", "ordered_at", "not-a-date"],
        ),
        ("{idd: integer}", ORDERS, ["raw_orders.csv", "column idd"]),
        ("{}", ORDERS + "4,dee\n", ["raw_orders.csv", "line 5"]),
    ],
    ids=["unknown-type", "value-not-integer", "value-not-date", "no-such-column", "ragged-row"],
)
def test_bad_input_is_one_line_and_changes_no_table(
    local_lake: LakeEnv, run_cli: Any, tmp_path: Path, yaml_types: str, csv: str, needles: list[str]
) -> None:
    from conftest import fails_unchanged, one_line_error

    project = _plain(tmp_path)
    (tmp_path / "seeds" / "raw_regions.csv").write_text("id,name\n1,north\n")
    assert run_cli(local_lake, "seed", "--project", str(project)).exit_code == 0
    (tmp_path / "seeds" / "raw_orders.csv").write_text(csv)
    (tmp_path / "seeds" / "props.yml").write_text(
        f"version: 2\nseeds:\n  - name: raw_orders\n    config:\n      column_types: {yaml_types}\n"
    )
    (tmp_path / "seeds" / "raw_new.csv").write_text("id\n1\n")  # planned first: must not be created
    before = _scan(local_lake, "main.raw_orders")
    for full_refresh in ([], ["--full-refresh"]):
        args = ["seed", "--project", str(project), *full_refresh]
        fails_unchanged(run_cli, local_lake, "main.raw_orders", args, *needles)
    assert _scan(local_lake, "main.raw_orders") == before
    assert _snapshots(local_lake, "main.raw_regions") == 1 and "main.raw_new" not in local_lake.lake.tables()
    # on a first load too: no table is left behind
    fresh = tmp_path / "fresh"
    (fresh / "seeds").mkdir(parents=True)
    (fresh / "seeds" / "raw_orders.csv").write_text(csv)
    (fresh / "seeds" / "props.yml").write_text((tmp_path / "seeds" / "props.yml").read_text())
    (fresh / "sql").mkdir()
    tables = local_lake.lake.tables()
    one_line_error(run_cli(local_lake, "seed", "--project", str(fresh / "sql")))
    assert local_lake.lake.tables() == tables


def test_config_errors_name_the_file(local_lake: LakeEnv, run_cli: Any, tmp_path: Path) -> None:
    from conftest import one_line_error

    project = _plain(tmp_path)
    (tmp_path / "seeds" / "props.yml").write_text("version: 2\nseeds:\n  - name: raw_ordres\n")
    line = one_line_error(run_cli(local_lake, "seed", "--project", str(project)))
    assert "raw_ordres" in line and "seeds" in line
    (tmp_path / "seeds" / "props.yml").unlink()
    (tmp_path / "seeds" / "eu").mkdir()
    (tmp_path / "seeds" / "eu" / "raw_orders.csv").write_text(ORDERS)
    line = one_line_error(run_cli(local_lake, "seed", "--project", str(project)))
    assert "two seeds are named raw_orders" in line
    line = one_line_error(run_cli(local_lake, "seed", "--project", str(project), "-s", "nope"))
    assert "matches no seed" in line or "two seeds" in line
    assert local_lake.lake.tables() == []


def test_a_model_reads_a_seed_in_lake_run(local_lake: LakeEnv, run_cli: Any, tmp_path: Path) -> None:
    project = _plain(tmp_path)
    (project / "sources.yml").write_text("sources: {main.raw_orders: {}}")
    (project / "staging").mkdir()
    (project / "staging" / "orders.sql").write_text(
        "SELECT id, upper(customer) AS customer, amount FROM main.raw_orders WHERE amount > 5"
    )
    assert run_cli(local_lake, "seed", "--project", str(project)).exit_code == 0
    result = run_cli(local_lake, "run", "--project", str(project))
    assert result.exit_code == 0, result.output
    assert _scan(local_lake, "staging.orders").to_pylist() == [
        {"id": 1, "customer": "ANN", "amount": 10.5}, {"id": 3, "customer": "CY", "amount": 7.25},
    ]  # fmt: skip
