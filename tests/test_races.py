"""Races and operations that lost data (issue 10): gc taking a write in flight, `drop --purge` of
files other tables use, and two catalog names sharing one table location. Each through the CLI:
the message, the exit code, and the state of every table involved, judged by pyiceberg and DuckDB."""

from __future__ import annotations

from pathlib import Path

from conftest import one_line_error
from test_concurrency import wait_for
from test_crash import age, seeded, start, table_files

from lakehouse.testing import LakeEnv, gc_orphans


def rows(env: LakeEnv, name: str) -> tuple[int, int]:
    """(row count, sum of ids) by pyiceberg's own reader, checked against DuckDB's iceberg_scan."""
    table = env.lake.table(name)
    ids = table.scan().to_arrow().column("id").to_pylist()
    with env.lake.engine(locked=False) as engine:
        duck = engine.con.execute(
            f"SELECT count(*), coalesce(sum(id), 0) FROM iceberg_scan('{table.metadata_location}')"
        ).fetchone()
    assert duck == (len(ids), sum(ids))
    return len(ids), sum(ids)


# ------------------------------------------------------------------ 6: gc and a write in flight


def test_gc_refuses_a_short_window_without_force(local_lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    env = local_lake
    seeded(env, tmp_path)
    orphan = (
        Path(env.lake.table("bronze.events").location().removeprefix("file://")) / "data" / "stray.parquet"
    )
    orphan.write_bytes(b"x")
    age({str(orphan)}, 3600)
    before = table_files(env)
    for window in ("1s", "0s", "71h"):
        line = one_line_error(run_cli(env, "gc", "bronze.events", "--older-than", window))
        assert "below the 3d floor" in line and "--force" in line and "bronze.events" in line, line
        assert table_files(env) == before
    result = run_cli(env, "gc", "bronze.events", "--older-than", "1s", "--force", "--json")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("Warning: ") and "below the 3d floor" in result.stderr
    assert not orphan.exists() and table_files(env) == before - {str(orphan)}
    assert rows(env, "bronze.events") == (40, sum(range(40)))


def test_commit_refuses_when_gc_took_its_new_files(local_lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    """An ingest paused before its commit; `gc --force` deletes its files; the ingest then fails with
    one line naming a missing file, exit 1, and the table stays at its old snapshot and reads."""
    env = local_lake
    old_snapshot, new = seeded(env, tmp_path)
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    proc = start(env, hooks, "before-commit", "ingest", "bronze.events", str(new))
    try:
        wait_for(hooks / "before-commit.reached", proc)
        in_flight = table_files(env) - {
            f["path"].removeprefix("file://") for f in env.lake.files("bronze.events")
        }
        in_flight = {p for p in in_flight if "/data/" in p}
        assert in_flight
        age(in_flight, 60)
        gc = run_cli(env, "gc", "bronze.events", "--older-than", "1s")  # refused: no --force
        assert "below the 3d floor" in one_line_error(gc) and all(Path(p).exists() for p in in_flight)
        gc = run_cli(env, "gc", "bronze.events", "--older-than", "1s", "--force", "--json")
        assert gc.exit_code == 0 and gc.stderr.startswith("Warning: ")
        assert not any(Path(p).exists() for p in in_flight)
        (hooks / "before-commit.go").touch()
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines = err.decode().strip().splitlines()
    assert proc.returncode == 1, err.decode()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "is gone" in lines[0], lines
    assert any(Path(p).name in lines[0] for p in in_flight), lines[0]
    assert out == b""
    assert env.lake.table("bronze.events").current_snapshot().snapshot_id == old_snapshot
    assert rows(env, "bronze.events") == (40, sum(range(40)))
    # what the failed commit left (its manifests) is an orphan for a later gc, and the table still reads
    assert run_cli(env, "gc", "bronze.events", "--older-than", "0s", "--force").exit_code == 0
    assert gc_orphans(env, "bronze.events") == [] and rows(env, "bronze.events") == (40, sum(range(40)))
