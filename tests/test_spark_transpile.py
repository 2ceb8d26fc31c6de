"""`lake run --engine spark` without a JVM: what runs where, the Spark SQL a model becomes, and the models
refused at plan time. The Spark runs themselves are in tests/spark (`make spark-test`)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import fails_unchanged, one_line_error

from lakehouse.dev import datagen
from lakehouse.elt.spark.transpile import SparkTranspileError, check_spark, to_spark, unsupported

REPO_SQL = Path(__file__).resolve().parent.parent / "sql"


def _asof_line(path: Path) -> int:
    """The line of the ASOF JOIN in the model's SQL (not in its config() description)."""
    lines = path.read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if re.match(r"\s*ASOF\b", line))


def test_asof_join_is_refused_with_its_file_and_line() -> None:
    path = REPO_SQL / "gold" / "training_set.sql"
    sql = "SELECT l.a, f.b\nFROM silver.labels AS l\nASOF LEFT JOIN gold.user_features AS f ON l.t >= f.t"
    with pytest.raises(SparkTranspileError) as info:
        check_spark("gold.training_set", sql, path, path.read_text())
    assert str(info.value) == (
        f"gold.training_set cannot run on Spark: ASOF JOIN is DuckDB only at {path}:{_asof_line(path)}"
    )


def test_duckdb_only_constructs_are_found() -> None:
    assert [u.construct for u in unsupported("SELECT * FROM a.b POSITIONAL JOIN c.d")] == ["POSITIONAL JOIN"]
    assert unsupported("SELECT * FROM a.b USING SAMPLE 10%")
    assert [u.construct for u in unsupported("SELECT * FROM read_parquet('x.parquet')")][0].startswith(
        "table function"
    )
    assert unsupported("SELECT user_id, count(*) FROM a.b GROUP BY 1") == []


def test_tables_are_read_in_the_catalog_at_their_pinned_snapshots() -> None:
    sql = "WITH d AS (SELECT * FROM silver.events) SELECT d.x, u.y FROM d JOIN gold.users AS u USING (id)"
    out = to_spark(sql, "prod", {"silver.events": 42, "gold.users": None})
    assert "FROM `prod`.`silver`.`events` VERSION AS OF 42" in out
    assert "JOIN `prod`.`gold`.`users` AS u" in out and "users` VERSION" not in out
    assert "FROM d " in out  # a CTE is not a lake table


def test_interval_range_frames_order_by_a_timestamp() -> None:
    # DuckDB takes an INTERVAL frame over a DATE order; Spark only over a timestamp.
    sql = (
        "SELECT sum(x) OVER (PARTITION BY u ORDER BY d RANGE BETWEEN INTERVAL 6 DAYS PRECEDING AND "
        "CURRENT ROW) AS s, sum(x) OVER (ORDER BY d ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS r FROM a.b"
    )
    out = to_spark(sql, "c", {})
    assert "ORDER BY CAST(d AS TIMESTAMP) NULLS LAST RANGE BETWEEN INTERVAL '6' DAYS PRECEDING" in out
    assert "ORDER BY d NULLS LAST ROWS BETWEEN 1 PRECEDING" in out  # a ROWS frame keeps its key


@pytest.fixture
def bronze(local_lake):
    feed = datagen.events(200, seed=1)
    local_lake.lake.ingest(
        "bronze.events", str(datagen.write_jsonl(feed, local_lake.root / "e.jsonl")), create=True
    )
    labels = datagen.write_jsonl(datagen.labels(feed, 20), local_lake.root / "l.jsonl")
    local_lake.lake.ingest("bronze.labels", str(labels), create=True)
    return local_lake


def test_the_plan_says_which_engine_builds_each_model(bronze, run_cli) -> None:
    out = run_cli(bronze, "run", "--project", str(REPO_SQL), "--engine", "spark", "--dry-run", "--json")
    assert out.exit_code == 0, out.output
    engines = {m["model"]: m["engine"] for m in json.loads(out.stdout)["models"]}
    assert engines == {
        "silver.events": "spark", "silver.labels": "spark",
        "gold.user_features": "spark", "gold.training_set": "duckdb",  # config(engine='duckdb')
    }  # fmt: skip
    text = run_cli(bronze, "run", "--project", str(REPO_SQL), "--engine", "spark", "--dry-run")
    assert "gold.training_set: overwrite on DuckDB" in text.stdout
    assert "silver.events: overwrite on Spark" in text.stdout
    assert not [t for t in bronze.lake.tables() if not t.startswith("bronze.")]


def test_a_duckdb_only_model_fails_the_plan_before_anything_is_built(bronze, run_cli, tmp_path) -> None:
    project = tmp_path / "sql"
    shutil.copytree(REPO_SQL, project)
    model = project / "gold" / "training_set.sql"
    model.write_text(model.read_text().replace("    engine='duckdb',\n", ""))
    result = run_cli(bronze, "run", "--project", str(project), "--engine", "spark")
    line = one_line_error(result)
    assert line == (
        f"Error: gold.training_set cannot run on Spark: ASOF JOIN is DuckDB only at {model}:{_asof_line(model)}"
    )
    assert not [t for t in bronze.lake.tables() if not t.startswith("bronze.")]


def test_without_a_spark_environment_the_run_stops_before_writing(
    bronze, run_cli, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("LAKE_SPARK_HOME", str(tmp_path / "no-spark"))
    fails_unchanged(
        run_cli, bronze, "bronze.events",
        ["run", "--project", str(REPO_SQL), "--engine", "spark", "--select", "silver.events"],
        "not a complete Spark environment", "make spark",
    )  # fmt: skip
    assert "silver.events" not in bronze.lake.tables()


def test_engine_config_is_checked(bronze, run_cli, tmp_path) -> None:
    project = tmp_path / "sql"
    (project / "silver").mkdir(parents=True)
    (project / "silver" / "x.sql").write_text(
        "{{ config(engine='snowflake') }}\nSELECT * FROM {{ source('bronze', 'events') }}"
    )
    line = one_line_error(run_cli(bronze, "run", "--project", str(project), "--engine", "spark"))
    assert "silver.x: engine='snowflake'; use one of: duckdb, spark" in line


def test_zorder_is_spark_only_and_checked_at_plan_time(bronze, run_cli) -> None:
    fails_unchanged(
        run_cli, bronze, "bronze.events", ["compact", "bronze.events", "--zorder", "user_id"],
        "--zorder is Spark's rewrite_data_files: add --engine spark",
    )  # fmt: skip
    fails_unchanged(
        run_cli, bronze, "bronze.events",
        ["compact", "bronze.events", "--zorder", "nope", "--engine", "spark", "--dry-run"],
        "--zorder 'nope': bronze.events has no such column",
    )  # fmt: skip
