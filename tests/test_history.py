"""`lake snapshots`, `lake tag/tags` and `lake rollback`, through the CLI, checked through the library."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from conftest import (
    HISTORY_TABLE,
    build_history,
    cli_json,
    events,
    fails_unchanged,
    snapshot_count,
    write_jsonl,
)
from test_concurrency import held, release

from lakehouse.testing import LakeEnv, local_properties, make_lake_env, write_config

TABLE = HISTORY_TABLE


@pytest.fixture
def history(local_lake: LakeEnv, tmp_path: Path) -> tuple[LakeEnv, list[int]]:
    return local_lake, build_history(local_lake, tmp_path)


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> tuple[LakeEnv, list[int]]:
    """A history that tests only read (or whose changes they undo)."""
    root = tmp_path_factory.mktemp("shared-history")
    env = make_lake_env(root, local_properties(root))
    return env, build_history(env, root)


def test_snapshots_lists_every_commit_with_counts_and_refs(shared, run_cli) -> None:
    env, ids = shared
    env.lake.tag(TABLE, "first", ids[0])
    try:
        rows = cli_json(run_cli(env, "snapshots", TABLE, "--json"))
    finally:
        env.lake.tag(TABLE, "first", delete=True)
    assert [r["snapshot_id"] for r in rows] == [str(i) for i in ids]  # strings: jq keeps every digit
    assert [r["parent_id"] for r in rows] == [None, str(ids[0]), str(ids[1])]
    assert [r["operation"] for r in rows] == ["append", "append", "overwrite"]
    assert [r["added_rows"] for r in rows] == [40, 20, 10]
    assert [r["deleted_rows"] for r in rows] == [0, 0, 60]
    assert [r["total_rows"] for r in rows] == [40, 60, 10]
    assert rows[0]["added_files"] == 3 and rows[2]["deleted_files"] == 6
    assert [r["refs"] for r in rows] == [["first"], [], ["main"]]
    assert all(r["committed_at"].endswith("Z") for r in rows)
    text = run_cli(env, "snapshots", TABLE).stdout  # piped: tab-separated with a header
    header, *lines = text.strip().splitlines()
    assert header.split("\t")[:4] == ["snapshot_id", "parent_id", "committed_at", "published_at"]
    assert [line.split("\t")[0] for line in lines] == [str(i) for i in ids]


def test_tag_branch_list_read_and_delete(shared, run_cli) -> None:
    env, ids = shared
    out = cli_json(run_cli(env, "tag", TABLE, "v1", "--as-of", str(ids[0]), "--retain", "30", "--json"))
    assert out["snapshot_id"] == str(ids[0]) and out["type"] == "tag" and out["retain_days"] == 30
    text = run_cli(env, "tag", TABLE, "dev", "--branch").stdout
    assert f"tagged {TABLE} snapshot {ids[2]} as branch dev" in text
    listed = cli_json(run_cli(env, "tags", TABLE, "--json"))
    assert {(t["name"], t["type"], t["snapshot_id"]) for t in listed} == {
        ("main", "branch", str(ids[2])),
        ("dev", "branch", str(ids[2])),
        ("v1", "tag", str(ids[0])),
    }
    assert env.lake.read(TABLE, as_of="v1").num_rows == 40
    assert env.lake.read(TABLE, as_of="dev").num_rows == 10
    for name in ("v1", "dev"):
        result = run_cli(env, "tag", TABLE, name, "--delete")
        assert result.exit_code == 0 and result.stdout.startswith("deleted ")
    assert set(env.lake.table(TABLE).metadata.refs) == {"main"}
    assert snapshot_count(env, TABLE) == 3


def test_tag_errors_change_nothing(shared, run_cli) -> None:
    env, ids = shared
    env.lake.tag(TABLE, "v1", ids[0])
    try:
        fails_unchanged(
            run_cli, env, TABLE, ["tag", TABLE, "v1"],
            f"{TABLE} already has a tag 'v1' at snapshot {ids[0]}; delete it first",
        )  # fmt: skip
        fails_unchanged(
            run_cli,
            env,
            TABLE,
            ["tag", TABLE, "nope", "--delete"],
            "has no tag or branch 'nope'",
            ": main, v1",
        )
        fails_unchanged(run_cli, env, TABLE, ["tag", TABLE, "main"], "'main' is")
        fails_unchanged(run_cli, env, TABLE, ["tag", TABLE, "main", "--delete"], "cannot delete")
        for bad in ("123", "2026-01-15", "@x.lock", "a b"):
            fails_unchanged(run_cli, env, TABLE, ["tag", TABLE, bad], f"invalid tag name {bad!r}")
        fails_unchanged(
            run_cli, env, TABLE, ["tag", TABLE, "v9", "--as-of", "42"], "snapshot 42 does not exist"
        )
        fails_unchanged(
            run_cli, env, TABLE, ["tag", TABLE, "v9", "--retain", "0"], "--retain must be a positive"
        )
    finally:
        env.lake.tag(TABLE, "v1", delete=True)


def sorted_rows(table: pa.Table) -> pa.Table:
    return table.sort_by([("id", "ascending")])


def test_rollback_dry_run_then_new_snapshot_that_deletes_nothing(history, run_cli) -> None:
    env, ids = history
    lk = env.lake
    target = sorted_rows(lk.read(TABLE, snapshot_id=ids[1]))
    files_before = {f["path"] for sid in ids for f in lk.files(TABLE, sid)}

    dry = cli_json(run_cli(env, "rollback", TABLE, "--to", str(ids[1]), "--dry-run", "--json"))
    assert dry["dry_run"] and dry["rows_now"] == 10 and dry["rows_after"] == 60
    assert len(dry["files_to_restore"]) == 6 and len(dry["files_to_unlink"]) == 3
    assert snapshot_count(env, TABLE) == 3
    text = run_cli(env, "rollback", TABLE, "--to", str(ids[1]), "--dry-run").stdout
    assert text.startswith(f"would roll {TABLE} back to snapshot {ids[1]}")

    done = cli_json(run_cli(env, "rollback", TABLE, "--to", str(ids[1]), "--json"))
    new_id = int(done["snapshot_id"])
    rows = lk.snapshots(TABLE)
    assert [r["snapshot_id"] for r in rows] == [*ids, new_id]  # a new commit; history kept
    assert rows[-1]["parent_id"] == ids[2] and rows[-1]["rollback_to"] == ids[1]
    assert sorted_rows(lk.read(TABLE)).equals(target)
    assert lk.read(TABLE, snapshot_id=ids[2]).num_rows == 10  # later snapshots stay readable
    for path in files_before:  # nothing deleted from storage
        assert Path(path.removeprefix("file://")).exists(), path

    # rolling forward is another rollback; rolling to the current data is a no-op
    run_cli(env, "rollback", TABLE, "--to", str(ids[2]))
    assert lk.read(TABLE).num_rows == 10
    noop = run_cli(env, "rollback", TABLE, "--to", str(ids[2]))
    assert "nothing to do" in noop.stdout
    assert snapshot_count(env, TABLE) == 5


def test_rollback_errors_change_nothing(shared, run_cli) -> None:
    env, ids = shared
    fails_unchanged(
        run_cli, env, TABLE, ["rollback", TABLE, "--to", "42"], f"its current snapshot is {ids[-1]}"
    )
    fails_unchanged(run_cli, env, TABLE, ["rollback", TABLE, "--to", "nope"], "has no tag or branch 'nope'")
    fails_unchanged(
        run_cli, env, TABLE, ["rollback", TABLE, "--to", "2001-01-01"], "the earliest available commit"
    )
    result = run_cli(env, "rollback", "silver.nope", "--to", "1")
    assert result.exit_code == 1 and "table silver.nope does not exist" in result.stderr


@pytest.mark.parametrize("days", ["nan", "inf", "1e308", "-1", "36601"])
def test_tag_retain_out_of_range_is_one_line(local_lake: LakeEnv, run_cli, tmp_path: Path, days: str) -> None:
    """`--retain nan|inf|1e308` gave a raw ValueError or OverflowError; no tag is made."""
    build_history(local_lake, tmp_path)
    line = fails_unchanged(
        run_cli,
        local_lake,
        TABLE,
        ["tag", TABLE, "v9", f"--retain={days}"],
        "--retain must be a positive number",
    )
    assert "at most 36600" in line


# ---------------------------------------------------------------- rollback racing expire (issue 10, #5)

LAKE = str(Path(sys.executable).with_name("lake"))


def _read_by_others(env: LakeEnv) -> tuple[int, int]:
    """Rows of the current snapshot as pyiceberg and DuckDB's own iceberg_scan read them."""
    table = env.lake.table(TABLE)
    with env.lake.engine(locked=False) as engine:
        scanned = engine.con.execute(
            f"SELECT count(*) FROM iceberg_scan('{table.metadata_location}')"
        ).fetchone()
    return table.scan().to_arrow().num_rows, scanned[0] if scanned else -1


