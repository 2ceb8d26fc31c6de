"""A dbt project runs with `lake run` / `lake test` as it is: dbt_project.yml, nested folders, bare
refs, schema.yml tests and docs, dbt-format sources, macros, vars, target, views and ephemeral models."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_jsonl

from lakehouse.elt.project import Project
from lakehouse.elt.render import ModelError
from lakehouse.testing import LakeEnv

FILES = {
    "dbt_project.yml": """
name: shop
model-paths: [models]
vars: {min_cents: 0}
models:
  shop:
    staging:
      +materialized: view
    marts:
      +materialized: table
      +tags: [marts]
""",
    "macros/money.sql": "{% macro cents_to_dollars(col) %}({{ col }} / 100.0){% endmacro %}\n",
    "models/staging/_sources.yml": """
version: 2
sources:
  - name: raw
    tables:
      - name: orders
        columns:
          - name: id
            tests: [not_null]
      - name: customers
""",
    "models/staging/stg_orders.sql": """
select id as order_id, customer_id, {{ cents_to_dollars('amount_cents') }} as amount, status
from {{ source('raw', 'orders') }}
where amount_cents >= {{ var('min_cents') }}
""",
    "models/staging/shop/stg_customers.sql": "select id as customer_id, name from {{ source('raw', 'customers') }}\n",
    "models/staging/schema.yml": """
version: 2
models:
  - name: stg_orders
    description: "{{ doc('orders') }}"
    columns:
      - name: order_id
        description: The order's id
        data_tests: [unique, not_null]
      - name: status
        data_tests:
          - accepted_values:
              arguments: {values: [placed, shipped]}
      - name: customer_id
        data_tests:
          - relationships: {to: ref('stg_customers'), field: customer_id}
""",
    "models/docs.md": "{% docs orders %}One row per order, in dollars.{% enddocs %}\n",
    "models/marts/customers.sql": """
