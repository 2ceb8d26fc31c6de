import os
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from conftest import cli_json, events, snapshot_count, write_jsonl

from lakehouse.errors import SnapshotNotFoundError
from lakehouse.io.paths import normalize
from lakehouse.io.storage import list_files, local_path
from lakehouse.ops.reach import reachable
from lakehouse.testing import LakeEnv, gc_orphans

SMALL = {"lake.compact.allow-any-target": "true"}


def _ingest(env: LakeEnv, tmp_path: Path, name: str, start: int, n: int = 40, mode: str = "append") -> None:
    env.lake.ingest(
        name, str(write_jsonl(tmp_path / f"{name}-{start}.jsonl", events(n, start=start))), mode=mode
    )


def _paths(env: LakeEnv, name: str) -> set[str]:
    return {f["path"] for f in env.lake.files(name)}


def _listing(env: LakeEnv, name: str) -> set[str]:
    return {normalize(f.path) for f in list_files(env.profile, env.lake.table(name).location())}


def _exists(env: LakeEnv, path: str) -> bool:
    return normalize(path) in _listing(env, "s.t")


def test_expire_deletes_unreachable_files_and_keeps_tagged_snapshots(any_lake: LakeEnv, run_cli, tmp_path):
    lake = any_lake.lake
    lake.create("s.t", "id long, ts timestamptz, country string, amount double, user_id long")
    _ingest(any_lake, tmp_path, "s.t", 0)
    first, first_files = lake.snapshot("s.t").snapshot_id, _paths(any_lake, "s.t")
    _ingest(any_lake, tmp_path, "s.t", 100, mode="overwrite")
    tagged, tagged_files = lake.snapshot("s.t").snapshot_id, _paths(any_lake, "s.t")
    lake.table("s.t").manage_snapshots().create_tag(tagged, "release-1").commit()
    _ingest(any_lake, tmp_path, "s.t", 200, mode="overwrite")
    _ingest(any_lake, tmp_path, "s.t", 300)
    current_files = _paths(any_lake, "s.t")
    dry = cli_json(run_cli(any_lake, "expire", "s.t", "--older-than", "0s", "--dry-run", "--json"))
    assert dry["dry_run"] and len(dry["snapshots"]) == 2 and dry["by_kind"]["data"]["files"] == 1
    assert dry["by_kind"]["manifest-list"]["files"] == 2 and dry["deleted_bytes"] > 0
    assert snapshot_count(any_lake, "s.t") == 4 and all(_exists(any_lake, p) for p in first_files)
    out = cli_json(run_cli(any_lake, "expire", "s.t", "--older-than", "0s", "--json"))
    assert [s["snapshot_id"] for s in out["snapshots"]][0] == str(first) and out["deleted_files"] >= 5
    assert snapshot_count(any_lake, "s.t") == 2
    assert not any(_exists(any_lake, p) for p in first_files)  # only the expired snapshot reached it
    assert all(_exists(any_lake, p) for p in tagged_files | current_files)
    tag_rows = lake.query("SELECT min(id) AS lo, count(*) AS n FROM s.t", {"s.t": "release-1"}).to_pylist()
    assert tag_rows == [{"lo": 100, "n": 40}]
    assert lake.query("SELECT count(*) AS n FROM s.t").to_pylist() == [{"n": 80}]
    assert str(first) in lake.table("s.t").properties["lake.expired-snapshot-ids"].split(",")
    with pytest.raises(SnapshotNotFoundError, match="was expired"):
        lake.read("s.t", snapshot_id=first)


def test_expire_default_window_keeps_recent_snapshots(local_lake: LakeEnv, run_cli, tmp_path):
    local_lake.lake.create("s.t", "id long, ts timestamptz, country string, amount double, user_id long")
    for start in (0, 100, 200):
        _ingest(local_lake, tmp_path, "s.t", start)
    out = cli_json(run_cli(local_lake, "expire", "s.t", "--json"))
    assert out["snapshots"] == [] and out["deleted_files"] == 0 and snapshot_count(local_lake, "s.t") == 3
    out = cli_json(run_cli(local_lake, "expire", "s.t", "--older-than", "0s", "--retain-last", "2", "--json"))
    assert len(out["snapshots"]) == 1 and snapshot_count(local_lake, "s.t") == 2
    res = run_cli(local_lake, "expire", "s.t", "--retain-last", "0")
    assert res.exit_code == 1 and "--retain-last must be at least 1" in res.stderr