def _race(env: LakeEnv, tmp_path: Path, ids: list[int], expire_phase: str) -> tuple[int, str, int, str]:
    """`lake rollback --to ids[0]` held right before its commit while `lake expire` (which expires
    ids[0] and deletes its files) runs to `expire_phase` or to the end; then the rollback goes on."""
    rollback = held(env, tmp_path / "rb", "before-commit", "rollback", TABLE, "--to", str(ids[0]))
    expire_args = ["expire", TABLE, "--older-than", "0s", "--retain-last", "1", "--json"]
    if expire_phase == "end":
        expired = subprocess.run([LAKE, *env.cli_args(), *expire_args], capture_output=True, timeout=120)
        rc_rb, err_rb = release(rollback, tmp_path / "rb", "before-commit")
        return rc_rb, err_rb, expired.returncode, expired.stderr.decode()
    expire = held(env, tmp_path / "ex", expire_phase, *expire_args)
    rc_rb, err_rb = release(rollback, tmp_path / "rb", "before-commit")
    rc_ex, err_ex = release(expire, tmp_path / "ex", expire_phase)
    return rc_rb, err_rb, rc_ex, err_ex


def test_rollback_fails_when_expire_committed_first(any_lake: LakeEnv, tmp_path: Path) -> None:
    """Expire has committed (ids[0] is gone) but not yet deleted when the held rollback commits: the
    catalog refuses the rollback, which says why; expire then deletes, and the table still reads."""
    env = any_lake
    ids = build_history(env, tmp_path)
    rc_rb, err_rb, rc_ex, err_ex = _race(env, tmp_path, ids, "after-commit")
    assert rc_ex == 0, err_ex
    assert rc_rb == 1, err_rb
    lines = err_rb.strip().splitlines()
    assert lines == [
        f"Error: {TABLE}: snapshot {ids[0]} was expired while rolling back; nothing was committed"
    ], err_rb
    table = env.lake.table(TABLE)
    assert [s.snapshot_id for s in table.snapshots()] == [ids[2]]
    assert dict(table.metadata.refs)["main"].snapshot_id == ids[2]
    assert _read_by_others(env) == (10, 10)


