from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from click.testing import CliRunner
from conftest import cli_json

from lakehouse.cli import cli
from lakehouse.testing import LakeEnv


def test_create_describe_files_drop(any_lake: LakeEnv, run_cli) -> None:
    out = cli_json(
        run_cli(any_lake, "create", "silver.events", "--schema", "id long not null, ts timestamptz, country string",
                "--partition-by", "day(ts), country", "--property", "owner=ml-team", "--json")
    )  # fmt: skip
    assert out["partition_spec"] == ["day(ts)", "country"]
    assert out["schema"][0] == {"id": 1, "name": "id", "type": "long", "required": True}
    assert out["properties"]["owner"] == "ml-team" and out["snapshot"] is None
    assert cli_json(run_cli(any_lake, "tables", "--json")) == ["silver.events"]
    assert cli_json(run_cli(any_lake, "tables", "silver", "--json")) == ["silver.events"]
    assert cli_json(run_cli(any_lake, "files", "silver.events", "--json")) == []
    res = run_cli(any_lake, "create", "silver.events", "--schema", "id long")
    assert res.exit_code == 1 and res.stderr.strip() == "Error: table silver.events already exists"
    dry = cli_json(run_cli(any_lake, "drop", "silver.events", "--purge", "--dry-run", "--json"))
    assert dry["dry_run"] is True and any_lake.lake.tables() == ["silver.events"]
    assert run_cli(any_lake, "drop", "silver.events", "--purge", "--yes").exit_code == 0
    assert any_lake.lake.tables() == []


def test_create_like_a_file(local_lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    pq.write_table(pa.table({"user_id": pa.array([1], pa.int64()), "name": ["a"]}), tmp_path / "u.parquet")
    out = cli_json(run_cli(local_lake, "create", "dim.users", "--like", str(tmp_path / "u.parquet"),
                           "--partition-by", "bucket(4, user_id)", "--json"))  # fmt: skip
    assert [c["name"] for c in out["schema"]] == ["user_id", "name"]
    assert out["partition_spec"] == ["bucket(4, user_id)"]


def test_errors_are_one_line_with_exit_codes(local_lake: LakeEnv, run_cli) -> None:
    res = run_cli(local_lake, "describe", "nope.nothing")
    assert res.exit_code == 1 and res.stderr == "Error: table nope.nothing does not exist\n"
    for bad in ("a.b;drop", "../etc.passwd", "a'b.c", "onlyone"):
        res = run_cli(local_lake, "describe", bad)
        assert res.exit_code == 1 and res.stderr.startswith(f"Error: invalid table name {bad!r}")
    res = run_cli(local_lake, "create", "s.t", "--schema", "id long", "--partition-by", "weekly(id)")
    assert res.exit_code == 1 and "unknown partition transform 'weekly'" in res.stderr
    assert local_lake.lake.tables() == []
    res = CliRunner().invoke(cli, [*local_lake.cli_args(), "query"])  # neither SQL nor --file
    assert res.exit_code == 2
    res = CliRunner().invoke(cli, [*local_lake.cli_args(), "ingest", "s.t", "x.csv", "--mode", "upsert"])
    assert res.exit_code == 2


def test_debug_shows_traceback(local_lake: LakeEnv, run_cli) -> None:
    res = run_cli(local_lake, "--debug", "describe", "nope.nothing")
    assert res.exit_code == 1 and "Traceback" in res.stderr and res.stderr.rstrip().endswith("does not exist")
