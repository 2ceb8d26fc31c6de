"""`lake query` runs the read-only statements DuckDB users type (DESCRIBE, SUMMARIZE, PIVOT/UNPIVOT,
EXPLAIN, SHOW TABLES, FROM-first) over lake tables, at the snapshot `--as-of` names, while the sandbox
stays as strict; its errors keep what helps (the position of a syntax error, DuckDB's hints)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import cli_json, events, module_lake, one_line_error, write_jsonl

from lakehouse.testing import LakeEnv

TABLE = "s.t"


def with_tables(env: LakeEnv, root: Path) -> LakeEnv:
    env.lake.create(
        TABLE, "id long, ts timestamptz, country string, amount double, user_id long", partition_by="day(ts)"
    )
    env.lake.ingest(TABLE, str(write_jsonl(root / "a.jsonl", events(40))))
    env.lake.create("other.u", "user_id long")
    return env


@pytest.fixture(scope="module")
def lake(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> LakeEnv:
    """Shared by the module's tests that only query (a test that writes uses `own_lake`)."""
    env = module_lake(request, tmp_path_factory, "local")
    return with_tables(env, env.root)


@pytest.fixture
def own_lake(local_lake: LakeEnv, tmp_path: Path) -> LakeEnv:
    return with_tables(local_lake, tmp_path)


def _rows(run_cli, env: LakeEnv, sql: str, *args: str) -> list[dict]:
    return cli_json(run_cli(env, "query", sql, "--json", *args))["rows"]


def test_describe_and_summarize_read_the_table_at_the_snapshot_asked(
    own_lake: LakeEnv, run_cli, tmp_path
) -> None:
    lake = own_lake
    first = lake.lake.table(TABLE).current_snapshot().snapshot_id
    lake.lake.ingest(TABLE, str(write_jsonl(tmp_path / "b.jsonl", events(10, start=40))))
    lake.lake.add_column(TABLE, "note", "string")

    described = _rows(run_cli, lake, f"DESCRIBE {TABLE}")
    assert [(r["column_name"], r["column_type"]) for r in described] == [
        ("id", "BIGINT"), ("ts", "TIMESTAMP WITH TIME ZONE"), ("country", "VARCHAR"), ("amount", "DOUBLE"),
        ("user_id", "BIGINT"), ("note", "VARCHAR"),
    ]  # fmt: skip
    old = _rows(run_cli, lake, f"DESCRIBE {TABLE}", "--as-of", str(first))
    assert [r["column_name"] for r in old] == [
        "id",
        "ts",
        "country",
        "amount",
        "user_id",
    ]  # time travel: the old schema

    summary = {r["column_name"]: r for r in _rows(run_cli, lake, f"SUMMARIZE {TABLE}")}
    assert summary["id"]["count"] == 50 and (summary["id"]["min"], summary["id"]["max"]) == ("0", "49")
    at_first = {
        r["column_name"]: r for r in _rows(run_cli, lake, f"SUMMARIZE {TABLE}", "--as-of", str(first))
    }
    assert at_first["id"]["count"] == 40 and at_first["id"]["max"] == "39"
    of_select = _rows(run_cli, lake, f"SUMMARIZE SELECT id, country FROM {TABLE} WHERE id < 10")
    assert [(r["column_name"], r["count"], r["approx_unique"] > 0) for r in of_select] == [
        ("id", 10, True), ("country", 10, True),
    ]  # fmt: skip
    # FOR VERSION AS OF inside the statement is time travel too.
    sql = f"SUMMARIZE SELECT id FROM {TABLE} FOR VERSION AS OF {first}"
    assert _rows(run_cli, lake, sql)[0]["count"] == 40


def test_pivot_unpivot_and_from_first(lake: LakeEnv, run_cli) -> None:
    expected: dict[str, int] = {}
    by_user: dict[int, dict[str, int]] = {}
    for row in events(40):
        expected[row["country"]] = expected.get(row["country"], 0) + 1
        counts = by_user.setdefault(row["user_id"], dict.fromkeys(("DE", "FR", "JP", "US"), 0))
        counts[row["country"]] += 1
    pivot = _rows(run_cli, lake, f"PIVOT {TABLE} ON country USING count(*) GROUP BY user_id")
    assert {r.pop("user_id"): r for r in pivot} == by_user
    listed = _rows(run_cli, lake, f"PIVOT {TABLE} ON country IN ('US', 'DE') USING count(*) GROUP BY user_id")
    assert {r["user_id"]: (r["US"], r["DE"]) for r in listed} == {
        u: (c["US"], c["DE"]) for u, c in by_user.items()
    }
    inside = _rows(
        run_cli,
        lake,
        f"FROM (PIVOT {TABLE} ON country USING count(*) GROUP BY user_id) SELECT sum(US)::INT AS n",
    )
    assert inside == [{"n": expected["US"]}]
    standard = _rows(run_cli, lake, f"SELECT * FROM {TABLE} PIVOT (count(*) FOR country IN ('US')) LIMIT 1")
    assert "US" in standard[0] and "country" not in standard[0]  # the PIVOT clause on a lake table is kept

    unpivot = _rows(
        run_cli, lake, f"UNPIVOT (SELECT id, country, CAST(id * 2 AS VARCHAR) AS twice FROM {TABLE} WHERE id = 3) "
        "ON country, twice INTO NAME k VALUE v",
    )  # fmt: skip
    assert sorted((r["k"], r["v"]) for r in unpivot) == [("country", "JP"), ("twice", "6")]

    first = _rows(run_cli, lake, f"FROM {TABLE} SELECT id WHERE id < 3 ORDER BY id")
    assert first == [{"id": 0}, {"id": 1}, {"id": 2}]
    assert sorted(r["id"] for r in _rows(run_cli, lake, f"FROM {TABLE} WHERE id < 2")) == [0, 1]
    assert len(_rows(run_cli, lake, f"FROM {TABLE}")) == 40


