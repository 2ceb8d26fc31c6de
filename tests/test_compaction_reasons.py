"""`lake compact --dry-run` says why partitions are left alone, with counts (issue 14)."""

from pathlib import Path

from conftest import cli_json, events, snapshot_count, write_jsonl

from lakehouse.testing import LakeEnv

SMALL = {"lake.compact.allow-any-target": "true"}


def _table(env: LakeEnv, tmp_path: Path, ingests: int) -> None:
    env.lake.create("s.t", "id long, ts timestamptz, country string, amount double, user_id long",
                    partition_by="country", properties=SMALL)  # fmt: skip
    for i in range(ingests):
        env.lake.ingest("s.t", str(write_jsonl(tmp_path / f"{i}.jsonl", events(40, start=i * 40))))


def test_single_small_files_are_counted_with_the_threshold(local_lake: LakeEnv, run_cli, tmp_path) -> None:
    _table(local_lake, tmp_path, 1)
    res = run_cli(local_lake, "compact", "s.t", "--dry-run")
    assert res.exit_code == 0, res.output
    assert "left alone: 4 partitions hold a single small file: below --min-input-files 5" in res.stdout
    plan = cli_json(run_cli(local_lake, "compact", "s.t", "--dry-run", "--json"))["plan"]
    assert plan["left_alone"] == [{
        "reason": "single-small-file", "partitions": 4, "files": 4,
        "message": "4 partitions hold a single small file: below --min-input-files 5",
    }]  # fmt: skip
    assert snapshot_count(local_lake, "s.t") == 1


def test_few_files_at_target_and_outside_where(local_lake: LakeEnv, run_cli, tmp_path) -> None:
    _table(local_lake, tmp_path, 3)
    plan = cli_json(run_cli(local_lake, "compact", "s.t", "--dry-run", "--json"))["plan"]
    assert [(r["reason"], r["partitions"], r["files"]) for r in plan["left_alone"]] == [
        ("few-small-files", 4, 12)
    ]
    assert plan["left_alone"][0]["message"].startswith("4 partitions hold 2 to 4 small files, together under")
    # every file in range: nothing to gain anywhere
    sized = ["--target-size", "1KB", "--min-size", "1", "--max-size", "1GB"]
    res = run_cli(local_lake, "compact", "s.t", "--dry-run", *sized)
    assert "left alone: 4 partitions are already at target size: every file between --min-size" in res.stdout
    # --where leaves the other partitions out, and says so; the rewritten one has no reason
    plan = cli_json(run_cli(local_lake, "compact", "s.t", "--dry-run", "--json", "--min-input-files", "2",
                            "--where", "country = 'US'"))["plan"]  # fmt: skip
    assert plan["partitions_rewritten"] == 1
    assert [(r["reason"], r["partitions"]) for r in plan["left_alone"]] == [("outside-where", 3)]
    assert snapshot_count(local_lake, "s.t") == 3
