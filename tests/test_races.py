"""Races and operations that lost data (issue 10): gc taking a write in flight, `drop --purge` of
files other tables use, and two catalog names sharing one table location. Each through the CLI:
the message, the exit code, and the state of every table involved, judged by pyiceberg and DuckDB."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from conftest import cli_json, events, one_line_error, write_jsonl
from test_concurrency import wait_for
from test_crash import age, seeded, start, table_files

from lakehouse.testing import LakeEnv, gc_orphans, make_lake_env


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
        # 30s, not 1s: only the aged data files go. On a loaded machine (or under xdist) the ingest's own
        # manifest list may be older than 1 s by now, and the error then named it instead of a data file.
        gc = run_cli(env, "gc", "bronze.events", "--older-than", "30s")  # refused: no --force
        assert "below the 3d floor" in one_line_error(gc) and all(Path(p).exists() for p in in_flight)
        gc = run_cli(env, "gc", "bronze.events", "--older-than", "30s", "--force", "--json")
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


# ------------------------------------------------------------------ 8: drop --purge and shared files


def test_purge_keeps_files_outside_the_table_location(local_lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    """`s.b` references a file of `s.a` and a loose Parquet file (pyiceberg `add_files`): purging
    `s.b` deletes its own files only, lists the two others as kept, and `s.a` still reads."""
    env = local_lake
    env.lake.ingest("s.a", str(write_jsonl(tmp_path / "a.jsonl", events(20))), create=True)
    env.lake.ingest("s.b", str(write_jsonl(tmp_path / "b.jsonl", events(10, start=100))), create=True)
    loose = tmp_path / "loose" / "x.parquet"
    loose.parent.mkdir()
    pq.write_table(env.lake.table("s.b").scan().to_arrow().slice(0, 3), loose)
    a_file = env.lake.files("s.a")[0]["path"]
    env.lake.table("s.b").add_files([a_file, f"file://{loose}"])
    assert rows(env, "s.b")[0] == 10 + 20 + 3
    b_location = env.lake.table("s.b").location()
    own = {p for p in table_files(env, "s.b")}
    a_before = table_files(env, "s.a")

    dry = cli_json(run_cli(env, "drop", "s.b", "--purge", "--dry-run", "--json"))
    assert sorted(dry["kept_outside_location"]) == sorted([a_file, f"file://{loose}"])
    assert dry["dry_run"] is True and env.lake.tables() == ["s.a", "s.b"] and table_files(env, "s.b") == own

    result = run_cli(env, "drop", "s.b", "--purge", "--yes")
    assert result.exit_code == 0, result.output
    assert "kept 2 files" in result.stdout and a_file in result.stdout and str(loose) in result.stdout
    assert env.lake.tables() == ["s.a"]
    assert not any(Path(p).exists() for p in own if "/metadata/" in p or "/data/" in p)
    assert Path(b_location.removeprefix("file://")).exists() is False or not any(
        Path(b_location.removeprefix("file://")).rglob("*.parquet")
    )
    assert loose.exists() and table_files(env, "s.a") == a_before
    assert rows(env, "s.a") == (20, sum(range(20)))
    assert gc_orphans(env, "s.a") == []


# ------------------------------------------------------------------ 9: two profiles, one catalog database


def twins(env: LakeEnv, tmp_path: Path) -> tuple[LakeEnv, LakeEnv]:
    """Two profiles, `alpha` and `beta`, on the same catalog database and warehouse as `env`."""
    props = dict(env.profile.properties)
    return (
        make_lake_env(tmp_path / "alpha", props, name="alpha"),
        make_lake_env(tmp_path / "beta", props, name="beta"),
    )


def test_a_location_another_catalog_name_uses_is_refused(any_lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    env, other = twins(any_lake, tmp_path)
    src = write_jsonl(tmp_path / "t.jsonl", events(20))
    assert run_cli(env, "ingest", "s.t", str(src), "--create", "-q").exit_code == 0
    line = one_line_error(run_cli(other, "create", "s.t", "--schema", "id long"))
    assert "cannot create s.t" in line and "table s.t of catalog 'alpha'" in line, line
    line = one_line_error(run_cli(other, "ingest", "s.t", str(src), "--create", "-q"))
    assert "table s.t of catalog 'alpha'" in line, line
    assert other.lake.tables() == [] and env.lake.tables() == ["s.t"]
    assert rows(env, "s.t") == (20, sum(range(20)))
    assert gc_orphans(env, "s.t") == []


def test_gc_and_purge_keep_what_another_catalog_name_reaches(
    any_lake: LakeEnv, run_cli, tmp_path: Path
) -> None:
    """Twins made before the check (straight through pyiceberg): expire and gc of either, with a 0s
    window, delete nothing the other reaches (gc names it); a purge of one leaves the other readable."""
    env, other = twins(any_lake, tmp_path)
    env.lake.ingest("s.t", str(write_jsonl(tmp_path / "a.jsonl", events(20))), create=True)
    schema = env.lake.table("s.t").schema()
    other.lake.catalog.create_namespace("s")
    other.lake.catalog.create_table("s.t", schema=schema)
    other.lake.table("s.t").append(env.lake.table("s.t").scan().to_arrow().slice(0, 5))
    assert env.lake.table("s.t").location() == other.lake.table("s.t").location()
    # expiry's sweep of old metadata files spares the twin's (its current one included)
    env.lake.ingest("s.t", str(write_jsonl(tmp_path / "b.jsonl", events(5, start=20))))
    out = cli_json(run_cli(env, "expire", "s.t", "--older-than", "0s", "--json"))
    assert len(out["snapshots"]) == 1 and rows(other, "s.t") == (5, sum(range(5)))
    assert rows(env, "s.t") == (25, sum(range(25)))
    for lake, spelled, name in ((env, "S.T", "beta"), (other, "s.t", "alpha")):  # names: any case
        out = cli_json(run_cli(lake, "gc", spelled, "--older-than", "0s", "--force", "--json"))
        assert out["shared_with"] == [f"table s.t of catalog {name!r}"]
        assert out["deleted_files"] == 0, out["orphans"]
        assert rows(env, "s.t") == (25, sum(range(25))) and rows(other, "s.t") == (5, sum(range(5)))

    text = run_cli(env, "gc", "s.t", "--older-than", "0s", "--force").stdout
    assert "kept every file of table s.t of catalog 'beta'" in text, text
    result = run_cli(other, "drop", "s.t", "--purge", "--yes", "--json")
    assert result.exit_code == 0, result.output
    assert other.lake.tables() == [] and rows(env, "s.t") == (25, sum(range(25)))
    assert gc_orphans(env, "s.t") == []  # the purge took beta's own files, none of alpha's
    out = cli_json(run_cli(env, "gc", "s.t", "--older-than", "0s", "--force", "--json"))
    assert out["shared_with"] == [] and out["deleted_files"] == 0
    assert rows(env, "s.t") == (25, sum(range(25)))