def _history(env: LakeEnv, tmp_path: Path) -> list[int]:
    """Three snapshots of s.t: append 40, append 40, overwrite with 40; ids oldest first."""
    env.lake.create("s.t", "id long, ts timestamptz, country string, amount double, user_id long")
    ids = []
    for start, mode in ((0, "append"), (100, "append"), (200, "overwrite")):
        _ingest(env, tmp_path, "s.t", start, mode=mode)
        ids.append(env.lake.snapshot("s.t").snapshot_id)
    return ids


def _read_by_others(env: LakeEnv) -> tuple[int, int]:
    table = env.lake.table("s.t")
    with env.lake.engine(locked=False) as engine:
        found = engine.con.execute(
            f"SELECT count(*) FROM iceberg_scan('{table.metadata_location}')"
        ).fetchone()
    return table.scan().to_arrow().num_rows, found[0] if found else -1


def test_expire_removes_tags_past_their_retention_then_their_snapshots(any_lake: LakeEnv, run_cli, tmp_path):
    """`tag --retain N` was never honoured (issue 10, #14): expire removes a tag or branch whose
    snapshot is older than its max-ref-age-ms, as Iceberg does; the snapshot then expires as usual."""
    env = any_lake
    ids = _history(env, tmp_path)
    first_list = env.lake.table("s.t").snapshot_by_id(ids[0]).manifest_list
    for args in (["short", "--as-of", str(ids[0]), "--retain", "0.000001"],  # 86.4 ms
                 ["b-short", "--as-of", str(ids[0]), "--retain", "0.000001", "--branch"],
                 ["month", "--as-of", str(ids[1]), "--retain", "30"],
                 ["forever", "--as-of", str(ids[1])]):  # fmt: skip
        cli_json(run_cli(env, "tag", "s.t", *args, "--json"))
    time.sleep(0.1)
    refs_before = dict(env.lake.table("s.t").metadata.refs)

    dry = cli_json(run_cli(env, "expire", "s.t", "--dry-run", "--json"))  # default window: 5 days
    assert [(r["name"], r["type"], r["snapshot_id"]) for r in dry["refs_removed"]] == [
        ("b-short", "branch", str(ids[0])), ("short", "tag", str(ids[0]))
    ]  # fmt: skip
    assert dry["refs_removed"][1]["max_ref_age_ms"] == 86 and dry["snapshots"] == []
    assert dry["removed_refs"] == ["b-short", "short"]
    text = run_cli(env, "expire", "s.t", "--dry-run").stdout
    assert f"would remove tag short (snapshot {ids[0]}, committed " in text
    assert dict(env.lake.table("s.t").metadata.refs) == refs_before  # a dry run changes nothing

    out = cli_json(run_cli(env, "expire", "s.t", "--json"))
    assert (
        out["removed_refs"] == ["b-short", "short"] and out["snapshots"] == [] and out["deleted_files"] == 0
    )
    assert sorted(env.lake.table("s.t").metadata.refs) == ["forever", "main", "month"]
    assert snapshot_count(env, "s.t") == 3

    # without its tags, the first snapshot expires as any other; the tagged second one stays
    out = cli_json(run_cli(env, "expire", "s.t", "--older-than", "0s", "--json"))
    assert [s["snapshot_id"] for s in out["snapshots"]] == [str(ids[0])] and out["removed_refs"] == []
    assert [s.snapshot_id for s in env.lake.table("s.t").snapshots()] == ids[1:]
    assert not _exists(env, first_list)  # the files only it reached are deleted
    assert _read_by_others(env) == (40, 40)
    text = run_cli(env, "tags", "s.t").stdout
    assert "short" not in text and "forever" in text and "month" in text


@pytest.mark.parametrize("as_json", [True, False])
def test_expire_result_sizes_files_as_its_plan_did(local_lake: LakeEnv, run_cli, tmp_path, as_json: bool):
    """The result said 0 B for manifest lists the plan sized (issue 10, #24): one size computation."""
    _history(local_lake, tmp_path)
    args = ["expire", "s.t", "--older-than", "0s"]
    dry = cli_json(run_cli(local_lake, *args, "--dry-run", "--json"))
    assert dry["by_kind"]["manifest-list"]["bytes"] > 0
    if as_json:
        out = cli_json(run_cli(local_lake, *args, "--json"))
        assert out["deleted_by_kind"] == dry["by_kind"] == dry["deleted_by_kind"]
        assert (
            out["deleted_bytes"] == dry["bytes"] == dry["deleted_bytes"]
            and out["deleted_files"] == dry["files"]
        )
        return
    would = run_cli(local_lake, *args, "--dry-run").stdout.splitlines()
    did = run_cli(local_lake, *args).stdout.splitlines()
    assert [line.replace("would delete", "deleted") for line in would if line.startswith("would delete")] == [
        line for line in did if line.startswith("deleted ")
    ]
    kinds = [line for line in would if line.startswith("manifest-list\t")]
    assert kinds and kinds == [line for line in did if line.startswith("manifest-list\t")]


