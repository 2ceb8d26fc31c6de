"""In a dbt project, `ref('seed')` reads the table `lake seed` loaded, and a relationships test that points
at a view runs over the view's SQL (the view has no table to load)."""

from __future__ import annotations

from pathlib import Path

from lakehouse.testing import LakeEnv

FILES = {
    "dbt_project.yml": "name: shop\nseeds:\n  shop:\n    +schema: raw\nmodels:\n  shop:\n"
    "    staging:\n      +materialized: view\n",
    "seeds/raw_customers.csv": "id,name\n1,ann\n2,bob\n",
    "seeds/raw_orders.csv": "id,customer_id\n10,1\n11,2\n12,2\n",
    "models/staging/stg_customers.sql": "select id as customer_id, name from {{ ref('raw_customers') }}\n",
    "models/marts/orders.sql": "select id as order_id, customer_id from {{ ref('raw_orders') }}\n",
    "models/marts/schema.yml": """
version: 2
models:
  - name: orders
    columns:
      - name: customer_id
        data_tests:
          - relationships: {to: ref('stg_customers'), field: customer_id}
""",
}


def test_refs_to_seeds_and_checks_against_views(local_lake: LakeEnv, tmp_path: Path, run_cli) -> None:
    for name, text in FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    project = str(tmp_path)
    assert run_cli(local_lake, "seed", "--project", project).exit_code == 0
    ran = run_cli(local_lake, "run", "--project", project)
    assert ran.exit_code == 0, ran.output
    rows = local_lake.lake.table("marts.orders").scan().to_arrow().to_pylist()
    assert sorted((r["order_id"], r["customer_id"]) for r in rows) == [(10, 1), (11, 2), (12, 2)]
    tested = run_cli(local_lake, "test", "--project", project)
    assert tested.exit_code == 0, tested.output
    assert "relationships(customer_id -> staging.stg_customers.customer_id)" in tested.output

    (tmp_path / "seeds/raw_orders.csv").write_text("id,customer_id\n10,1\n13,9\n")  # an orphan
    assert run_cli(local_lake, "seed", "--project", project).exit_code == 0
    failed = run_cli(local_lake, "run", "--project", project)
    assert failed.exit_code == 1 and "relationships" in failed.output + failed.stderr
    assert len(local_lake.lake.table("marts.orders").scan().to_arrow()) == 3  # nothing published
