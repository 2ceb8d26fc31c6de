"""Pin files: a pin taken before later work (appends, an overwrite, a compaction, expiry of other
snapshots) still returns the same rows through the CLI, Python and examples/train.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import cli_json, events, fails_unchanged, snapshot_count, write_jsonl

import lakehouse
from lakehouse.errors import PinError
from lakehouse.testing import LakeEnv

ROOT = Path(__file__).resolve().parent.parent
TABLE = "gold.training"


def ingest(env: LakeEnv, root: Path, name: str, rows: list[dict], **kw: object) -> None:
    env.lake.ingest(TABLE, str(write_jsonl(root / f"{name}.jsonl", rows)), **kw)  # type: ignore[arg-type]


def sort(table: pa.Table) -> pa.Table:
    return table.sort_by([("id", "ascending")])


def train(env: LakeEnv, lock: Path) -> str:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "train.py"), "--pins", str(lock), "--target", "amount",
         "--config", str(env.config_path), "--profile", env.profile.name],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_pin_survives_appends_overwrite_compaction_and_expiry(
    s3_lake: LakeEnv, run_cli, tmp_path: Path
) -> None:
    lk = s3_lake.lake
    ingest(s3_lake, tmp_path, "a", events(60), create=True, partition_by="day(ts)")
    ingest(s3_lake, tmp_path, "b", events(30, start=60))
    before = sort(lk.read(TABLE))
    lock = tmp_path / "training.lock"
    out = cli_json(run_cli(s3_lake, "pin", TABLE, "--tag", "train-v1", "--output", str(lock), "--json"))
    pinned = int(out["tables"][0]["snapshot_id"])
    trained = train(s3_lake, lock)
    assert f"snapshot {TABLE} {pinned}\n" in trained and "rows 90\n" in trained

    # later work: an overwrite, two appends, a compaction, and expiry of other snapshots
    ingest(s3_lake, tmp_path, "d", events(15, start=300), mode="overwrite")
    ingest(s3_lake, tmp_path, "e", events(12, start=400))
    ingest(s3_lake, tmp_path, "f", events(12, start=500))
    compact = run_cli(
        s3_lake, "compact", TABLE, "--target-size", "128MB", "--min-input-files", "2", "--quiet", "--json"
    )
    assert compact.exit_code == 0, compact.output
    expire = run_cli(s3_lake, "expire", TABLE, "--older-than", "0s", "--retain-last", "1", "--json")
    assert expire.exit_code == 0, expire.output
    ops = [s["operation"] for s in lk.snapshots(TABLE)]
    assert (
        "replace"
        in lk.table(TABLE).metadata.snapshot_by_id(lk.snapshot(TABLE).snapshot_id).summary.operation.value
    )
    assert len(ops) == 2, ops  # only the tagged pin and the current snapshot survived expiry
    assert lk.read(TABLE).num_rows == 15 + 24

    # verify, then the same rows through Python (read, query, batches) and the CLI
    verified = run_cli(s3_lake, "pin", "--verify", str(lock))
    assert verified.exit_code == 0, verified.stderr
    assert "all 1 pinned snapshots match" in verified.stdout
    assert sort(lk.read(TABLE, pins=lock)).equals(before)
    assert sort(lk.query(f"SELECT * FROM {TABLE}", pins=str(lock))).equals(before)
    assert sort(pa.Table.from_batches(list(lk.batches(TABLE, pins=lock)))).equals(before)
    pins = lakehouse.load_pins(lock)
    assert sort(lk.read(TABLE, snapshot_id=pins.snapshot_ids()[TABLE])).equals(before)
    parquet = tmp_path / "out.parquet"
    sql = f"SELECT * FROM {TABLE}"
    result = run_cli(s3_lake, "query", sql, "--as-of", f"@{lock}", "--output", str(parquet))
    assert result.exit_code == 0, result.stderr
    assert sort(pq.read_table(parquet)).equals(before)
    assert train(s3_lake, lock) == trained  # the model is reproduced exactly


def test_lock_file_contents_and_tag(local_lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    lk = local_lake.lake
    ingest(local_lake, tmp_path, "a", events(20), create=True)
    first = lk.snapshot(TABLE).snapshot_id
    ingest(local_lake, tmp_path, "b", events(5, start=20))
    lk.ingest("gold.users", str(write_jsonl(tmp_path / "u.jsonl", [{"user_id": 1}])), create=True)
    lock = tmp_path / "training.lock"
    text = run_cli(
        local_lake, "pin", TABLE, "gold.users", "--as-of", f"{TABLE}={first}", "--tag", "t1", "-o", str(lock)
    ).stdout
    assert f"pinned {TABLE} at snapshot {first}" in text
    data = json.loads(lock.read_text())
    assert data["lake_pin_version"] == 1
    entry = data["tables"][0]
    assert entry["snapshot_id"] == str(first)  # a string: exact in every JSON reader
    assert entry["rows"] == 20 and entry["schema_id"] == 0 and entry["tag"] == "t1"
    assert entry["fingerprint"].startswith("sha256:") and len(entry["fingerprint"]) == 71
    assert entry["profile"] == local_lake.profile.name and entry["warehouse"] == local_lake.profile.warehouse
    assert entry["committed_at"].endswith("Z")
    assert data["tables"][1]["table"] == "gold.users"
    assert lk.table(TABLE).metadata.refs["t1"].snapshot_id == first
    pins = lakehouse.load_pins(lock)
    assert pins.snapshot_ids()[TABLE] == first
    assert lk.read(TABLE, as_of=f"@{lock}").num_rows == 20
    assert lk.describe(TABLE, f"@{lock}")["rows"] == 20
    report = cli_json(run_cli(local_lake, "pin", "--verify", str(lock), "--json"))
    assert report["ok"] and [t["ok"] for t in report["tables"]] == [True, True]


def fails(run_cli, env: LakeEnv, args: list[str], *needles: str) -> None:
    before = snapshot_count(env, TABLE)
    refs = dict(env.lake.table(TABLE).metadata.refs)
    result = run_cli(env, *args)
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("Error: "), result.stderr
    assert len([line for line in lines if line.startswith("Error")]) == 1
    for needle in needles:
        assert needle in lines[-1], lines[-1]
    assert snapshot_count(env, TABLE) == before
    assert dict(env.lake.table(TABLE).metadata.refs) == refs


def test_verify_failures_and_pin_errors(local_lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    lk = local_lake.lake
    ingest(local_lake, tmp_path, "a", events(20), create=True)
    lock = tmp_path / "training.lock"
    lk.pin(TABLE, lock)
    pinned = lakehouse.load_pins(lock).pins[0]
    original = json.loads(lock.read_text())

    def variant(name: str, **changes: object) -> Path:
        data = json.loads(json.dumps(original))
        data["tables"][0].update(changes)
        path = tmp_path / name
        path.write_text(json.dumps(data))
        return path

    fails(
        run_cli, local_lake, ["pin", "--verify", str(variant("fp.lock", fingerprint="sha256:00"))],
        f"{TABLE}@{pinned.snapshot_id} no longer matches its fingerprint",
    )  # fmt: skip
    fails(
        run_cli, local_lake, ["pin", "--verify", str(variant("wh.lock", warehouse="s3://elsewhere/wh", profile="prod"))],
        "was pinned in warehouse s3://elsewhere/wh (profile prod)", "pass --profile prod",
    )  # fmt: skip
    json_out = run_cli(local_lake, "pin", "--verify", str(tmp_path / "fp.lock"), "--json")
    assert json_out.exit_code == 1 and json.loads(json_out.stdout)["ok"] is False
    fails(run_cli, local_lake, ["pin", "--verify", str(tmp_path / "missing.lock")], "does not exist")
    (tmp_path / "bad.lock").write_text("{not json")
    fails(run_cli, local_lake, ["pin", "--verify", str(tmp_path / "bad.lock")], "is not valid JSON")
    fails(run_cli, local_lake, ["query", "SELECT * FROM gold.other", "--as-of", f"@{lock}"], "does not exist")

    # a tag that already names another snapshot: no tag moved, no lock file written
    ingest(local_lake, tmp_path, "b", events(5, start=20))
    lk.tag(TABLE, "taken", pinned.snapshot_id)
    fails(
        run_cli, local_lake, ["pin", TABLE, "--tag", "taken", "-o", str(tmp_path / "new.lock")],
        "already has a tag 'taken'",
    )  # fmt: skip
    assert not (tmp_path / "new.lock").exists()
    lk.tag(TABLE, "taken", delete=True)

    # a table the lock file does not pin is an error, not a silent read of the current snapshot
    lk.ingest("gold.users", str(write_jsonl(tmp_path / "u.jsonl", [{"user_id": 1}])), create=True)
    with pytest.raises(lakehouse.LakehouseError, match="gold.users is not pinned in"):
        lk.query(f"SELECT * FROM {TABLE} JOIN gold.users USING (user_id)", pins=lock)

    # a data file deleted behind the catalog's back
    victim = lk.files(TABLE, pinned.snapshot_id)[0]["path"]
    Path(victim.removeprefix("file://")).unlink()
    fails(run_cli, local_lake, ["pin", "--verify", str(lock)], "data files are gone from storage")

    # the pinned snapshot expired (no --tag protected it)
    run_cli(local_lake, "expire", TABLE, "--older-than", "0s", "--retain-last", "1")
    fails(
        run_cli,
        local_lake,
        ["pin", "--verify", str(lock)],
        f"snapshot {pinned.snapshot_id} of {TABLE} was expired",
    )
    with pytest.raises(PinError):
        lakehouse.load_pins(tmp_path / "bad.lock")


def test_pin_files_that_never_end_are_refused(local_lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    """`/dev/zero` (or a FIFO) as a lock file read until MemoryError: only regular files up to 16 MB."""
    ingest(local_lake, tmp_path, "a", events(5), create=True)
    sql = f"SELECT count(*) AS n FROM {TABLE}"
    fails_unchanged(
        run_cli,
        local_lake,
        TABLE,
        ["query", sql, "--pins", "/dev/zero"],
        "pin file /dev/zero is not a regular file",
    )
    fails_unchanged(
        run_cli,
        local_lake,
        TABLE,
        ["pin", "--verify", "/dev/zero"],
        "pin file /dev/zero is not a regular file",
    )
    fails_unchanged(
        run_cli,
        local_lake,
        TABLE,
        ["query", sql, "--as-of", "@/dev/zero"],
        "pin file /dev/zero is not a regular file",
    )
    big = tmp_path / "big.lock"
    with big.open("wb") as out:
        out.truncate(17 * 1024 * 1024)
    fails_unchanged(
        run_cli, local_lake, TABLE, ["pin", "--verify", str(big)], f"pin file {big} is larger than 16 MB"
    )
