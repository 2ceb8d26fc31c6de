"""`--partition-by` given twice adds the terms up (issue 14: the last one silently won)."""

from conftest import cli_json, events, write_jsonl

from lakehouse.testing import LakeEnv


def test_partition_by_twice_adds_up_on_create_and_ingest(local_lake: LakeEnv, run_cli, tmp_path) -> None:
    out = cli_json(run_cli(local_lake, "create", "s.a", "--schema", "id long, ts timestamptz, country string",
                           "--partition-by", "day(ts)", "--partition-by", "country", "--json"))  # fmt: skip
    assert out["partition_spec"] == ["day(ts)", "country"]
    src = write_jsonl(tmp_path / "e.jsonl", events(20))
    res = run_cli(local_lake, "ingest", "s.b", str(src), "--create",
                  "--partition-by", "day(ts)", "--partition-by", "country", "--json")  # fmt: skip
    assert cli_json(res)["partitions"] == 12
    assert local_lake.lake.describe("s.b")["partition_spec"] == ["day(ts)", "country"]