with totals as (select customer_id, sum(amount) as total from {{ ref('stg_orders') }} group by 1)
select c.customer_id, c.name, coalesce(t.total, 0) as total
from {{ ref('shop', 'stg_customers') }} as c left join totals as t using (customer_id)
""",
    "models/marts/shipped_orders.sql": "{{ config(materialized='ephemeral') }}\n"
    "select * from {{ ref('stg_orders') }} where status = 'shipped'\n",
    "models/marts/shipped.sql": "select count(*) as n, '{{ target.type }}' as engine from {{ ref('shipped_orders') }}\n",
    "models/top.sql": "select 1 as one\n",
    "models/predict.py": "def model(dbt, session): ...\n",
    "analyses/explore.sql": "select * from {{ ref('customers') }}\n",
}


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def shop(local_lake: LakeEnv, tmp_path: Path) -> tuple[LakeEnv, Path]:
    orders = [
        {"id": 1, "customer_id": 1, "amount_cents": 1000, "status": "placed"},
        {"id": 2, "customer_id": 1, "amount_cents": 250, "status": "shipped"},
        {"id": 3, "customer_id": 2, "amount_cents": 5, "status": "shipped"},
    ]
    customers = [{"id": 1, "name": "ann"}, {"id": 2, "name": "bob"}, {"id": 3, "name": "cy"}]
    local_lake.lake.ingest("raw.orders", str(write_jsonl(tmp_path / "o.jsonl", orders)), create=True)
    local_lake.lake.ingest("raw.customers", str(write_jsonl(tmp_path / "c.jsonl", customers)), create=True)
    return local_lake, write(tmp_path / "shop", FILES)


def test_the_project_loads_as_dbt_reads_it(shop: tuple[LakeEnv, Path]) -> None:
    _, root = shop
    project = Project.load(root)
    kinds = {name: m.config.materialized for name, m in project.models.items()}
    assert kinds == {
        "staging.stg_orders": "view",
        "staging.stg_customers": "view",  # staging/shop/: the first folder names the namespace
        "marts.customers": "table",
        "marts.shipped_orders": "ephemeral",
        "marts.shipped": "table",
        "main.top": "table",  # at the top of the model path
    }
    stg = project.models["staging.stg_orders"].config
    assert stg.description == "One row per order, in dollars."
    assert stg.column_docs == {"order_id": "The order's id"}
    assert project.models["marts.customers"].config.tags == ["marts"]
    # views are read through: marts.customers reads the raw tables the views read
    assert project.models["marts.customers"].depends_on == ["raw.customers", "raw.orders"]
    assert project.models["staging.stg_orders"].check_reads == ["staging.stg_customers"]
    skipped = {p.name: why for p, why in project.ignored}
    assert "Python model" in skipped["predict.py"] and "analysis" in skipped["explore.sql"]
    assert project.sources["raw.orders"].checks == [{"not_null": "id"}]


def test_run_and_test_build_the_tables_and_read_views_through(shop: tuple[LakeEnv, Path], run_cli) -> None:
    env, root = shop
    result = run_cli(env, "run", "--project", str(root))
    assert result.exit_code == 0, result.output
    assert "skipped " in result.stderr and "predict.py: a Python model" in result.stderr
    assert "lake: each model's tests run on its staged snapshot before it is published" in result.stderr
    assert "lake: 2 view(s) are stored as lake definitions" in result.stderr
    customers = env.lake.table("marts.customers").scan().to_arrow().to_pylist()
    assert sorted((r["name"], r["total"]) for r in customers) == [("ann", 12.5), ("bob", 0.05), ("cy", 0)]
    assert env.lake.table("marts.shipped").scan().to_arrow().to_pylist() == [{"n": 2, "engine": "duckdb"}]
    assert env.lake.table("main.top").scan().to_arrow().num_rows == 1
    assert "staging.stg_orders" not in env.lake.tables()  # a view copies no data
    # ... and lake query reads it through its stored SQL, at the query's snapshots
    shown = run_cli(env, "query", "SELECT count(*) AS n, sum(amount) AS s FROM staging.stg_orders")
    assert shown.exit_code == 0, shown.output
    assert env.lake.query("SELECT count(*) AS n FROM staging.stg_orders").to_pylist() == [{"n": 3}]

    tested = run_cli(env, "test", "--project", str(root))
    assert tested.exit_code == 0, tested.output
    assert "accepted_values(status)" in tested.output and "relationships(customer_id" in tested.output

    bad = [{"id": 4, "customer_id": 9, "amount_cents": 1, "status": "lost"}]
    env.lake.ingest("raw.orders", str(write_jsonl(root / "bad.jsonl", bad)))
    tested = run_cli(env, "test", "--project", str(root))
    assert tested.exit_code == 1
    assert "staging.stg_orders" in tested.stderr and "accepted_values(status)" in tested.stderr


def test_vars_from_the_command_line_win(shop: tuple[LakeEnv, Path], run_cli) -> None:
    env, root = shop
    result = run_cli(env, "run", "--project", str(root), "--vars", "{min_cents: 100}")
    assert result.exit_code == 0, result.output
    customers = env.lake.table("marts.customers").scan().to_arrow().to_pylist()
    assert sorted((r["name"], r["total"]) for r in customers) == [("ann", 12.5), ("bob", 0), ("cy", 0)]


def test_refs_that_cannot_resolve_say_why(tmp_path: Path) -> None:
    base = {
        "dbt_project.yml": "name: p\n",
        "models/a/x.sql": "select 1 as v\n",
        "models/b/x.sql": "select 2 as v\n",
    }
    root = write(tmp_path / "p1", {**base, "models/y.sql": "select * from {{ ref('x') }}\n"})
    with pytest.raises(ModelError, match=r"ref\('x'\) is ambiguous: a.x, b.x"):
        Project.load(root)
    root = write(tmp_path / "p2", {**base, "models/y.sql": "select * from {{ ref('xx') }}\n"})
    with pytest.raises(ModelError, match=r"names no model of the project; did you mean x"):
        Project.load(root)
    root = write(tmp_path / "p3", {**base, "models/y.sql": "select {{ var('nope') }}\n"})
    with pytest.raises(ModelError, match=r"var\('nope'\) is not set"):
        Project.load(root)
    root = write(tmp_path / "p4", {**base, "models/s.yml": "version: 2\nmodels:\n  - name: y\n    tests: [dbt_utils.at_least_one]\n", "models/y.sql": "select 1"})  # fmt: skip
    with pytest.raises(ModelError, match=r"test 'dbt_utils.at_least_one' is not supported"):
        Project.load(root)


def test_dbt_utils_surrogate_key_is_built_in_and_other_macros_are_named(
    local_lake: LakeEnv, tmp_path: Path
) -> None:
    env = local_lake
    env.lake.ingest("raw.t", str(write_jsonl(tmp_path / "t.jsonl", [{"a": 1, "b": None}])), create=True)
    key = "select {{ dbt_utils.generate_surrogate_key(['a', 'b']) }} as k from {{ source('raw', 't') }}\n"
    files = {"dbt_project.yml": "name: p\n", "models/k.sql": key, "models/src.yml": "version: 2\nsources: [{name: raw, tables: [{name: t}]}]\n"}  # fmt: skip
    root = write(tmp_path / "p", files)
    assert env.lake.run(root).ok
    # dbt_utils: md5 of the fields cast to text, NULL as '_dbt_utils_surrogate_key_null_', joined by '-'
    expected = env.lake.query("SELECT md5('1-_dbt_utils_surrogate_key_null_') AS k").to_pylist()
    assert env.lake.table("main.k").scan().to_arrow().to_pylist() == expected
    (root / "models" / "k.sql").write_text("select {{ dbt_utils.star(source('raw', 't')) }} from raw.t\n")
    with pytest.raises(ModelError, match=r"macro dbt_utils.star is not available"):
        Project.load(root)