def test_gc_removes_old_orphans_keeps_fresh_ones_and_referenced_files(local_lake: LakeEnv, run_cli, tmp_path):
    local_lake.lake.create("s.t", "id long, ts timestamptz, country string, amount double, user_id long",
                           partition_by="day(ts)")  # fmt: skip
    _ingest(local_lake, tmp_path, "s.t", 0)
    data = Path(normalize(local_lake.lake.table("s.t").location())) / "data" / "ts_day=2026-06-01"
    old, fresh = data / "deadbeef-0.parquet", data / "cafef00d-0.parquet"  # a killed write's leftovers
    old.write_bytes(b"PAR1 partial")
    fresh.write_bytes(b"PAR1 in flight")
    four_days_ago = time.time() - 4 * 86400
    os.utime(old, (four_days_ago, four_days_ago))
    # referenced files are old as well: gc must never take them
    for f in local_lake.lake.files("s.t"):
        os.utime(normalize(f["path"]), (four_days_ago, four_days_ago))
    dry = cli_json(run_cli(local_lake, "gc", "s.t", "--dry-run", "--json"))
    assert [o["path"] for o in dry["orphans"]] == [str(old)] and old.exists()
    out = cli_json(run_cli(local_lake, "gc", "s.t", "--json"))
    assert out["deleted_files"] == 1 and out["kept_recent_orphans"] == 1
    assert not old.exists() and fresh.exists()
    assert local_lake.lake.query("SELECT count(*) AS n FROM s.t").to_pylist() == [{"n": 40}]


def test_gc_on_s3_uses_the_window(s3_lake: LakeEnv, run_cli, tmp_path):
    s3_lake.lake.create("s.t", "id long, ts timestamptz, country string, amount double, user_id long")
    _ingest(s3_lake, tmp_path, "s.t", 0)
    table = s3_lake.lake.table("s.t")
    orphan = table.location() + "/data/0123abcd-0.parquet"
    with table.io.new_output(orphan).create() as stream:
        stream.write(b"left behind by a killed ingest")
    out = cli_json(run_cli(s3_lake, "gc", "s.t", "--json"))
    assert out["deleted_files"] == 0 and out["kept_recent_orphans"] == 1 and _exists(s3_lake, orphan)
    out = cli_json(run_cli(s3_lake, "gc", "s.t", "--older-than", "0s", "--force", "--json"))
    assert out["deleted_files"] == 1 and not _exists(s3_lake, orphan)
    assert s3_lake.lake.query("SELECT count(*) AS n FROM s.t").to_pylist() == [{"n": 40}]


def test_after_expire_and_gc_the_location_holds_only_reachable_files(s3_lake: LakeEnv, run_cli, tmp_path):
    lake = s3_lake.lake
    lake.create("s.t", "id long, ts timestamptz, country string, amount double, user_id long",
                partition_by="day(ts)", properties=SMALL)  # fmt: skip
    for i in range(5):
        _ingest(s3_lake, tmp_path, "s.t", i * 100)
    pinned = lake.snapshot("s.t").snapshot_id
    lake.table("s.t").manage_snapshots().create_tag(pinned, "pin").commit()
    lake.compact("s.t", target_size="64KB")
    table = lake.table("s.t")
    with table.io.new_output(table.location() + "/data/ts_day=2026-06-01/feedface-0.parquet").create() as s:
        s.write(b"interrupted ingest")
    cli_json(run_cli(s3_lake, "expire", "s.t", "--older-than", "0s", "--json"))
    cli_json(run_cli(s3_lake, "gc", "s.t", "--older-than", "0s", "--force", "--json"))
    table = lake.table("s.t")
    known = set(reachable(table).files)
    listed = _listing(s3_lake, "s.t")
    assert listed <= known  # nothing unreachable is left
    live = {normalize(p) for p in _paths(s3_lake, "s.t")}
    assert live <= listed and normalize(table.metadata_location) in listed
    assert lake.query("SELECT count(*) AS n FROM s.t", {"s.t": "pin"}).to_pylist() == [{"n": 200}]
    assert lake.query("SELECT count(*) AS n FROM s.t").to_pylist() == [{"n": 200}]


