"""Model discovery, rendering, config and --select over a project folder (no lake needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_project

from lakehouse.elt.models import ModelError, render
from lakehouse.elt.project import Project

REPO_SQL = Path(__file__).resolve().parent.parent / "sql"


def test_example_project_graph():
    p = Project.load(REPO_SQL)
    assert p.order() == ["silver.events", "gold.user_features", "silver.labels", "gold.training_set"]
    assert p.models["gold.training_set"].depends_on == ["gold.user_features", "silver.labels"]
    assert p.models["silver.events"].config.strategy == "snapshot"
    assert p.models["silver.events"].config.partition_by == "day(ts)"
    assert set(p.sources) == {"bronze.events", "bronze.labels"}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("silver.events", ["silver.events"]),
        ("silver.events+", ["silver.events", "gold.user_features", "gold.training_set"]),
        ("+gold.user_features", ["silver.events", "gold.user_features"]),
        ("gold.*", ["gold.user_features", "gold.training_set"]),
        ("silver", ["silver.events", "silver.labels"]),
        ("silver.labels, gold.user_features", ["gold.user_features", "silver.labels"]),
        (None, ["silver.events", "gold.user_features", "silver.labels", "gold.training_set"]),
    ],
)
def test_select(expr, expected):
    assert Project.load(REPO_SQL).select(expr) == expected


def test_select_unknown_names_the_models():
    with pytest.raises(ModelError, match="matches no model.*models: gold.training_set"):
        Project.load(REPO_SQL).select("gold.nope")


def test_jinja_ref_source_config_and_plain_sql(tmp_path):
    root = write_project(
        tmp_path,
        {
            "silver.a": "{{ config(materialized='incremental', unique_key=['k', 'j'], description='A') }}\n"
            "SELECT * FROM {{ source('bronze', 'events') }} {% if is_incremental() %}WHERE ts > (SELECT max(ts) FROM {{ this }}){% endif %}",
            "gold.b": "SELECT count(*) AS n FROM {{ ref('silver.a') }} JOIN {{ ref('silver', 'c') }} USING (k)",
            "silver.c": "WITH x AS (SELECT 1 AS k) SELECT k FROM x",  # CTE names are not dependencies
        },
    )
    p = Project.load(root)
    a = p.models["silver.a"]
    assert a.config.unique_key == ["k", "j"] and a.config.description == "A"
    assert "silver.a" not in a.depends_on and "max(ts)" not in a.sql
    assert "FROM silver.a" in a.render(incremental=True)
    assert p.models["gold.b"].depends_on == ["silver.a", "silver.c"]
    assert p.models["silver.c"].depends_on == []
    assert p.order() == ["silver.a", "silver.c", "gold.b"]


@pytest.mark.parametrize(
    ("models", "message"),
    [
        ({"silver.a": "SELECT * FROM bronze.missing"}, "neither a model .* nor a source"),
        (
            {"silver.a": "SELECT * FROM silver.b", "silver.b": "SELECT * FROM silver.a"},
            "cycle: silver.a, silver.b",
        ),
        (  # every model no order can place is named: the cycle and what is downstream of it
            {
                "silver.a": "SELECT * FROM silver.b",
                "silver.b": "SELECT * FROM silver.a",
                "gold.c": "SELECT * FROM silver.a",
                "gold.d": "SELECT 1 AS x",
            },
            "cycle: gold.c, silver.a, silver.b$",
        ),
        (
            {"silver.a": "{{ config(materialized='materialized_view') }} SELECT 1"},
            "use one of: table, incremental",
        ),
        (
            {"silver.a": "{{ config(materialized='incremental', incremental_strategy='merge') }} SELECT 1"},
            "incremental_strategy='merge' needs unique_key",
        ),
        (
            {
                "silver.a": "{{ config(materialized='incremental', incremental_strategy='watermark') }} SELECT 1"
            },
            "needs watermark=",
        ),
        (
            {
                "silver.a": "{{ config(materialized='incremental', incremental_strategy='microbatch') }} SELECT 1"
            },
            "use one of: snapshot, merge, append, watermark",
        ),
        ({"silver.a": "{{ config(colums={}) }} SELECT 1"}, "unknown config key"),
        ({"silver.a": "{{ config(columns={'a': 'lng'}) }} SELECT 1 AS a"}, "invalid columns contract"),
        ({"silver.a": "DELETE FROM bronze.events"}, "must be one SELECT"),
        (
            {"silver.a": "{{ config(on_schema_change='sync') }} SELECT 1"},
            "on_schema_change='sync'; use one of",
        ),
        ({"silver.a": "SELECT {{ nope }}"}, "cannot render model silver.a"),
    ],
)
def test_invalid_projects(tmp_path, models, message):
    with pytest.raises(ModelError, match=message):
        Project.load(write_project(tmp_path, models))


def test_render_is_plain_for_plain_sql():
    assert render("SELECT 1;\n", "silver.x")[0] == "SELECT 1"


def test_parse_and_plan_200_models(tmp_path):
    models = {"silver.m0": "SELECT * FROM bronze.events"}
    for i in range(1, 200):
        models[f"silver.m{i}"] = (
            f"{{{{ config(materialized='table') }}}} SELECT a.*, b.x FROM {{{{ ref('silver.m{i - 1}') }}}} AS a "
            f"JOIN silver.m{i // 2} AS b USING (id) WHERE a.x > {i}"
        )
    root = write_project(tmp_path, models)
    p = Project.load(root)  # its speed is a benchmark figure (bench_elt), not a test
    order = p.select("silver.m0+")
    assert sorted(order) == sorted(models)
    position = {name: i for i, name in enumerate(order)}
    for i in range(1, 200):  # every model runs after both of its inputs
        assert position[f"silver.m{i - 1}"] < position[f"silver.m{i}"] > position[f"silver.m{i // 2}"]


ESCAPES = [
    "{{ cycler.__init__.__globals__.os.popen('touch MARKER').read() }}",
    "{{ joiner.__init__.__globals__.os.system('touch MARKER') }}",
    "{{ namespace.__init__.__globals__.os.system('touch MARKER') }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ config.__globals__['os'].system('touch MARKER') }}",
    "{{ ref.__globals__.__builtins__.open('MARKER', 'w') }}",
    "{{ self.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'].system('touch MARKER') }}",
    "{{ range.__self__.__import__('os').system('touch MARKER') }}",
    "{{ env_var('AWS_SECRET_ACCESS_KEY') }}",
]


@pytest.mark.parametrize("payload", ESCAPES)
def test_templates_cannot_run_code(tmp_path, local_lake, run_cli, monkeypatch, payload):
    """Models render in jinja2's sandbox with only lake's functions: the classic escapes fail with one
    line naming the model, in `lake lineage` and `lake run` alike, and nothing runs."""
    from conftest import one_line_error

    monkeypatch.chdir(tmp_path)
    marker = payload.replace("MARKER", str(tmp_path / "pwned"))
    project = write_project(tmp_path, {"silver.evil": f"SELECT 1 AS x {marker}"})
    for args in (("lineage", "--project", str(project)), ("run", "--project", str(project))):
        line = one_line_error(run_cli(local_lake, *args))
        assert "silver.evil" in line, line
    assert not (tmp_path / "pwned").exists()


def test_env_var_reads_only_model_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKE_VAR_REGION", "eu")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "canary-secret")
    assert render("SELECT '{{ env_var(\"LAKE_VAR_REGION\") }}' AS r", "silver.a")[0] == "SELECT 'eu' AS r"
    assert render("SELECT '{{ env_var('LAKE_VAR_NOPE', 'x') }}'", "silver.a")[0] == "SELECT 'x'"
    with pytest.raises(ModelError, match="silver.a.*not allowed") as err:
        render("SELECT '{{ env_var('AWS_SECRET_ACCESS_KEY') }}'", "silver.a")
    assert "canary-secret" not in str(err.value)


def test_on_schema_change_config(tmp_path):
    project = Project.load(
        write_project(
            tmp_path,
            {
                "silver.a": "{{ config(on_schema_change='append_new_columns') }} SELECT 1 AS a",
                "silver.b": "SELECT 1 AS b",
            },
        )
    )
    assert project.models["silver.a"].config.on_schema_change == "append_new_columns"
    assert project.models["silver.b"].config.on_schema_change == "fail"
    assert project.models["silver.a"].config.to_dict()["on_schema_change"] == "append_new_columns"
