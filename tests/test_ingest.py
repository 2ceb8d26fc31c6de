import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import cli_json, events, one_line_error, snapshot_count, write_jsonl

from lakehouse.io.storage import list_files
from lakehouse.testing import LakeEnv


def _sorted(table: pa.Table, key: str = "id") -> pa.Table:
    return table.sort_by(key)


def test_partitioned_ingest_on_s3_is_hive_laid_out_and_readable_by_duckdb_and_pyiceberg(
    s3_lake: LakeEnv, run_cli, tmp_path: Path
) -> None:
    rows = events(500)
    src = write_jsonl(tmp_path / "events.jsonl", rows)
    out = cli_json(
        run_cli(
            s3_lake,
            "ingest",
            "bronze.events",
            str(src),
            "--create",
            "--partition-by",
            "day(ts), country",
            "--json",
        )
    )
    assert out["rows"] == 500 and out["files"] == 12  # 3 days x 4 countries
    table = s3_lake.lake.table("bronze.events")
    paths = [f["path"] for f in s3_lake.lake.files("bronze.events")]
    assert all(p.startswith(table.location() + "/data/ts_day=2026-06-0") for p in paths)
    assert any("/ts_day=2026-06-02/country=DE/" in p for p in paths)
    # pyiceberg alone
    by_pyiceberg = table.scan().to_arrow()
    assert by_pyiceberg.num_rows == 500
    assert sorted(by_pyiceberg.column("id").to_pylist()) == list(range(500))
    # DuckDB's iceberg_scan alone, on the metadata file the catalog reports
    with s3_lake.lake.engine(locked=False) as engine:
        got = engine.con.execute(
            f"SELECT id, country, amount FROM iceberg_scan('{table.metadata_location}') ORDER BY id"
        ).fetchall()
    assert got == [(r["id"], r["country"], r["amount"]) for r in rows]
    # and pruning works: one day and one country
    one = table.scan(row_filter="country == 'US' and ts >= '2026-06-02T00:00:00'").to_arrow()
    assert one.num_rows == sum(1 for r in rows if r["country"] == "US" and r["ts"] >= "2026-06-02")


def test_every_transform_matches_iceberg_semantics(local_lake: LakeEnv, tmp_path: Path) -> None:
    rows = [
        {"id": i, "ts": f"2025-{1 + i % 12:02d}-{1 + i % 27:02d}T{i % 24:02d}:30:00Z", "user_id": i * 7919,
         "name": f"name-{i % 13}", "d": f"202{i % 4}-03-01"}
        for i in range(300)
    ]  # fmt: skip
    src = write_jsonl(tmp_path / "t.jsonl", rows)
    lake = local_lake.lake
    lake.create("t.all", "id long, ts timestamptz, user_id long, name string, d date",
                partition_by="year(d), month(ts), hour(ts), bucket(8, user_id), truncate(6, name)")  # fmt: skip
    lake.ingest("t.all", str(src))
    table = lake.table("t.all")
    # pyiceberg prunes on the manifest partition values: wrong bucket/truncate values would lose rows
    for user in (0, 7919, 7919 * 55, 7919 * 299):
        assert table.scan(row_filter=f"user_id == {user}").to_arrow().num_rows == 1
    for name in ("name-3", "name-12"):
        expected = sum(1 for r in rows if r["name"] == name)
        assert table.scan(row_filter=f"name == '{name}'").to_arrow().num_rows == expected
    assert table.scan(row_filter="d == '2022-03-01'").to_arrow().num_rows == 75
    paths = [f["path"] for f in lake.files("t.all")]
    assert any("/d_year=2022/" in p and "/ts_month=2025-" in p and "/ts_hour=2025-" in p for p in paths)


def test_hive_partitioned_directory_adds_columns_and_glob(any_lake: LakeEnv, tmp_path: Path) -> None:
    for day in ("01", "02"):
        d = tmp_path / "landing" / "year=2026" / "month=06" / f"day={day}"
        d.mkdir(parents=True)
        pq.write_table(pa.table({"id": [1, 2, 3], "v": [1.0, 2.0, 3.0]}), d / "part-0.parquet")
    (tmp_path / "landing" / "_SUCCESS").write_text("")
    lake = any_lake.lake
    res = lake.ingest("bronze.p", str(tmp_path / "landing"), create=True)
    assert res.rows == 6
    got = lake.query(
        "SELECT year, month, day, count(*) AS n FROM bronze.p GROUP BY ALL ORDER BY day"
    ).to_pylist()
    # DuckDB keeps zero-padded keys such as day=01 as text, so nothing is lost
    assert [(g["year"], g["month"], g["day"], g["n"]) for g in got] == [
        (2026, "06", "01", 3),
        (2026, "06", "02", 3),
    ]
    res = lake.ingest("bronze.p", str(tmp_path / "landing" / "year=2026" / "*" / "day=02" / "*.parquet"))
    assert res.rows == 3