def test_rewrite_manifests_merges_fast_append_manifests(local_lake: LakeEnv, run_cli, tmp_path):
    lake = local_lake.lake
    lake.create("s.m", "id long, ts timestamptz, country string, amount double, user_id long",
                properties={"commit.manifest-merge.enabled": "false"})  # fmt: skip
    for i in range(6):
        _ingest(local_lake, tmp_path, "s.m", i * 100, n=10)
    manifests = len(lake.table("s.m").current_snapshot().manifests(lake.table("s.m").io))
    assert manifests == 6
    dry = cli_json(run_cli(local_lake, "rewrite-manifests", "s.m", "--dry-run", "--json"))
    assert (
        dry["manifests_before"] == 6
        and dry["manifests_after"] == 1
        and snapshot_count(local_lake, "s.m") == 6
    )
    out = cli_json(run_cli(local_lake, "rewrite-manifests", "s.m", "--json"))
    assert out["manifests_after"] == 1 and out["snapshot_id"] is not None
    table = lake.table("s.m")
    assert table.current_snapshot().summary.operation.value == "replace"
    assert table.scan().to_arrow().num_rows == 60
    assert lake.query("SELECT count(*) AS n FROM s.m").to_pylist() == [{"n": 60}]
    again = run_cli(local_lake, "rewrite-manifests", "s.m")
    assert again.exit_code == 0 and "nothing to merge" in again.stdout


def test_maintain_asks_and_needs_yes_without_a_terminal(local_lake: LakeEnv, run_cli, tmp_path):
    lake = local_lake.lake
    lake.create("s.t", "id long, ts timestamptz, country string, amount double, user_id long",
                partition_by="day(ts)", properties={**SMALL, "write.target-file-size-bytes": str(64 * 1024)})  # fmt: skip
    for i in range(5):
        _ingest(local_lake, tmp_path, "s.t", i * 100)
    res = run_cli(local_lake, "maintain", "s.t")
    assert res.exit_code == 1 and "pass --yes" in res.stderr and "compact:" in res.stdout
    assert snapshot_count(local_lake, "s.t") == 5
    out = cli_json(run_cli(local_lake, "maintain", "s.t", "--yes", "--json"))
    assert out["compact"]["files_before"] == 15 and out["compact"]["files_after"] == 3
    assert out["expire"]["snapshots"] == [] and out["gc"]["deleted_files"] == 0
    assert lake.query("SELECT count(*) AS n FROM s.t").to_pylist() == [{"n": 200}]


def test_a_healthy_table_has_no_orphans_after_any_operation(any_lake: LakeEnv, tmp_path):
    """The conformance oracle `gc_orphans`: gc never takes a file some snapshot, tag or branch reaches."""
    lake = any_lake.lake
    lake.create("s.t", "id long, ts timestamptz, country string, amount double, user_id long",
                partition_by="day(ts)", properties=SMALL)  # fmt: skip
    steps: list[tuple[str, Any]] = [
        ("ingest", lambda: _ingest(any_lake, tmp_path, "s.t", 0)),
        ("append", lambda: _ingest(any_lake, tmp_path, "s.t", 100)),
        ("pyiceberg append", lambda: lake.table("s.t").append(lake.table("s.t").scan(limit=5).to_arrow())),
        ("tag", lambda: lake.table("s.t").manage_snapshots().create_tag(lake.snapshot("s.t").snapshot_id, "t1").commit()),
        ("compact", lambda: lake.compact("s.t", target_size="64KB")),
        ("rewrite-manifests", lambda: lake.rewrite_manifests("s.t")),
        ("overwrite", lambda: _ingest(any_lake, tmp_path, "s.t", 200, mode="overwrite")),
        ("expire", lambda: lake.expire("s.t", older_than="0s")),
        ("gc", lambda: lake.gc("s.t", older_than="0s", force=True)),
    ]  # fmt: skip
    for name, step in steps:
        step()
        assert gc_orphans(any_lake, "s.t") == [], name
    assert lake.query("SELECT count(*) AS n FROM s.t").to_pylist() == [{"n": 40}]
    assert lake.query("SELECT count(*) AS n FROM s.t", {"s.t": "t1"}).to_pylist() == [{"n": 85}]


