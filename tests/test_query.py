from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import cli_json, events, module_lake, write_jsonl

from lakehouse.errors import QueryError
from lakehouse.testing import LakeEnv

COMPLEX = {
    "cte_window": """
        WITH daily AS (
            SELECT country, CAST(ts AS DATE) AS day, sum(amount) AS spend
            FROM {events} GROUP BY ALL
        )
        SELECT country, day, spend,
               sum(spend) OVER (PARTITION BY country ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running,
               rank() OVER (PARTITION BY day ORDER BY spend DESC) AS rnk
        FROM daily ORDER BY country, day""",
    "correlated": """
        SELECT e.id, e.amount FROM {events} e
        WHERE e.amount = (SELECT max(i.amount) FROM {events} i WHERE i.country = e.country AND i.user_id = e.user_id)
        ORDER BY e.id""",
    "join": """
        SELECT u.segment, count(*) AS n, round(sum(e.amount), 2) AS total
        FROM {events} AS e JOIN {users} AS u ON u.user_id = e.user_id
        WHERE e.amount > 0 GROUP BY u.segment ORDER BY u.segment""",
    "semi_and_setops": """
        SELECT user_id FROM {users} WHERE user_id IN (SELECT user_id FROM {events} WHERE country = 'US')
        EXCEPT SELECT user_id FROM {users} WHERE segment = 'b' ORDER BY 1""",
    "qualify_and_functions": """
        SELECT country, id, amount FROM {events}
        QUALIFY row_number() OVER (PARTITION BY country ORDER BY amount DESC, id) <= 2 ORDER BY country, id""",
}


def ingest_two_tables(env: LakeEnv, root: Path) -> LakeEnv:
    lake = env.lake
    lake.ingest("bronze.events", str(write_jsonl(root / "e.jsonl", events(400))), create=True,
                partition_by="day(ts), country")  # fmt: skip
    users = [{"user_id": u, "segment": "ab"[u % 2]} for u in range(17)]
    lake.ingest("bronze.users", str(write_jsonl(root / "u.jsonl", users)), create=True)
    return env


@pytest.fixture(scope="module", params=["local", "s3"])
def two_tables(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> LakeEnv:
    """Built once per kind for the module's read-only tests (a test that writes uses `own_two_tables`)."""
    env = module_lake(request, tmp_path_factory, request.param)
    return ingest_two_tables(env, env.root)


@pytest.fixture
def own_two_tables(any_lake: LakeEnv, tmp_path: Path) -> LakeEnv:
    return ingest_two_tables(any_lake, tmp_path)


@pytest.mark.parametrize("name", sorted(COMPLEX))
def test_complex_sql_equals_duckdb_over_the_same_parquet(two_tables: LakeEnv, name: str) -> None:
    lake = two_tables.lake
    lake_sql = COMPLEX[name].format(events="bronze.events", users="bronze.users")
    got = lake.query(lake_sql)
    files = {t: [f["path"] for f in lake.files(t)] for t in ("bronze.events", "bronze.users")}
    with lake.engine(locked=False) as engine:
        raw = COMPLEX[name].format(
            events=f"read_parquet({files['bronze.events']!r})",
            users=f"read_parquet({files['bronze.users']!r})",
        )
        expected = engine.con.execute(raw).fetchall()
    assert got.num_rows > 0
    assert [tuple(row.values()) for row in got.to_pylist()] == expected


def test_ctes_aliases_and_table_functions_are_left_alone(two_tables: LakeEnv) -> None:
    lake = two_tables.lake
    sql = """
        WITH events AS (SELECT * FROM bronze.events WHERE country = 'DE')
        SELECT (SELECT count(*) FROM events) AS de, (SELECT count(*) FROM range(3)) AS r,
               (SELECT count(*) FROM bronze.events AS events) AS all_rows"""
    assert lake.query(sql).to_pylist() == [{"de": 100, "r": 3, "all_rows": 400}]


def test_unknown_table_suggests_close_names(two_tables: LakeEnv, run_cli) -> None:
    res = run_cli(two_tables, "query", "SELECT * FROM bronze.event")
    assert res.exit_code == 1
    assert res.stderr.strip().startswith(
        "Error: table bronze.event does not exist; did you mean bronze.events"
    )


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO bronze.events SELECT * FROM bronze.events",
        "COPY (SELECT 1) TO 'x.csv'",
        "CREATE TABLE t AS SELECT 1",
        "ATTACH 'x.db'",
        "SELECT 1; SELECT 2",
    ],
)
def test_query_is_read_only(two_tables: LakeEnv, sql: str) -> None:
    with pytest.raises(QueryError):
        two_tables.lake.query(sql)