def test_csv_jsonl_parquet_and_s3_sources(s3_lake: LakeEnv, tmp_path: Path) -> None:
    lake = s3_lake.lake
    (tmp_path / "a.csv").write_text("id,name\n1,x\n2,y\n")
    write_jsonl(tmp_path / "b.jsonl", [{"id": 3, "name": "z"}])
    pq.write_table(pa.table({"id": [4], "name": ["w"]}), tmp_path / "c.parquet")
    lake.create("raw.mixed", "id long, name string")
    res = lake.ingest(
        "raw.mixed", [str(tmp_path / "a.csv"), str(tmp_path / "b.jsonl"), str(tmp_path / "c.parquet")]
    )
    assert res.rows == 4 and snapshot_count(s3_lake, "raw.mixed") == 1
    # an s3:// source: copy the table's own data files and ingest them back by glob
    files = [f.path for f in list_files(s3_lake.profile, lake.table("raw.mixed").location() + "/data")]
    assert files and all(p.startswith("s3://") for p in files)
    res = lake.ingest("raw.copy", files[0].rsplit("/", 1)[0] + "/*.parquet", create=True)
    assert res.rows == 4
    summary = lake.table("raw.mixed").current_snapshot().summary
    assert summary["lake.rows"] == "4" and "a.csv" in summary["lake.sources"]


def test_overwrite_is_one_snapshot(local_lake: LakeEnv, tmp_path: Path) -> None:
    lake = local_lake.lake
    lake.ingest("s.t", str(write_jsonl(tmp_path / "1.jsonl", events(10))), create=True)
    lake.ingest("s.t", str(write_jsonl(tmp_path / "2.jsonl", events(5, start=100))), mode="overwrite")
    assert snapshot_count(local_lake, "s.t") == 2
    table = lake.table("s.t")
    assert table.current_snapshot().summary.operation.value == "overwrite"
    assert sorted(lake.read("s.t", ["id"]).column("id").to_pylist()) == list(range(100, 105))


def test_json_integers_duckdb_types_hugeint_go_into_a_long_column(
    local_lake: LakeEnv, tmp_path: Path
) -> None:
    """DuckDB 1.5 types a JSON integer column HUGEINT when it holds a negative value; values that fit
    a long column are appended to it (they were refused as decimal(38, 0) before)."""
    lake = local_lake.lake
    lake.ingest("s.h", str(write_jsonl(tmp_path / "a.jsonl", [{"id": 1, "v": 5}])), create=True)
    assert str(lake.table("s.h").schema().find_field("v").field_type) == "long"
    more = [{"id": 2, "v": 36}, {"id": 3, "v": -1}]
    lake.ingest("s.h", str(write_jsonl(tmp_path / "b.jsonl", more)))
    got = sorted((r["id"], r["v"]) for r in lake.table("s.h").scan().to_arrow().to_pylist())
    assert got == [(1, 5), (2, 36), (3, -1)]


def test_evolve_adds_columns_by_name(local_lake: LakeEnv, tmp_path: Path, run_cli) -> None:
    lake = local_lake.lake
    lake.ingest("s.e", str(write_jsonl(tmp_path / "1.jsonl", [{"id": 1}])), create=True)
    src = write_jsonl(tmp_path / "2.jsonl", [{"id": 2, "extra": "x"}])
    res = run_cli(local_lake, "ingest", "s.e", str(src))
    assert res.exit_code == 1
    assert res.stderr.strip() == (
        f"Error: source {src} has columns that s.e lacks: extra; pass --evolve to add them (union by name)"
    )
    assert snapshot_count(local_lake, "s.e") == 1
    out = cli_json(run_cli(local_lake, "ingest", "s.e", str(src), "--evolve", "--json"))
    assert out["evolved_columns"] == ["extra"]
    assert lake.query("SELECT id, extra FROM s.e ORDER BY id").to_pylist() == [
        {"id": 1, "extra": None}, {"id": 2, "extra": "x"},
    ]  # fmt: skip


def test_wide_csv_keeps_every_value_in_its_column(local_lake: LakeEnv, tmp_path: Path) -> None:
    # Past 2,048 columns DuckDB's DESCRIBE may return rows out of order; values must still land by name.
    names = [f"c{i}" for i in range(5000)]
    src = tmp_path / "wide.csv"
    src.write_text(",".join(names) + "\n" + ",".join(str(i) for i in range(5000)) + "\n")
    local_lake.lake.ingest("s.wide", str(src), create=True)
    row = local_lake.lake.query("SELECT c0, c2047, c2048, c4095, c4096, c4999 FROM s.wide").to_pylist()
    assert row == [{"c0": 0, "c2047": 2047, "c2048": 2048, "c4095": 4095, "c4096": 4096, "c4999": 4999}]
    assert local_lake.lake.table("s.wide").schema().column_names == names


