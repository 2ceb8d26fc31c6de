"""`lake provenance` of a table several ingests filled: every ingest still live, with its sources
(issue 14: only the latest ingest's sources were shown)."""

from pathlib import Path

from conftest import cli_json, events, write_jsonl

from lakehouse.testing import LakeEnv


def _ingests(env: LakeEnv, tmp_path: Path, run_cli, names: list[str], *extra: str) -> list[int]:
    ids = []
    for i, name in enumerate(names):
        src = write_jsonl(tmp_path / f"{name}.jsonl", events(20, start=i * 20))
        ids.append(int(cli_json(run_cli(env, "ingest", "b.ev", str(src), "--json", *extra))["snapshot_id"]))
    return ids


def test_every_live_ingest_is_listed_with_its_sources(local_lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    local_lake.lake.create("b.ev", "id long, ts timestamptz, country string, amount double, user_id long",
                           partition_by="country")  # fmt: skip
    ids = _ingests(local_lake, tmp_path, run_cli, ["a", "b", "c"])
    node = cli_json(run_cli(local_lake, "provenance", "b.ev", "--json"))
    groups = node["ingests"]
    assert [int(g["snapshot_id"]) for g in groups] == ids
    assert [Path(g["sources"]).name for g in groups] == ["a.jsonl", "b.jsonl", "c.jsonl"]
    assert [g["live_rows"] for g in groups] == [20, 20, 20] and all(g["live_files"] == 4 for g in groups)
    assert sum(g["live_files"] for g in groups) == len(local_lake.lake.files("b.ev"))  # the state agrees
    text = run_cli(local_lake, "provenance", "b.ev")
    assert text.exit_code == 0 and "rows from 3 ingests" in text.stdout
    for sid, name in zip(ids, "abc", strict=True):
        assert f"ingest @ {sid} (ingest-append" in text.stdout and f"{name}.jsonl" in text.stdout
    # at the first snapshot only the first ingest is live
    first = cli_json(run_cli(local_lake, "provenance", "b.ev", "--as-of", str(ids[0]), "--json"))
    assert [int(g["snapshot_id"]) for g in first["ingests"]] == ids[:1]


def test_compaction_keeps_the_ingests_and_an_overwrite_ends_them(
    local_lake: LakeEnv, run_cli, tmp_path
) -> None:
    local_lake.lake.create("b.ev", "id long, ts timestamptz, country string, amount double, user_id long",
                           partition_by="country")  # fmt: skip
    ids = _ingests(local_lake, tmp_path, run_cli, ["a", "b", "c"])
    done = cli_json(run_cli(local_lake, "compact", "b.ev", "--min-input-files", "2", "--json"))
    compacted = int(local_lake.lake.table("b.ev").current_snapshot().snapshot_id)
    assert done["files_after"] < done["files_before"]
    groups = cli_json(run_cli(local_lake, "provenance", "b.ev", "--json"))["ingests"]
    assert [int(g["snapshot_id"]) for g in groups] == ids
    assert all([int(s) for s in g["compacted_into"]] == [compacted] for g in groups)
    assert sum(g["live_files"] for g in groups) == 0  # every live file is the compaction's
    assert "compacted into" in run_cli(local_lake, "provenance", "b.ev").stdout
    (over,) = _ingests(local_lake, tmp_path, run_cli, ["d"], "--mode", "overwrite")
    groups = cli_json(run_cli(local_lake, "provenance", "b.ev", "--json"))["ingests"]
    assert [int(g["snapshot_id"]) for g in groups] == [over] and groups[0]["live_rows"] == 20