def test_output_formats(two_tables: LakeEnv, run_cli, tmp_path: Path) -> None:
    sql = "SELECT country, count(*) AS n FROM bronze.events GROUP BY 1 ORDER BY 1"
    res = run_cli(two_tables, "query", sql, "--format", "csv")
    assert res.stdout.splitlines() == ['"country","n"', '"DE",100', '"FR",100', '"JP",100', '"US",100']
    res = run_cli(two_tables, "query", sql, "--format", "jsonl")
    assert res.stdout.splitlines()[0] == '{"country": "DE", "n": 100}'
    out = cli_json(run_cli(two_tables, "query", sql, "--json"))
    assert out["rows"][3] == {"country": "US", "n": 100}
    assert out["snapshots"]["bronze.events"] == str(
        two_tables.lake.table("bronze.events").current_snapshot().snapshot_id
    )
    target = tmp_path / "out.parquet"
    res = run_cli(two_tables, "query", sql, "--output", str(target))
    assert res.exit_code == 0 and pq.read_table(target).num_rows == 4
    sql_file = tmp_path / "q.sql"
    sql_file.write_text(sql)
    res = run_cli(two_tables, "query", "--file", str(sql_file), "--format", "json")
    assert '"country": "JP"' in res.stdout


def test_empty_table_reads_as_no_rows(local_lake: LakeEnv) -> None:
    local_lake.lake.create("s.empty", "id long, name string")
    assert local_lake.lake.query("SELECT count(*) AS n FROM s.empty").to_pylist() == [{"n": 0}]
    assert local_lake.lake.read("s.empty").num_rows == 0


def test_read_and_batches(two_tables: LakeEnv) -> None:
    lake = two_tables.lake
    table = lake.read("bronze.events", ["id", "amount"], where="country = 'US'")
    assert table.column_names == ["id", "amount"] and table.num_rows == 100
    batches = list(lake.batches("bronze.events", ["id"], batch_size=64))
    assert sum(b.num_rows for b in batches) == 400 and max(b.num_rows for b in batches) <= 2048


def test_query_with_a_pin_file_reads_the_pinned_snapshots(
    own_two_tables: LakeEnv, run_cli, tmp_path: Path
) -> None:
    two_tables = own_two_tables
    lake = two_tables.lake
    lock = tmp_path / "training.lock"
    lake.pin(["bronze.events", "bronze.users"], lock)
    pinned = lake.table("bronze.events").current_snapshot().snapshot_id
    lake.ingest("bronze.events", str(write_jsonl(tmp_path / "more.jsonl", events(50, start=1000))))
    out = cli_json(
        run_cli(two_tables, "query", "SELECT count(*) AS n FROM bronze.events", "--pins", str(lock), "--json")
    )
    assert out == {"snapshots": {"bronze.events": str(pinned)}, "rows": [{"n": 400}]}
    assert lake.query("SELECT count(*) AS n FROM bronze.events").to_pylist() == [{"n": 450}]


def test_failing_query_leaves_an_existing_output_file_alone(
    local_lake: LakeEnv, run_cli, tmp_path: Path
) -> None:
    """The result goes to a temporary file beside --output and replaces it only when complete."""
    from conftest import one_line_error

    local_lake.lake.ingest("bronze.events", str(write_jsonl(tmp_path / "e.jsonl", events(50))), create=True)
    for fmt in ("csv", "parquet"):  # every format writes through the same temporary-file sink
        out = tmp_path / f"existing.{fmt}"
        out.write_text("precious\n")
        # fails mid-stream: the error is raised by a row past the first batches
        sql = "SELECT CASE WHEN i < 5000000 THEN i ELSE error('boom at row') END AS x FROM range(6000000) AS t(i)"
        one_line_error(run_cli(local_lake, "query", sql, "--format", fmt, "--output", str(out)))
        assert out.read_text() == "precious\n"
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".existing")) == []
        ok = run_cli(
            local_lake, "query", "SELECT count(*) AS n FROM bronze.events", "--format", fmt, "-o", str(out)
        )
        assert ok.exit_code == 0, ok.stderr
        assert out.read_bytes() != b"precious\n"


