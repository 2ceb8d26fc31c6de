"""Erasure that reaches history: after `lake erase`, no file reachable from the table's metadata and no
file left in its location holds an erased row, read with pyarrow and searched byte by byte."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import cli_json, write_jsonl

from lakehouse.testing import LakeEnv

TABLE = "crm.people"
EMAIL = "forget.me.please@example-erasure.test"
WHERE = f"email = '{EMAIL}'"


def rows(start: int, n: int, with_victim: bool) -> list[dict]:
    out = [{"id": i, "email": f"user{i}@ok.test", "amount": i * 1.5} for i in range(start, start + n)]
    if with_victim:
        out.append({"id": 10_000 + start, "email": EMAIL, "amount": 99.0})
    return out


def ingest(env: LakeEnv, root: Path, name: str, data: list[dict]) -> None:
    env.lake.ingest(TABLE, str(write_jsonl(root / f"{name}.jsonl", data)), create=True)


def location_files(env: LakeEnv) -> list[Path]:
    root = Path(env.lake.table(TABLE).location().removeprefix("file://"))
    return [p for p in root.rglob("*") if p.is_file()]


def assert_no_trace(env: LakeEnv) -> None:
    """Every file left in the table's location: Parquet read with pyarrow, every byte searched."""
    needle = EMAIL.encode()
    files = location_files(env)
    assert any(p.suffix == ".parquet" for p in files)
    for path in files:
        assert needle not in path.read_bytes(), f"{path} still holds the erased value"
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            if "email" in table.column_names:
                assert EMAIL not in table.column("email").to_pylist(), path
    # manifests: bounds of every entry (deleted ones too) of every manifest still on disk
    table = env.lake.table(TABLE)

    for snapshot in table.metadata.snapshots:
        for manifest in snapshot.manifests(table.io):
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=False):
                for bound in [*(entry.data_file.lower_bounds or {}).values(),
                              *(entry.data_file.upper_bounds or {}).values()]:  # fmt: skip
                    assert needle not in bytes(bound)


def current_emails(env: LakeEnv, ref: str | int | None = None) -> list[str]:
    snapshot = env.lake.snapshot(TABLE, ref)
    assert snapshot is not None
    scan = env.lake.table(TABLE).scan(snapshot_id=snapshot.snapshot_id)
    return scan.to_arrow().column("email").to_pylist()


def test_erase_reaches_tags_branches_pins_and_leaves_no_byte(
    local_lake: LakeEnv, run_cli, tmp_path: Path
) -> None:
    env = local_lake
    ingest(env, tmp_path, "a", rows(0, 50, True))
    env.lake.tag(TABLE, "q1")
    pin = tmp_path / "train.lock"
    env.lake.pin([TABLE], pin)
    ingest(env, tmp_path, "b", rows(100, 50, False))
    env.lake.tag(TABLE, "exp", branch=True)
    ingest(env, tmp_path, "c", rows(200, 50, True))
    before = {n: len(current_emails(env, n)) for n in ("q1", "exp")}
    assert EMAIL in current_emails(env, "q1") and EMAIL in current_emails(env, "exp")
    parquet = [pq.read_table(p) for p in location_files(env) if p.suffix == ".parquet"]
    assert sum(t.column("email").to_pylist().count(EMAIL) for t in parquet) == 2  # before: two files hold it

    preview = cli_json(run_cli(env, "erase", TABLE, "--where", WHERE, "--dry-run", "--json"))
    assert preview["dry_run"] and preview["matching_rows"] == 2
    assert {r["name"] for r in preview["refs"]} == {"main", "q1", "exp"}
    assert EMAIL not in json.dumps(preview)

    done = cli_json(run_cli(env, "erase", TABLE, "--where", WHERE, "--yes", "--json"))
    assert not done["dry_run"] and len(done["rewritten"]) == 3
    assert EMAIL not in json.dumps(done)

    for ref in (None, "q1", "exp"):
        emails = current_emails(env, ref)
        assert EMAIL not in emails
    assert len(current_emails(env, "q1")) == before["q1"] - 1
    assert len(current_emails(env, "exp")) == before["exp"] - 1
    assert len(current_emails(env)) == 150
    table = env.lake.table(TABLE)
    summary = table.current_snapshot().summary  # type: ignore[union-attr]
    assert (
        summary["lake.erased"].split()[1]
        == "sha256:" + __import__("hashlib").sha256(WHERE.encode()).hexdigest()
    )
    assert "lake.erased-at" in summary
    assert_no_trace(env)

    # the pin made before: verify fails naming the erasure, reading it gives the erased version
    verify = run_cli(env, "pin", "--verify", str(pin))
    assert verify.exit_code == 1
    assert "was rewritten by erasure " + done["erasure_id"] in verify.output
    with pytest.warns(UserWarning, match="rewritten by erasure"):
        got = env.lake.query(f"SELECT count(*) AS n FROM {TABLE}", as_of=f"@{pin}")
    assert got.column("n").to_pylist() == [50]


def test_erase_bad_predicate_is_one_line_and_changes_nothing(
    local_lake: LakeEnv, run_cli, tmp_path: Path
) -> None:
    env = local_lake
    ingest(env, tmp_path, "a", rows(0, 5, True))
    before = env.lake.table(TABLE).metadata_location
    result = run_cli(env, "erase", TABLE, "--where", "no_such_column = 1", "--yes")
    assert result.exit_code == 1 and result.output.startswith("Error: ") and "no_such_column" in result.output
    assert env.lake.table(TABLE).metadata_location == before
    result = run_cli(env, "erase", TABLE, "--where", "1 = (SELECT 1)", "--yes")
    assert result.exit_code == 1