def test_rollback_fails_when_expire_deleted_its_files(any_lake: LakeEnv, tmp_path: Path) -> None:
    """Expire ran to the end while the rollback was held: no snapshot that names deleted files is
    committed (today it is, with exit 0, and the table no longer reads)."""
    env = any_lake
    ids = build_history(env, tmp_path)
    rc_rb, err_rb, rc_ex, err_ex = _race(env, tmp_path, ids, "end")
    assert rc_ex == 0, err_ex
    assert rc_rb == 1, err_rb
    lines = err_rb.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and TABLE in lines[0], err_rb
    assert lines[0].endswith("nothing was committed"), err_rb
    table = env.lake.table(TABLE)
    assert [s.snapshot_id for s in table.snapshots()] == [ids[2]]
    assert _read_by_others(env) == (10, 10)


def test_rollback_that_commits_first_keeps_its_files_through_expire(
    local_lake: LakeEnv, tmp_path: Path
) -> None:
    """Expire held before its commit while the rollback commits: expire's deletion is decided after
    its commit, so the relinked files stay, and the rolled-back table reads its 40 rows."""
    env = local_lake
    ids = build_history(env, tmp_path)
    expire = held(
        env, tmp_path / "ex", "before-commit", "expire", TABLE, "--older-than", "0s", "--retain-last", "1"
    )
    rolled = subprocess.run(
        [LAKE, *env.cli_args(), "rollback", TABLE, "--to", str(ids[0])], capture_output=True, timeout=120
    )
    assert rolled.returncode == 0, rolled.stderr.decode()
    rc_ex, err_ex = release(expire, tmp_path / "ex", "before-commit")
    assert rc_ex == 0, err_ex
    table = env.lake.table(TABLE)
    assert ids[0] not in [s.snapshot_id for s in table.snapshots()]
    assert _read_by_others(env) == (40, 40)


