"""dbt's node selection (lakehouse.elt.selectors) on small projects: pure, no lake, except state:modified
and --fail-fast, which read tables (see also test_models.py::test_select for the example project)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import cli_json, one_line_error, write_jsonl, write_project

from lakehouse.elt.models import ModelError
from lakehouse.elt.project import Project
from lakehouse.testing import LakeEnv

MODELS = {
    "staging.stg_orders": "{{ config(tags=['nightly']) }} SELECT id, amount FROM bronze.orders",
    "staging.stg_users": "SELECT id, name FROM bronze.users",
    "legacy.stg_orders": "{{ config(tags=['old']) }} SELECT id FROM bronze.orders",
    "silver.orders": "{{ config(materialized='incremental', unique_key='id', tags=['nightly', 'finance']) }}\n"
    "SELECT o.id, o.amount, u.name FROM staging.stg_orders o JOIN staging.stg_users u USING (id)",
    "gold.revenue": "{{ config(tags=['finance']) }} SELECT sum(amount) AS total FROM silver.orders",
    "gold.report": "SELECT total FROM gold.revenue",
}
SOURCES = "sources: {bronze.orders: {}, bronze.users: {}, bronze.unused: {}}"
STG = ["legacy.stg_orders", "staging.stg_orders", "staging.stg_users"]
ALL = [*STG, "silver.orders", "gold.revenue", "gold.report"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return Project.load(write_project(tmp_path_factory.mktemp("selectors"), MODELS, SOURCES))


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("stg_users", ["staging.stg_users"]),  # a bare name, unique
        ("staging.stg_orders", ["staging.stg_orders"]),
        ("STAGING.Stg_Orders", ["staging.stg_orders"]),
        ("stg_*", STG),  # a glob on the bare name
        ("gold.*", ["gold.revenue", "gold.report"]),
        ("*", ALL),
        ("staging", ["staging.stg_orders", "staging.stg_users"]),  # a namespace (today's layer)
        ("tag:nightly", ["staging.stg_orders", "silver.orders"]),
        ("tag:nightly tag:old", ["legacy.stg_orders", "staging.stg_orders", "silver.orders"]),
        ("tag:finance,gold.*", ["gold.revenue"]),  # comma: intersection, as dbt's
        ("tag:nightly,tag:finance", ["silver.orders"]),
        ("gold.report, stg_users", ["staging.stg_users", "gold.report"]),  # comma and space: a union
        ("path:staging", ["staging.stg_orders", "staging.stg_users"]),  # relative to the project
        ("path:gold/report.sql", ["gold.report"]),
        ("gold/report.sql", ["gold.report"]),  # a path needs no `path:`
        ("file:report.sql", ["gold.report"]),
        ("report.sql", ["gold.report"]),
        ("file:revenue", ["gold.revenue"]),
        ("source:bronze.users", ["staging.stg_users"]),  # the models that read it
        ("source:bronze", STG),
        ("source:bronze.users+", ["staging.stg_users", "silver.orders", "gold.revenue", "gold.report"]),
        ("config.materialized:incremental", ["silver.orders"]),
        ("config.materialized:table,gold.*", ["gold.revenue", "gold.report"]),
        ("config.unique_key:id", ["silver.orders"]),
        ("+silver.orders", ["staging.stg_orders", "staging.stg_users", "silver.orders"]),
        ("silver.orders+", ["silver.orders", "gold.revenue", "gold.report"]),
        ("1+gold.revenue", ["silver.orders", "gold.revenue"]),
        ("2+gold.revenue", ["staging.stg_orders", "staging.stg_users", "silver.orders", "gold.revenue"]),
        ("stg_users+1", ["staging.stg_users", "silver.orders"]),
        ("stg_users+2", ["staging.stg_users", "silver.orders", "gold.revenue"]),
        ("1+silver.orders+1", ["staging.stg_orders", "staging.stg_users", "silver.orders", "gold.revenue"]),
        # @: it, its descendants, and every ancestor of those (stg_orders feeds silver.orders)
        (
            "@stg_users",
            ["staging.stg_orders", "staging.stg_users", "silver.orders", "gold.revenue", "gold.report"],
        ),
        (None, ALL),
        ((), ALL),
        ("  ", ALL),
    ],
)
def test_select(project: Project, expr, expected) -> None:
    assert project.select(expr) == expected


@pytest.mark.parametrize(
    ("select", "exclude", "expected"),
    [
        (None, "gold", STG + ["silver.orders"]),
        ("tag:nightly+", "tag:finance", ["staging.stg_orders", "gold.report"]),
        (
            ("staging", "gold.report"),
            ("staging.stg_orders", "stg_users"),
            ["gold.report"],
        ),  # repeated options
        ("stg_*", "legacy.stg_orders staging.stg_orders", ["staging.stg_users"]),
        ("gold.revenue", "gold.revenue", []),  # nothing left: an empty run, not an error
        ("tag:old,gold.*", None, []),  # an empty intersection too
    ],
)
def test_exclude(project: Project, select, exclude, expected) -> None:
    assert project.select(select, exclude) == expected


def test_path_relative_to_the_current_directory(project: Project, monkeypatch) -> None:
    monkeypatch.chdir(project.root.parent)
    assert project.select("path:project/gold") == ["gold.revenue", "gold.report"]
    assert project.select(f"path:{project.root / 'silver'}") == ["silver.orders"]


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("stg_orders", "--select 'stg_orders' is ambiguous: legacy.stg_orders, staging.stg_orders; name one"),
        ("gold.nope", "--select 'gold.nope' matches no model; models: gold.report, gold.revenue, legacy"),
        ("bronze.orders", "matches no model (it is a source; select the models that read it with source:"),
        ("tag:nope", "--select 'tag:nope' matches no model; tags: finance, nightly, old"),
        ("path:nope", "--select 'path:nope' names no file or folder (looked in "),
        ("source:bronze.nope", "is no declared source; sources: bronze.orders, bronze.unused, bronze.users"),
        ("source:bronze.unused", "matches no model: none reads bronze.unused"),
        ("config.nope:x", "--select 'config.nope:x' names no config key; known: "),
        ("config.materialized:view", "matches no model; config.materialized values: incremental, table"),
        ("colour:red", "has an unknown method 'colour'; use one of: fqn, tag, path"),
        ("@+gold.report", "combines @ and a leading +"),
        ("+", "is not a selector"),
        ("state:modified", "needs the tables' last builds: use it with lake run or lake test"),
        ("state:changed", "is no state; use one of: state:modified"),
        ("gold.report,tag:nope", "--select 'tag:nope' matches no model"),  # each atom is checked
    ],
)
def test_errors_name_the_selector_and_what_is_known(project: Project, expr: str, message: str) -> None:
    with pytest.raises(ModelError) as caught:
        project.select(expr)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_exclude_that_matches_nothing_is_an_error_too(project: Project) -> None:
    with pytest.raises(ModelError, match="--exclude 'gold.nope' matches no model"):
        project.select(None, "gold.nope")


# ---------------------------------------------------------------- with a lake: state:, --exclude, --fail-fast

STATE_MODELS = {
    "silver.a": "SELECT id, v FROM bronze.events",
    "silver.b": "{{ config(materialized='incremental', unique_key='id', incremental_strategy='merge') }}\n"
    "SELECT id, v FROM bronze.events {% if is_incremental() %}WHERE id > (SELECT max(id) FROM {{ this }}){% endif %}",
    "gold.c": "SELECT count(*) AS n FROM silver.a",
    "silver.eph": "SELECT id FROM bronze.events WHERE v > 0",  # ephemeral (schema.yml)
    "gold.e": "SELECT count(*) AS n FROM {{ ref('silver.eph') }}",
}


def _ingest(env: LakeEnv, rows: list[dict], create: bool = False) -> None:
    path = write_jsonl(env.root / f"e{len(list(env.root.glob('e*.jsonl')))}.jsonl", rows)
    env.lake.ingest("bronze.events", str(path), create=create)


def _state_project(env: LakeEnv, models: dict[str, str]) -> Path:
    project = write_project(env.root, models)
    (project / "silver" / "schema.yml").write_text(
        "version: 2\nmodels:\n  - name: eph\n    config: {materialized: ephemeral}\n"
    )
    return project


def _names(env: LakeEnv, project: Path, select, exclude=None) -> list[str]:
    return [s.model for s in env.lake.plan_run(project, select, exclude=exclude).steps]


def test_state_modified_against_each_tables_last_build(local_lake: LakeEnv) -> None:
    env = local_lake
    _ingest(env, [{"id": i, "v": i * 10} for i in range(5)], create=True)
    project = _state_project(env, STATE_MODELS)
    assert _names(env, project, "state:modified") == ["gold.e", "silver.a", "gold.c", "silver.b"]  # new
    assert env.lake.run(project).ok
    assert _names(env, project, "state:modified") == []
    _ingest(env, [{"id": 9, "v": 90}])  # new data is not a modification; an incremental build neither
    assert env.lake.run(project).ok
    assert env.lake.run(project).ok
    assert _names(env, project, "state:modified") == []

    project = _state_project(
        env,
        {**STATE_MODELS, "silver.a": "SELECT id, v + 1 AS v FROM bronze.events",
         "gold.c": "{{ config(description='counted') }} SELECT count(*) AS n FROM silver.a",
         "gold.d": "SELECT 1 AS x",
         "silver.eph": "SELECT id FROM bronze.events"},
    )  # fmt: skip
    # an ephemeral is never selected by state: its readers' SQL holds it (gold.e's changed)
    assert _names(env, project, "state:modified") == ["gold.d", "gold.e", "silver.a", "gold.c"]
    assert _names(env, project, "state:modified.body") == ["gold.d", "gold.e", "silver.a"]
    assert _names(env, project, "state:modified.configs") == ["gold.d", "gold.c"]
    assert _names(env, project, "state:new") == ["gold.d"]
    assert "silver.eph" not in Project.load(project).select("state:new", last_build=lambda name: None)
    assert _names(env, project, "state:modified+", "gold.*") == ["silver.a"]
    assert _names(env, project, "state:modified,gold.*") == ["gold.d", "gold.e", "gold.c"]
    checked = env.lake.test(project, "state:modified.body")  # lake test reads the tables as well
    assert checked == []


def _cli_project(env: LakeEnv) -> Path:
    _ingest(env, [{"id": i, "v": i} for i in range(3)], create=True)
    return write_project(
        env.root,
        {
            "silver.a": "{{ config(checks=[{'not_null': 'v'}]) }} SELECT id, v FROM bronze.events",
            "silver.bad": "{{ config(checks=[{'unique': 'k'}]) }} SELECT 1 AS k FROM bronze.events",
            "silver.z": "SELECT id FROM bronze.events",
            "gold.c": "SELECT count(*) AS n FROM silver.a",
            "gold.d": "SELECT count(*) AS n FROM silver.bad",
        },
    )


def test_run_and_test_exclude(local_lake: LakeEnv, run_cli) -> None:
    env = local_lake
    project = _cli_project(env)
    result = run_cli(env, "run", "--project", str(project), "--exclude", "silver.bad+", "--json")
    assert result.exit_code == 0, result.output
    assert set(env.lake.tables()) == {"bronze.events", "silver.a", "silver.z", "gold.c"}
    result = run_cli(
        env, "test", "--project", str(project), "-s", "silver", "--exclude", "silver.bad", "--json"
    )
    assert result.exit_code == 0, result.output
    assert "not_null(v)" in result.stdout and "unique(k)" not in result.stdout
    line = one_line_error(run_cli(env, "run", "--project", str(project), "--exclude", "tag:nope"))
    assert line.startswith("Error: --exclude 'tag:nope' matches no model; tags: none")
    # state:modified: what was built is unchanged, so only the models never built are selected
    doc = cli_json(
        run_cli(env, "run", "--project", str(project), "-s", "state:modified", "--dry-run", "--json")
    )
    assert [m["model"] for m in doc["models"]] == ["silver.bad", "gold.d"]
    nothing = run_cli(env, "run", "--project", str(project), "-s", "state:modified,silver.a")
    assert nothing.exit_code == 0 and "0 model(s) built, 0 up to date" in nothing.stdout


def test_fail_fast_skips_everything_not_yet_started(local_lake: LakeEnv, run_cli) -> None:
    env = local_lake
    project = _cli_project(env)
    result = run_cli(env, "run", "--project", str(project), "--fail-fast", "--threads", "1")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    # plan order: silver.a, gold.c, silver.bad (fails its check), gold.d, silver.z
    assert [ln.split()[:5] for ln in lines if " of 5 " in ln] == [
        ["1", "of", "5", "OK", "silver.a"],
        ["2", "of", "5", "OK", "gold.c"],
        ["3", "of", "5", "FAIL", "silver.bad"],
        ["4", "of", "5", "SKIP", "gold.d"],
        ["5", "of", "5", "SKIP", "silver.z"],  # independent of silver.bad, but not started yet
    ]
    assert lines[-1] == (
        "Error: silver.bad: check unique(k) failed: 1 offending row; skipped (--fail-fast): gold.d, silver.z"
    )
    assert "silver.z" not in env.lake.tables()
    assert env.lake.table("silver.bad").scan().to_arrow().num_rows == 0  # audited, never published

    doc = run_cli(env, "run", "--project", str(project), "--fail-fast", "--threads", "1", "--json")
    assert doc.exit_code == 1
    models = {m["model"]: (m["status"], m["error"]) for m in json.loads(doc.stdout)["models"]}
    assert models["silver.z"] == models["gold.d"] == ("skipped", "--fail-fast: silver.bad failed")
    assert models["silver.a"] == ("up_to_date", None)

    # without --fail-fast, models that do not depend on the failure are built (dbt's default)
    result = run_cli(env, "run", "--project", str(project))
    assert result.exit_code == 1
    assert env.lake.table("silver.z").scan().to_arrow().num_rows == 3
    assert result.stderr.splitlines()[-1].endswith("; skipped downstream: gold.d")


def test_run_lines_and_summary_table(local_lake: LakeEnv, run_cli, monkeypatch) -> None:
    env = local_lake
    project = _cli_project(env)
    monkeypatch.setenv("LAKE_TERMINAL", "1")  # the table is for a terminal; piped, stdout keeps one line
    result = run_cli(env, "run", "--project", str(project), "-s", "silver.a+")
    assert result.exit_code == 0, result.output
    line = next(ln for ln in result.stderr.splitlines() if "silver.a" in ln)
    assert re.fullmatch(
        r"1 of 2 OK   silver\.a \.{3,} \[overwrite, 3 rows in \d+\.\d\ds, snapshot \d+\]", line
    )
    sid = env.lake.table("gold.c").metadata.current_snapshot_id
    assert re.search(rf"gold\.c\s+.\s+ok\s+.\s+overwrite\s+.\s+1\s+.\s+[\d.]+\s+.\s+{sid}", result.stdout)
    assert "2 model(s) built, 0 up to date" in result.stdout

    monkeypatch.delenv("LAKE_TERMINAL")
    again = run_cli(env, "run", "--project", str(project), "-s", "silver.a+")
    assert again.stdout.splitlines()[-1].endswith(
        "0 model(s) built, 2 up to date in " + again.stdout.split(" in ")[-1].strip()
    )
    assert len(again.stdout.splitlines()) == 1
    assert (
        "2 of 2 OK   gold.c " in again.stderr and f"[overwrite, up to date, snapshot {sid}]" in again.stderr
    )


def test_a_dbt_project_with_nested_folders(tmp_path: Path) -> None:
    (tmp_path / "dbt_project.yml").write_text(
        "name: shop\nmodel-paths: [models]\n"
        "models:\n  shop:\n    staging:\n      +tags: [staging]\n    marts:\n      +schema: gold\n"
    )
    (tmp_path / "models/staging/shop").mkdir(parents=True)
    (tmp_path / "models/marts").mkdir(parents=True)
    (tmp_path / "models/staging/shop/stg_orders.sql").write_text("SELECT 1 AS id")
    (tmp_path / "models/marts/orders.sql").write_text("SELECT id FROM {{ ref('stg_orders') }}")
    project = Project.load(tmp_path)
    assert project.select("stg_orders") == ["staging.stg_orders"]  # bare name
    assert project.select("shop") == ["staging.stg_orders"]  # a folder, as dbt's fqn
    assert project.select("marts") == ["gold.orders"]  # its folder, though its namespace is gold
    assert project.select("gold") == ["gold.orders"]
    assert project.select("path:models/staging") == ["staging.stg_orders"]
    assert project.select("models/marts/orders.sql") == ["gold.orders"]
    assert project.select("tag:staging+") == ["staging.stg_orders", "gold.orders"]
    assert project.select("@orders", "tag:staging") == ["gold.orders"]