def test_expire_deletes_the_files_of_a_spark_spelled_table(local_lake: LakeEnv, run_cli, tmp_path):
    """Metadata spelling every path `file:/...` (Spark): expiry deletes what it drops, keeps the rest."""
    from pyiceberg.schema import Schema
    from pyiceberg.types import LongType, NestedField

    catalog = local_lake.lake.catalog
    catalog.create_namespace_if_not_exists("spark")
    root = tmp_path / "warehouse" / "spark" / "t"
    table = catalog.create_table("spark.t", Schema(NestedField(1, "id", LongType())), location=f"file:{root}")
    for start in (0, 10, 20):
        table = catalog.load_table("spark.t")
        rows = pa.table({"id": pa.array(range(start, start + 10), pa.int64())})
        table.overwrite(rows) if start else table.append(rows)
    first = catalog.load_table("spark.t").snapshots()[0]
    doomed = first.manifest_list
    assert doomed.startswith("file:/") and not doomed.startswith("file://")
    out = cli_json(run_cli(local_lake, "expire", "spark.t", "--older-than", "0s", "--json"))
    assert len(out["snapshots"]) >= 2 and out["deleted_files"] > 0
    assert not local_path(doomed).exists()
    listed = {normalize(f.path) for f in list_files(local_lake.profile, f"file:{root}")}
    assert listed <= set(reachable(catalog.load_table("spark.t")).files)
    assert sorted(catalog.load_table("spark.t").scan().to_arrow()["id"].to_pylist()) == list(range(20, 30))


def test_a_tag_made_while_expire_commits_keeps_its_snapshot(local_lake: LakeEnv, run_cli, tmp_path):
    """Expire held right before its commit while `lake tag` names a snapshot it is removing: the
    catalog refuses the expiry (pyiceberg would drop the new tag with the snapshot), and the retry
    keeps the tagged snapshot, its files and the tag."""
    import subprocess
    import sys

    from test_concurrency import hook_env, wait_for

    env = local_lake
    ids = _history(env, tmp_path)
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    lake = str(Path(sys.executable).with_name("lake"))
    proc = subprocess.Popen(
        [lake, *env.cli_args(), "expire", "s.t", "--older-than", "0s", "--json"],
        env=hook_env(hooks, "before-commit"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    wait_for(hooks / "before-commit.reached", proc)
    cli_json(run_cli(env, "tag", "s.t", "keep", "--as-of", str(ids[0]), "--json"))
    (hooks / "before-commit.go").write_text("")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    table = env.lake.table("s.t")
    assert table.metadata.refs["keep"].snapshot_id == ids[0]
    assert [s.snapshot_id for s in table.snapshots()] == [ids[0], ids[2]]
    rows = env.lake.query("SELECT count(*) AS n FROM s.t", {"s.t": "keep"}).to_pylist()
    assert rows == [{"n": 40}]
    assert _read_by_others(env) == (40, 40)


def test_an_expire_plan_is_frozen_and_applied_as_planned(local_lake: LakeEnv, tmp_path):
    """Applying never re-plans: snapshots committed after the plan stay, and exactly the planned
    files go (those a reload no longer reaches)."""
    from dataclasses import FrozenInstanceError

    from lakehouse.ops.expire import apply_expire, plan_expire

    env = local_lake
    ids = _history(env, tmp_path)
    plan = plan_expire(env.profile, env.lake.table("s.t"), "s.t", "0s")
    assert plan.snapshot_ids == ids[:2]
    with pytest.raises(FrozenInstanceError):
        plan.retain_last = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        plan.files["x"] = ("data", 1)  # type: ignore[index]
    _ingest(env, tmp_path, "s.t", 300, mode="overwrite")  # after the plan: not in it, so it stays
    result = apply_expire(env.profile, lambda: env.lake.table("s.t"), plan)
    assert [s.snapshot_id for s in env.lake.table("s.t").snapshots()] == [
        ids[2],
        env.lake.snapshot("s.t").snapshot_id,
    ]
    assert result.deleted_files == len(plan.files) and result.deleted_bytes == plan.to_dict()["bytes"]
    assert not any(_exists(env, p) for p in plan.files)


def test_maintain_applies_the_manifest_step_it_previewed(local_lake: LakeEnv, tmp_path):
    """`maintain` used to plan the manifest rewrite again when applying: the preview did not say
    what ran. A plan that found nothing to merge merges nothing, even after an append meanwhile."""
    lake = local_lake.lake
    lake.create("s.t", "id long, ts timestamptz, country string, amount double, user_id long")
    _ingest(local_lake, tmp_path, "s.t", 0)
    preview = lake.maintain("s.t", dry_run=True)
    assert not preview.plan.manifests.needed
    _ingest(local_lake, tmp_path, "s.t", 100)  # a second manifest, after the preview
    result = lake.maintain("s.t", plan=preview.plan)
    assert result.manifests is not None and result.manifests.snapshot_id is None
    assert result.to_dict()["rewrite_manifests"] == {
        **preview.plan.manifests.to_dict(), "dry_run": False, "snapshot_id": None,
    }  # fmt: skip
    ops = [s.summary.get("lake.operation") for s in lake.table("s.t").snapshots() if s.summary]
    assert "rewrite-manifests" not in ops