# ---------------------------------------------------------------- rollback's commit policy (issue 11, #6)


def test_rollback_retries_as_the_profile_says_not_the_table(
    local_lake: LakeEnv, tmp_path: Path, run_cli
) -> None:
    """Rollback took `lake.commit.*` from table properties, unlike every other commit. Now a table
    property does not touch it (this one made rollback fail), and the profile's attempts govern it."""
    env = local_lake
    ids = build_history(env, tmp_path)
    with env.lake.table(TABLE).transaction() as tx:  # behind lake's back: `lake create` refuses it
        # pyiceberg's own in-transaction retry off, so a lost race reaches lake's retry loop
        tx.set_properties({"lake.commit.attempts": "abc", "commit.retry.num-retries": "0"})
    done = cli_json(run_cli(env, "rollback", TABLE, "--to", str(ids[1]), "--json"))
    assert str(env.lake.snapshots(TABLE)[-1]["snapshot_id"]) == done["snapshot_id"]

    # `lake.commit.attempts: 1` in the profile: a rollback that loses its commit race is not retried
    # (a retry would say that the table changed while planning).
    props = {**env.profile.properties, "lake.commit.attempts": "1"}
    once = LakeEnv(env.lake, env.profile, write_config(tmp_path / "one", env.profile.name, props), env.root)
    waiting = held(once, tmp_path / "rb", "before-commit", "rollback", TABLE, "--to", str(ids[0]))
    env.lake.ingest(TABLE, str(write_jsonl(tmp_path / "d.jsonl", events(5, start=200))))
    rc, err = release(waiting, tmp_path / "rb", "before-commit")
    assert rc == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: rollback of {TABLE} failed after 1 attempts"), err
    assert env.lake.read(TABLE).num_rows == 65  # the rollback to ids[1] (60 rows), then the ingest


def test_rollback_does_not_land_on_a_concurrent_ingest(any_lake: LakeEnv, tmp_path: Path) -> None:
    """A rollback held just before its commit while an ingest commits: pyiceberg's own retry rebuilt the
    rollback on the ingest's snapshot, skipping lake's check that the table is where the plan saw it,
    and the table ended with the target's 40 rows plus the ingest's 5. Now lake's retry re-stages, sees
    the change and refuses; the ingest's rows stay, and readers that are not ours agree."""
    env = any_lake
    ids = build_history(env, tmp_path)
    waiting = held(env, tmp_path / "rb", "before-commit", "rollback", TABLE, "--to", str(ids[0]))
    env.lake.ingest(TABLE, str(write_jsonl(tmp_path / "d.jsonl", events(5, start=200))))
    rc, err = release(waiting, tmp_path / "rb", "before-commit")
    assert rc == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "changed while planning the rollback" in lines[0], err
    assert snapshot_count(env, TABLE) == 4
    assert _read_by_others(env) == (15, 15)


def test_snapshots_show_when_main_reached_each_one_and_as_of_resolves_by_it(
    local_lake, tmp_path, run_cli
) -> None:
    """A `lake run` snapshot is committed on an audit branch and published after its checks: the time
    `lake snapshots` shows as published_at is the one `--as-of` resolves by (issue 14)."""
    from conftest import events, write_jsonl, write_project

    lake = local_lake.lake
    lake.ingest("bronze.events", [str(write_jsonl(tmp_path / "e.jsonl", events(20)))], create=True)
    project = write_project(tmp_path, {"silver.events": "SELECT * FROM {{ source('bronze', 'events') }}"})
    assert lake.run(project).ok
    lake.ingest("bronze.events", [str(write_jsonl(tmp_path / "f.jsonl", events(5, start=20)))])
    assert lake.run(project).ok
    rows = cli_json(run_cli(local_lake, "snapshots", "silver.events", "--json"))
    built = [r for r in rows if r["added_rows"]]
    assert [r["added_rows"] for r in built] == [20, 25]  # each run rebuilt the table (materialized table)
    assert built[-1]["published_at"] > built[-1]["committed_at"]  # published after its audit
    for row in rows:
        assert row["published_at"] >= row["committed_at"]  # ISO-8601 in UTC: text order is time order
        got = cli_json(run_cli(local_lake, "query", "SELECT count(*) AS n FROM silver.events", "--as-of",
                               row["published_at"], "--json"))  # fmt: skip
        assert str(got["snapshots"]["silver.events"]) == str(row["snapshot_id"])