def test_explain_shows_the_plan_over_the_tables_scan(lake: LakeEnv, run_cli) -> None:
    plan = _rows(run_cli, lake, f"EXPLAIN SELECT count(*) FROM {TABLE} WHERE id > 3")
    assert [r["explain_key"] for r in plan] == ["physical_plan"]
    assert "READ_PARQUET" in plan[0]["explain_value"] or "ICEBERG" in plan[0]["explain_value"].upper()
    analyzed = _rows(run_cli, lake, f"EXPLAIN ANALYZE SELECT count(*) FROM {TABLE}")
    assert analyzed[0]["explain_key"] == "analyzed_plan"


def test_show_tables_lists_the_catalogs_tables(lake: LakeEnv, run_cli) -> None:
    listed = _rows(run_cli, lake, "SHOW TABLES")
    assert [f"{r['namespace']}.{r['name']}" for r in listed] == lake.lake.tables() == ["other.u", TABLE]
    assert _rows(run_cli, lake, "SHOW TABLES FROM other") == [{"namespace": "other", "name": "u"}]
    assert _rows(run_cli, lake, "SHOW ALL TABLES") == listed
    assert _rows(run_cli, lake, "SHOW TABLES FROM nothing") == []


@pytest.mark.parametrize(
    ("sql", "needle"),
    [
        ("SUMMARIZE read_csv('/etc/passwd')", "read_csv() is not allowed"),
        ("DESCRIBE SELECT * FROM read_parquet('/etc/x.parquet')", "read_parquet() is not allowed"),
        ("PIVOT read_csv('/etc/passwd') ON column0", "read_csv() is not allowed"),
        ("EXPLAIN SELECT * FROM read_text('/etc/passwd')", "read_text() is not allowed"),
        ("EXPLAIN ANALYZE SELECT getenv('HOME')", "getenv() is not allowed"),
        ("EXPLAIN COPY s.t TO '/tmp/x.csv'", "lake query is read-only"),
        ("EXPLAIN DELETE FROM s.t", "lake query is read-only"),
        ("EXPLAIN", "EXPLAIN needs a statement"),
        ("SHOW DATABASES", "lake query is read-only"),
        ("SUMMARIZE events", "'events' is not a lake table"),
        ("SUMMARIZE '/etc/passwd'", "'/etc/passwd' is not a lake table"),
        ("DESCRIBE '/etc/passwd'", "'/etc/passwd' is not a lake table"),
        ("PIVOT '/etc/passwd' ON a", "'/etc/passwd' is not a lake table"),
        ("EXPLAIN FROM '/etc/passwd'", "'/etc/passwd' is not a lake table"),
        ("DESCRIBE s.nope", "s.nope does not exist"),
        ("ATTACH '/tmp/x.db'", "lake query is read-only"),
    ],
)
def test_the_sandbox_stays_strict(lake: LakeEnv, run_cli, sql: str, needle: str) -> None:
    result = run_cli(lake, "query", sql)
    line = one_line_error(result)
    assert needle in line, line
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT id FROM s.t GROUP BY HAVING", 'line 1, column 29, near "HAVING": HAVING is incomplete'),
        ("SELECT id\nFROM s.t\nWHERE id = = 1", 'line 3, column 12, near "=": an expression is incomplete'),
        ("SELECT (id FROM s.t", 'line 1, column 12, near "FROM": expected )'),
        ("SELECT * FROM", 'line 1, column 10, near "FROM": expected table name'),
    ],
)
def test_a_syntax_error_names_line_column_and_token(lake: LakeEnv, run_cli, sql: str, expected: str) -> None:
    line = one_line_error(run_cli(lake, "query", sql))
    assert line == f"Error: cannot parse SQL: syntax error at {expected}"
    assert "sqlglot" not in line and "Required keyword" not in line


def test_an_open_quote_is_one_line(lake: LakeEnv, run_cli) -> None:
    line = one_line_error(run_cli(lake, "query", "SELECT 'abc FROM s.t"))
    assert (
        line == "Error: cannot parse SQL: it cannot be split into tokens (is a quote or comment left open?)"
    )


def test_duckdb_hints_are_kept(lake: LakeEnv, run_cli) -> None:
    line = one_line_error(run_cli(lake, "query", f"SELECT amont FROM {TABLE}"))
    assert 'Referenced column "amont" not found' in line and 'Candidate bindings: "amount"' in line
    assert "iceberg_scan" not in line and "read_parquet" not in line  # no rewritten SQL shown
    line = one_line_error(run_cli(lake, "query", "SELECT lenght('x')"))
    assert 'Did you mean "length"' in line


@pytest.mark.parametrize(
    ("reads", "suggested"),
    [("{{ ref('silver.event') }}", "silver.events"), ("{{ source('bronze', 'event') }}", "bronze.events")],
)
def test_a_typo_in_ref_or_source_suggests_the_close_names(
    local_lake: LakeEnv, run_cli, tmp_path: Path, reads: str, suggested: str
) -> None:
    from conftest import write_project

    project = write_project(
        tmp_path,
        {
            "silver.events": "SELECT * FROM {{ source('bronze', 'events') }}",
            "gold.daily": f"SELECT count(*) AS n FROM {reads}",
        },
    )
    for command in ("run", "lineage"):
        line = one_line_error(run_cli(local_lake, command, "--project", str(project)))
        assert f"gold.daily reads {suggested[:-1]}," in line and f"did you mean {suggested}?" in line, line
    assert local_lake.lake.tables() == []  # nothing was built