@pytest.mark.parametrize(
    "filename, content, message",
    [
        (
            "bad.csv",
            "id,amount\n1,2.5\n2,3.5,9\n",
            "malformed CSV in {path}: line 3: expected 2 fields, found 3",
        ),
        (
            "bad2.csv",
            "id,amount\n1,2.5\n2,abc\n",
            'in {path} at line 3: Error when converting column "amount"',
        ),
        ("bad.jsonl", '{"id": 1, "amount": 1.0}\n{"id": 2, "amount": \n', "malformed JSON in {path}"),
        (
            "types.jsonl",
            '{"id": "x1", "amount": 1.0}\n',
            "column id: table s.typed has long, source {path} has string",
        ),
        (
            "nulls.jsonl",
            '{"id": null, "amount": 1.0}\n',
            "column id is NOT NULL in s.typed but {path} has a null",
        ),
        ("empty.csv", "", "{path} is empty"),
    ],
)
def test_bad_input_is_one_line_and_adds_no_snapshot(
    local_lake: LakeEnv, run_cli, tmp_path: Path, filename: str, content: str, message: str
) -> None:
    lake = local_lake.lake
    lake.create("s.typed", "id long not null, amount double")
    lake.ingest("s.typed", str(write_jsonl(tmp_path / "ok.jsonl", [{"id": 1, "amount": 1.0}])))
    before = lake.table("s.typed").current_snapshot().snapshot_id
    files_before = sorted(f.path for f in list_files(local_lake.profile, lake.table("s.typed").location()))
    path = tmp_path / filename
    path.write_text(content)
    res = run_cli(local_lake, "ingest", "s.typed", str(path))
    assert message.format(path=path) in one_line_error(res)
    assert lake.table("s.typed").current_snapshot().snapshot_id == before
    assert (
        sorted(f.path for f in list_files(local_lake.profile, lake.table("s.typed").location()))
        == files_before
    )


def test_missing_table_needs_create(local_lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "x.jsonl", [{"id": 1}])
    res = run_cli(local_lake, "ingest", "s.none", str(src))
    assert res.exit_code == 1
    assert (
        res.stderr.strip() == "Error: table s.none does not exist; pass --create to make it from the source"
    )
    assert local_lake.lake.tables() == []


def test_failed_create_ingest_leaves_no_table(local_lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n3,4,5\n")
    res = run_cli(local_lake, "ingest", "s.new", str(path), "--create")
    assert res.exit_code == 1 and "line 3" in res.stderr
    assert local_lake.lake.tables() == []


def test_json_output_and_summary(local_lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "e.jsonl", events(20))
    out = cli_json(run_cli(local_lake, "ingest", "b.e", str(src), "--create", "--json"))
    assert out["rows"] == 20 and out["sources"] == [str(src)]
    described = cli_json(run_cli(local_lake, "describe", "b.e", "--json"))
    assert described["rows"] == 20 and described["snapshot"]["summary"]["lake.sources"] == str(src)
    assert json.dumps(described)  # serialisable


def test_a_refused_data_write_names_the_store_and_key_not_the_source(
    moto_s3, tmp_path: Path, run_cli
) -> None:
    """An HTTP 403 on a data file's key (SeaweedFS refuses an empty path segment, for example) was
    reported as a problem "in <source file>"."""
    from faultproxy import Fault, FaultProxy

    from lakehouse.testing import make_lake_env, s3_properties

    with FaultProxy(moto_s3.endpoint) as proxy:
        env = make_lake_env(tmp_path, s3_properties(proxy.endpoint, tmp_path))
        src = write_jsonl(tmp_path / "events.jsonl", events(20))
        env.lake.create("bronze.events", "id long, ts timestamptz, country string, amount double, user_id long",
                        partition_by="country")  # fmt: skip
        proxy.add(Fault("PUT", r"/data/country(=|%3D)DE/", action="403", times=None))
        line = one_line_error(run_cli(env, "ingest", "bronze.events", str(src)))
        proxy.clear()
        assert snapshot_count(env, "bronze.events") == 0
    assert str(src) not in line and "events.jsonl" not in line, line
    assert "403" in line and "country=DE" in line, line


def test_a_failed_local_write_names_the_data_path_not_the_source(
    local_lake: LakeEnv, tmp_path: Path, run_cli
) -> None:
    from lakehouse.io.storage import local_path
    from lakehouse.io.writer import data_location

    lake = local_lake.lake
    lake.create("bronze.events", "id long, ts timestamptz, country string, amount double, user_id long",
                partition_by="country")  # fmt: skip
    blocker = local_path(data_location(lake.table("bronze.events"))) / "country=DE"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("a file where a partition folder must go")
    src = write_jsonl(tmp_path / "events.jsonl", events(20))
    line = one_line_error(run_cli(local_lake, "ingest", "bronze.events", str(src)))
    assert "events.jsonl" not in line and "country=DE" in line and "bronze.events" in line, line
    assert snapshot_count(local_lake, "bronze.events") == 0


def test_ingest_help_shows_merge_mode_key_and_dry_run(local_lake: LakeEnv, run_cli) -> None:
    text = run_cli(local_lake, "ingest", "--help").stdout
    assert "[append|overwrite|merge]" in text and "--key" in text and "--dry-run" in text
    assert "--mode merge --key user_id --dry-run" in text
