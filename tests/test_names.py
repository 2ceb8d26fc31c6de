"""Table names are case-insensitive (as in Spark, Trino and Hive), and undoing a failed `--create`
never drops a table another writer filled."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from conftest import events, one_line_error, write_jsonl

from lakehouse.testing import LakeEnv

LAKE = str(Path(sys.executable).with_name("lake"))


def test_a_table_differing_only_in_case_is_refused(local_lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "e.jsonl", events(5))
    assert run_cli(local_lake, "ingest", "s.t", str(src), "--create").exit_code == 0
    line = one_line_error(run_cli(local_lake, "create", "s.T", "--schema", "id long"))
    assert "s.t" in line and "case-insensitive" in line
    line = one_line_error(run_cli(local_lake, "ingest", "S.t", str(src), "--create", "--partition-by", "id"))
    assert local_lake.lake.tables() == ["s.t"]
    # any spelling reads the one table
    assert local_lake.lake.query("SELECT count(*) AS n FROM S.T")["n"][0].as_py() == 5
    assert run_cli(local_lake, "describe", "s.T", "--json").exit_code == 0


def test_legacy_case_twins_are_read_apart(local_lake: LakeEnv, tmp_path: Path) -> None:
    """Tables made by other tools may differ only in case: each name reads its own table."""
    from pyiceberg.schema import Schema
    from pyiceberg.types import LongType, NestedField

    src = write_jsonl(tmp_path / "e.jsonl", events(5))
    local_lake.lake.ingest("s.t", str(src), create=True)
    local_lake.lake.catalog.create_table("s.T", Schema(NestedField(1, "id", LongType(), required=False)))
    both = local_lake.lake.query("SELECT (SELECT count(*) FROM s.t) AS a, (SELECT count(*) FROM s.T) AS b")
    assert both.to_pylist() == [{"a": 5, "b": 0}]


def test_failed_create_keeps_a_table_another_writer_filled(local_lake: LakeEnv, tmp_path: Path) -> None:
    """Process A creates s.t and stops before writing; B appends 7 rows; A's ingest then fails (its
    source is bad). A must not drop s.t with B's rows."""
    bad = tmp_path / "bad.csv"  # the sniffer's sample says BIGINT; the last row is not
    bad.write_text("id\n" + "".join(f"{i}\n" for i in range(200_000)) + "not-a-number\n")
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    env = {**os.environ, "LAKE_TEST_HOOK": "before-write", "LAKE_TEST_HOOK_DIR": str(hooks)}
    a = subprocess.Popen(
        [LAKE, *local_lake.cli_args(), "ingest", "s.t", str(bad), "--create", "--format", "csv"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
    )  # fmt: skip
    deadline = time.time() + 60
    while not (hooks / "before-write.reached").exists():
        assert a.poll() is None and time.time() < deadline, a.stderr.read() if a.stderr else ""
        time.sleep(0.05)
    local_lake.lake.ingest("s.t", str(write_jsonl(tmp_path / "b.jsonl", [{"id": i} for i in range(7)])))
    (hooks / "before-write.go").write_text("")
    _, err = a.communicate(timeout=120)
    assert a.returncode == 1 and err.decode().startswith("Error:"), err
    assert local_lake.lake.tables() == ["s.t"]
    assert local_lake.lake.query("SELECT count(*) AS n FROM s.t")["n"][0].as_py() == 7