def test_json_outputs_are_valid_json_with_nan_and_infinity(
    local_lake: LakeEnv, run_cli, tmp_path: Path
) -> None:
    import json

    sql = "SELECT 'nan'::DOUBLE AS a, 'inf'::DOUBLE AS b, '-inf'::FLOAT AS c, 1.5::DOUBLE AS d, [ 'nan'::DOUBLE ] AS e"
    doc = json.loads(run_cli(local_lake, "query", "--json", sql).stdout, parse_constant=_no_constants)
    assert doc["rows"] == [{"a": "NaN", "b": "Infinity", "c": "-Infinity", "d": 1.5, "e": ["NaN"]}]
    for fmt in ("json", "jsonl"):
        text = run_cli(local_lake, "query", sql, "--format", fmt).stdout
        rows = (
            json.loads(text, parse_constant=_no_constants)
            if fmt == "json"
            else [json.loads(line, parse_constant=_no_constants) for line in text.splitlines()]
        )
        assert rows[0]["b"] == "Infinity"


def _no_constants(name: str) -> None:
    raise AssertionError(f"invalid JSON constant {name}")


def test_binary_columns_print_as_hex_in_every_text_format(
    local_lake: LakeEnv, run_cli, tmp_path: Path
) -> None:
    import json

    import pyarrow as pa

    src = tmp_path / "b.parquet"
    pq.write_table(pa.table({"id": [1, 2], "b": pa.array([b"\xff\x00ab", None], pa.binary())}), src)
    assert run_cli(local_lake, "ingest", "s.b", str(src), "--create").exit_code == 0
    sql = "SELECT * FROM s.b ORDER BY id"
    csv = run_cli(local_lake, "query", sql, "--format", "csv")
    assert csv.exit_code == 0, csv.stderr
    assert csv.stdout.splitlines() == ['"id","b"', '1,"ff006162"', "2,"]
    assert json.loads(run_cli(local_lake, "query", sql, "--json").stdout)["rows"][0]["b"] == "ff006162"


def test_files_shows_a_null_partition_as_null_not_the_string(
    local_lake: LakeEnv, run_cli, tmp_path: Path
) -> None:
    src = write_jsonl(tmp_path / "p.jsonl", [{"id": 1, "country": None}, {"id": 2, "country": "null"}])
    assert (
        run_cli(local_lake, "ingest", "s.p", str(src), "--create", "--partition-by", "country").exit_code == 0
    )
    files = cli_json(run_cli(local_lake, "files", "s.p", "--json"))
    assert sorted((f["partition"]["country"] is None, f["partition"]["country"]) for f in files) == [
        (False, "null"),
        (True, None),
    ]


def test_schema_changes_show_in_queries_before_the_next_write(local_lake: LakeEnv, tmp_path: Path) -> None:
    """A column renamed (or added) with pyiceberg reads under its new name at once; time travel keeps
    the schema the snapshot was written with."""
    from pyiceberg.types import StringType

    lake = local_lake.lake
    lake.ingest("s.t", str(write_jsonl(tmp_path / "a.jsonl", [{"id": 1, "label": "x"}])), create=True)
    first = lake.snapshot("s.t").snapshot_id  # type: ignore[union-attr]
    with lake.table("s.t").update_schema() as update:
        update.rename_column("label", "tag")
        update.add_column("note", StringType())
    assert lake.query("SELECT id, tag, note FROM s.t").to_pylist() == [{"id": 1, "tag": "x", "note": None}]
    assert lake.read("s.t", as_of=first).column_names == ["id", "label"]
