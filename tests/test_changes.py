"""`lake delete` and `lake update`: only files holding a matching row are rewritten (partition and
column-statistics pruning, then one count over the candidates), one `overwrite` snapshot, and every
result read back identically by pyiceberg, standalone DuckDB `iceberg_scan` and polars. Merge-on-read
writes positional delete files; bad input is one line and leaves the table unchanged; races with an
append keep both, races with a compaction or another delete fail cleanly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conformance.readers import READERS, read_rows
from conftest import cli_json, events, fails_unchanged, module_lake, snapshot_count, write_jsonl
from test_concurrency import held, release
from test_delete_files import commit_positional_deletes, strict_ids

from lakehouse.errors import CommitError, LakehouseError
from lakehouse.io.storage import list_files
from lakehouse.lake import Lakehouse
from lakehouse.ops.rowlevel import apply_change, plan_change
from lakehouse.testing import LakeEnv

TABLE = "s.t"
SCHEMA = "id long, ts timestamptz, country string, amount double, user_id long"
MOR = {"write.delete.mode": "merge-on-read"}


def _table(
    env: LakeEnv, tmp_path: Path, appends: int = 3, rows: int = 100, properties: dict[str, str] | None = None,
    partition_by: str | None = "day(ts)",
) -> None:  # fmt: skip
    env.lake.create(TABLE, SCHEMA, partition_by=partition_by, properties=properties)
    for i in range(appends):
        env.lake.ingest(TABLE, str(write_jsonl(tmp_path / f"in-{i}.jsonl", events(rows, start=i * rows))))


@pytest.fixture(scope="module")
def shared_table(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> LakeEnv:
    """TABLE with 3 appends, shared by the tests that only plan, read or are refused (the refused ones
    assert that nothing changed), instead of building it again for each of 20 tests."""
    env = module_lake(request, tmp_path_factory, "local")
    _table(env, env.root)
    return env


def _agree(env: LakeEnv) -> list[tuple[Any, ...]]:
    """The rows (id, country, amount, user_id, sorted) after checking that pyiceberg, standalone DuckDB
    iceberg_scan, polars, the spec-strict reader and `lake query` all read the same rows."""
    table = env.lake.table(TABLE)
    seen = {r: sorted(read_rows(r, env, TABLE, table, table.schema()), key=repr) for r in READERS}
    differ = {
        k: (len(v), [r for r in v if r not in seen["pyiceberg"]][:3])
        for k, v in seen.items()
        if v != seen["pyiceberg"]
    }
    assert not differ, f"readers that differ from pyiceberg ({len(seen['pyiceberg'])} rows): {differ}"
    cols = ["id", "country", "amount", "user_id"]
    return sorted(tuple(r[c] for c in cols) for r in table.scan().to_arrow().to_pylist())


def _expected(n: int, drop: Any = lambda r: False, change: Any = lambda r: r) -> list[tuple[Any, ...]]:
    return sorted(
        tuple(change(dict(r))[c] for c in ("id", "country", "amount", "user_id"))
        for r in events(n)
        if not drop(r)
    )


def _live_paths(env: LakeEnv) -> set[str]:
    return {f["path"] for f in env.lake.files(TABLE)}


def _summary(env: LakeEnv) -> dict[str, str]:
    snapshot = env.lake.table(TABLE).current_snapshot()
    assert snapshot is not None and snapshot.summary is not None
    return {"operation": snapshot.summary.operation.value, **snapshot.summary.additional_properties}


# ---------------------------------------------------------------- delete and update, copy-on-write


def test_delete_rewrites_only_the_files_holding_matching_rows(any_lake: LakeEnv, tmp_path: Path) -> None:
    env = any_lake
    _table(env, tmp_path)
    before = _live_paths(env)
    where = "user_id = 3 AND ts >= '2026-06-02T00:00:00Z' AND ts < '2026-06-03T00:00:00Z'"
    result = env.lake.delete(TABLE, where)
    plan = result.plan
    assert plan.pruned and plan.note is None
    assert plan.table_files == 9 and plan.candidate_files == 3  # one day's files of each append
    assert plan.matching_rows == 6 == result.rows_deleted and len(plan.files) == 3
    after = _live_paths(env)
    assert before - after == {f.path for f in plan.files}  # only the affected files left the table
    assert len(after & before) == 6
    summary = _summary(env)
    assert summary["operation"] == "overwrite" and summary["lake.operation"] == "delete"
    assert summary["lake.rows-deleted"] == "6"
    gone = lambda r: r["user_id"] == 3 and r["ts"].startswith("2026-06-02")  # noqa: E731
    assert _agree(env) == _expected(300, drop=gone)
    assert env.lake.query(f"SELECT count(*) AS n FROM {TABLE}").to_pylist() == [{"n": 294}]


def test_update_casts_values_and_moves_rows_to_their_new_partition(
    local_lake: LakeEnv, tmp_path: Path
) -> None:
    env = local_lake
    _table(env, tmp_path)
    result = env.lake.update(
        TABLE, "ts = ts + INTERVAL 10 DAY, amount = 7, country = lower(country)", "id < 10"
    )
    assert result.rows_updated == 10 and result.plan.matching_rows == 10
    summary = _summary(env)
    assert summary["lake.operation"] == "update" and summary["lake.rows-updated"] == "10"
    moved = {
        f["partition"]["ts_day"]: f["rows"]
        for f in env.lake.files(TABLE)
        if f["partition"]["ts_day"] >= "2026-06-11"
    }
    assert sum(moved.values()) == 10 and set(moved) == {"2026-06-11", "2026-06-12", "2026-06-13"}
    for f in env.lake.files(TABLE):  # every file sits in the folder of its own partition value
        assert f"ts_day={f['partition']['ts_day']}/" in f["path"]

    def change(r: dict[str, Any]) -> dict[str, Any]:
        return {**r, "amount": 7.0, "country": r["country"].lower()} if r["id"] < 10 else r

    assert _agree(env) == _expected(300, change=change)
    late = env.lake.query(f"SELECT count(*) AS n FROM {TABLE} WHERE ts >= '2026-06-11T00:00:00Z'").to_pylist()
    assert late == [{"n": 10}]


def test_dry_run_shows_the_plan_and_changes_nothing(local_lake: LakeEnv, tmp_path: Path, run_cli) -> None:
    env = local_lake
    _table(env, tmp_path)
    files_before = {f.path for f in list_files(env.profile, env.lake.table(TABLE).location())}
    count = snapshot_count(env, TABLE)
    data = cli_json(run_cli(env, "delete", TABLE, "--where", "country = 'US'", "--dry-run", "--json"))
    plan = data["plan"]
    assert data["dry_run"] is True and data["snapshot_id"] is None
    assert plan["matching_rows"] == 75 and plan["pruning"] is True and plan["files_to_rewrite"] == 9
    assert sum(f["matching_rows"] for f in plan["files"]) == 75
    assert all(f["rows"] > 0 and f["bytes"] > 0 for f in plan["files"])
    assert plan["bytes_to_rewrite"] == sum(f["bytes"] for f in plan["files"])
    text = run_cli(env, "update", TABLE, "--set", "amount = 0", "--where", "id = 5", "--dry-run")
    assert text.exit_code == 0, text.output
    assert "would update 1 rows in 1 of 9 files" in text.stdout and "copy-on-write" in text.stdout
    assert snapshot_count(env, TABLE) == count
    assert {f.path for f in list_files(env.profile, env.lake.table(TABLE).location())} == files_before


def test_cli_delete_and_update_report_what_they_did(local_lake: LakeEnv, tmp_path: Path, run_cli) -> None:
    env = local_lake
    _table(env, tmp_path)
    done = run_cli(env, "delete", TABLE, "--where", "id IN (1, 2, 3)")
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith(f"deleted 3 rows of {TABLE} in 3 of 9 files")
    data = cli_json(
        run_cli(env, "update", TABLE, "--set", "user_id = -1", "--where", "id BETWEEN 10 AND 12", "--json")
    )
    assert data["rows_updated"] == 3 and data["snapshot_id"] == str(env.lake.snapshot(TABLE).snapshot_id)
    none = run_cli(env, "delete", TABLE, "--where", "id > 100000")
    assert none.stdout.strip() == f"{TABLE}: no row matches; nothing deleted"


def test_a_predicate_that_cannot_be_translated_reads_every_file_and_says_so(
    local_lake: LakeEnv, tmp_path: Path
) -> None:
    env = local_lake
    _table(env, tmp_path)
    result = env.lake.delete(TABLE, "lower(country) = 'us' OR amount * 2 > 1000", dry_run=True)
    assert not result.plan.pruned and "cannot prune" in (result.plan.note or "")
    assert result.plan.candidate_files == result.plan.table_files == 9
    assert result.plan.matching_rows == 75


@pytest.mark.parametrize(
    "where",
    [
        "id = 7",
        "id <> 7 AND user_id = 2",
        "NOT (country = 'US') AND id < 50",
        "user_id IN (1, 2) OR id >= 290",
        "ts < '2026-06-02'",
        "ts BETWEEN '2026-06-02 05:00:00' AND '2026-06-03T00:00:00+00:00'",
        "amount > 40.5 AND amount IS NOT NULL",
        "country IS NULL OR -5 >= amount",
        "(id > 10) AND (lower(country) = 'de')",
    ],
)
def test_pruning_never_drops_a_matching_row(shared_table: LakeEnv, where: str) -> None:
    """The plan's count equals DuckDB's count over the whole table, whatever pruning kept."""
    env = shared_table
    plan = env.lake.plan_change(TABLE, where)
    full = env.lake.query(f"SELECT count(*) AS n FROM {TABLE} WHERE {where}").to_pylist()[0]["n"]
    assert plan.matching_rows == full
    assert plan.candidate_files <= plan.table_files


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["delete", TABLE, "--where", "nope = 1"], ["unknown column", "nope"]),
        (["delete", TABLE, "--where", "id = = 1"], ["cannot parse --where"]),
        (["delete", TABLE, "--where", "amount + 1"], ["is not a condition", "DOUBLE"]),
        (["delete", TABLE, "--where", "id IN (SELECT 1)"], ["subqueries"]),
        (
            ["delete", TABLE, "--where", "read_text('/etc/passwd') IS NOT NULL"],
            ["read_text() is not allowed"],
        ),
        (["delete", TABLE, "--where", "country = 1 + 'x'"], ["--where"]),
        (["update", TABLE, "--set", "missing = 1", "--where", "true"], ["unknown column", "missing"]),
        (["update", TABLE, "--set", "id = 1, id = 2", "--where", "true"], ["set twice"]),
        (["update", TABLE, "--set", "id", "--where", "true"], ["--set"]),
        (["update", TABLE, "--set", "id = getenv('HOME')", "--where", "true"], ["getenv() is not allowed"]),
        (["update", TABLE, "--set", "amount = 1", "--where", "nope > 2"], ["unknown column", "nope"]),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    shared_table: LakeEnv, run_cli, args: list[str], needles: list[str]
) -> None:
    local_lake = shared_table
    files = {f.path for f in list_files(local_lake.profile, local_lake.lake.table(TABLE).location())}
    fails_unchanged(run_cli, local_lake, TABLE, args, *needles)
    assert {f.path for f in list_files(local_lake.profile, local_lake.lake.table(TABLE).location())} == files


def test_a_missing_table_is_one_line(local_lake: LakeEnv, run_cli) -> None:
    from conftest import one_line_error

    line = one_line_error(run_cli(local_lake, "delete", "s.nope", "--where", "id = 1"))
    assert "s.nope" in line


def test_an_update_that_cannot_cast_writes_nothing(local_lake: LakeEnv, tmp_path: Path, run_cli) -> None:
    _table(local_lake, tmp_path, appends=1)
    files = {f.path for f in list_files(local_lake.profile, local_lake.lake.table(TABLE).location())}
    fails_unchanged(
        run_cli, local_lake, TABLE, ["update", TABLE, "--set", "id = 'abc'", "--where", "id = 3"], "abc"
    )
    assert {f.path for f in list_files(local_lake.profile, local_lake.lake.table(TABLE).location())} == files


# ---------------------------------------------------------------- merge-on-read


def test_merge_on_read_delete_writes_positional_delete_files(any_lake: LakeEnv, tmp_path: Path) -> None:
    env = any_lake
    _table(env, tmp_path, properties=MOR)
    before = _live_paths(env)
    result = env.lake.delete(TABLE, "user_id = 3")
    assert result.plan.mode == "merge-on-read" and result.rows_deleted == 18
    assert result.files_added == 0 and result.delete_files_added == 3  # one per partition
    after = _live_paths(env)
    assert before <= after and all("-deletes-" in p for p in after - before)  # no data file rewritten
    assert _summary(env)["lake.rows-deleted"] == "18"
    expected = _expected(300, drop=lambda r: r["user_id"] == 3)
    assert _agree(env) == expected
    assert strict_ids(env.lake.table(TABLE)) == [r[0] for r in expected]
    assert env.lake.query(f"SELECT count(*) AS n FROM {TABLE}").to_pylist() == [{"n": 282}]


# ---------------------------------------------------------------- concurrency


def test_a_delete_racing_an_append_keeps_both(local_lake: LakeEnv, tmp_path: Path) -> None:
    env = local_lake
    _table(env, tmp_path)
    waiting = held(env, tmp_path / "hooks", "before-commit", "delete", TABLE, "--where", "user_id = 3")
    Lakehouse(env.profile).ingest(TABLE, str(write_jsonl(tmp_path / "late.jsonl", events(50, start=1000))))
    rc, err = release(waiting, tmp_path / "hooks", "before-commit")
    assert rc == 0, err
    late = sorted((r["id"], r["country"], r["amount"], r["user_id"]) for r in events(50, start=1000))
    assert _agree(env) == sorted(
        _expected(300, drop=lambda r: r["user_id"] == 3) + late
    )  # late user 3 rows stay
    ops = [s.summary.operation.value for s in env.lake.table(TABLE).snapshots() if s.summary]
    assert ops[-2:] == ["append", "overwrite"]


@pytest.mark.parametrize("mode", ["copy-on-write", "merge-on-read"])
@pytest.mark.parametrize("other", ["compact", "delete"])
def test_a_delete_racing_a_rewrite_of_its_files_fails_cleanly(
    local_lake: LakeEnv, tmp_path: Path, other: str, mode: str
) -> None:
    env = local_lake
    _table(env, tmp_path, properties={"lake.compact.allow-any-target": "true", "write.delete.mode": mode})
    plan = env.lake.plan_change(TABLE, "user_id = 3")
    if other == "compact":
        env.lake.compact(TABLE, target_size="1MB", min_input_files=2)
    else:
        env.lake.delete(TABLE, "id = 3")  # id 3 has user_id 3: the same files
    head, rows = env.lake.snapshot(TABLE).snapshot_id, _agree(env)
    with env.lake.engine(locked=False) as engine, pytest.raises(CommitError) as caught:
        apply_change(env.profile, engine, lambda: env.lake.table(TABLE), plan)
    message = str(caught.value)
    assert "delete on s.t conflicts with a concurrent change" in message and "run the delete again" in message
    assert "\n" not in message
    assert env.lake.snapshot(TABLE).snapshot_id == head and _agree(env) == rows
    listed = {f.path for f in list_files(env.profile, env.lake.table(TABLE).location() + "/data")}
    reachable = {p.removeprefix("file://") for p in _removed_but_reachable(env)}
    assert listed == reachable  # its own files are gone


def _removed_but_reachable(env: LakeEnv) -> set[str]:
    table = env.lake.table(TABLE)
    return {
        e.data_file.file_path
        for s in table.snapshots()
        for m in s.manifests(table.io)
        for e in m.fetch_manifest_entry(table.io, discard_deleted=False)
    }


def test_a_copy_on_write_delete_never_resurrects_rows_another_engine_deleted(
    local_lake: LakeEnv, tmp_path: Path
) -> None:
    """Another engine adds a positional delete to a file this delete rewrites, after planning: refused."""
    env = local_lake
    _table(env, tmp_path, partition_by=None)  # the other engine's delete file here is unpartitioned
    plan = env.lake.plan_change(TABLE, "user_id = 3")
    target = plan.files[0].path
    commit_positional_deletes(env.lake.table(TABLE), {target: [0]})
    rows = _agree(env)
    with env.lake.engine(locked=False) as engine, pytest.raises(CommitError, match="delete files were added"):
        apply_change(env.profile, engine, lambda: env.lake.table(TABLE), plan)
    assert _agree(env) == rows


def test_plan_change_refuses_an_unknown_mode(local_lake: LakeEnv, tmp_path: Path) -> None:
    _table(local_lake, tmp_path, appends=1, properties={"write.delete.mode": "sideways"})
    with local_lake.lake.engine() as engine, pytest.raises(LakehouseError, match="write.delete.mode"):
        plan_change(engine, local_lake.lake.table(TABLE), TABLE, "delete", "id = 1")


def test_an_update_writing_null_into_a_required_column_is_refused(
    local_lake: LakeEnv, tmp_path: Path, run_cli
) -> None:
    env = local_lake
    env.lake.create(TABLE, "id long not null, name string")
    env.lake.ingest(
        TABLE, str(write_jsonl(tmp_path / "r.jsonl", [{"id": i, "name": f"n{i}"} for i in range(5)]))
    )
    files = {f.path for f in list_files(env.profile, env.lake.table(TABLE).location())}
    args = ["update", TABLE, "--set", "id = NULL", "--where", "id = 2"]
    fails_unchanged(run_cli, env, TABLE, args, "id", "required")
    assert {f.path for f in list_files(env.profile, env.lake.table(TABLE).location())} == files


def test_merge_on_read_update_marks_old_rows_and_appends_new_ones(any_lake: LakeEnv, tmp_path: Path) -> None:
    env = any_lake
    _table(env, tmp_path, properties=MOR)
    before = _live_paths(env)
    result = env.lake.update(TABLE, "amount = 0, ts = ts + INTERVAL 30 DAY", "user_id = 4")
    assert result.rows_updated == 18 and result.delete_files_added == 3 and result.files_added == 3
    assert before <= _live_paths(env)
    assert _summary(env)["lake.rows-updated"] == "18"
    change = lambda r: {**r, "amount": 0.0} if r["user_id"] == 4 else r  # noqa: E731
    assert _agree(env) == _expected(300, change=change)


def test_a_delete_process_losing_to_a_compaction_fails_in_one_line_and_removes_its_files(
    local_lake: LakeEnv, tmp_path: Path
) -> None:
    """Held after staging its commit; a compaction rewrites its files; the retry sees it and stops."""
    env = local_lake
    _table(env, tmp_path, properties={"lake.compact.allow-any-target": "true"})
    waiting = held(env, tmp_path / "hooks", "before-commit", "delete", TABLE, "--where", "user_id = 3")
    Lakehouse(env.profile).compact(TABLE, target_size="1MB", min_input_files=2)
    head, rows = env.lake.snapshot(TABLE).snapshot_id, _agree(env)
    rc, err = release(waiting, tmp_path / "hooks", "before-commit")
    assert rc == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "Error: delete on s.t conflicts with a concurrent change: 9 of the 9 files"
    )
    assert env.lake.snapshot(TABLE).snapshot_id == head and _agree(env) == rows and len(rows) == 300
    listed = {f.path for f in list_files(env.profile, env.lake.table(TABLE).location() + "/data")}
    assert listed == {p.removeprefix("file://") for p in _removed_but_reachable(env)}


def test_pruning_keeps_nan_rows_that_duckdb_says_match(local_lake: LakeEnv, tmp_path: Path) -> None:
    """DuckDB orders NaN above every number, so `amount > 5` matches NaN; Iceberg's bounds leave NaN out
    and would have pruned the file that holds only 1.0 and NaN."""
    import pyarrow as pa

    env = local_lake
    env.lake.create(TABLE, "id long, amount double")
    for i, values in enumerate([[1.0, float("nan")], [10.0, 2.0]]):  # pyiceberg's writer: bounds without NaN
        env.lake.table(TABLE).append(
            pa.table({"id": pa.array([2 * i, 2 * i + 1], pa.int64()), "amount": values})
        )
    for where in ("amount > 5", "NOT (amount <= 5)", "amount BETWEEN 5 AND 'NaN'::DOUBLE"):
        plan = env.lake.plan_change(TABLE, where)
        assert plan.matching_rows == 2, where
    env.lake.delete(TABLE, "amount > 5")
    assert sorted(env.lake.table(TABLE).scan().to_arrow().column("id").to_pylist()) == [0, 3]


# ---------------------------------------------------------------- tables that already have delete files


def test_copy_on_write_applies_another_engines_deletes_and_drops_them(
    local_lake: LakeEnv, tmp_path: Path
) -> None:
    """A positional delete file (as Spark writes them) names rows of the files a delete rewrites: the
    rewrite keeps those rows deleted, and the delete file, naming only rewritten files, leaves in the
    same snapshot."""
    env = local_lake
    _table(env, tmp_path, appends=2, partition_by=None)
    files = sorted(env.lake.table(TABLE).inspect.files().column("file_path").to_pylist())
    commit_positional_deletes(env.lake.table(TABLE), {files[0]: [0, 1, 2]})
    gone = set(strict_ids(env.lake.table(TABLE))) ^ set(range(200))
    assert len(gone) == 3
    result = env.lake.delete(TABLE, "user_id = 5")
    assert len(result.plan.obsolete_deletes) == 1 and result.plan.to_dict()["delete_files_to_remove"] == 1
    table = env.lake.table(TABLE)
    assert set(table.inspect.files().column("content").to_pylist()) == {0}  # no delete file left
    expected = [r[0] for r in _expected(200, drop=lambda r: r["user_id"] == 5 or r["id"] in gone)]
    assert [r[0] for r in _agree(env)] == expected == strict_ids(table)


def test_merge_on_read_changes_stack_on_earlier_delete_files(any_lake: LakeEnv, tmp_path: Path) -> None:
    env = any_lake
    _table(env, tmp_path, properties=MOR)
    env.lake.delete(TABLE, "user_id = 3")
    result = env.lake.delete(TABLE, "user_id IN (3, 4)")  # user 3's rows are gone: only user 4's match
    assert result.rows_deleted == 18
    updated = env.lake.update(TABLE, "amount = -1", "user_id = 5 OR user_id = 4")
    assert updated.rows_updated == 18
    change = lambda r: {**r, "amount": -1.0} if r["user_id"] == 5 else r  # noqa: E731
    expected = _expected(300, drop=lambda r: r["user_id"] in (3, 4), change=change)
    assert _agree(env) == expected
    assert strict_ids(env.lake.table(TABLE)) == sorted(r[0] for r in expected)
    # and a copy-on-write change over all of it keeps every earlier change
    env.lake.table(TABLE).transaction().set_properties(
        {"write.delete.mode": "copy-on-write"}
    ).commit_transaction()
    env.lake.delete(TABLE, "id < 30")
    assert _agree(env) == [r for r in expected if r[0] >= 30]
    assert set(env.lake.table(TABLE).inspect.files().column("content").to_pylist()) <= {0, 1}


def test_an_empty_table_and_a_delete_of_every_row(local_lake: LakeEnv, tmp_path: Path) -> None:
    env = local_lake
    env.lake.create(TABLE, SCHEMA, partition_by="day(ts)")
    nothing = env.lake.delete(TABLE, "id = 1")
    assert nothing.snapshot_id is None and nothing.plan.matching_rows == 0 and snapshot_count(env, TABLE) == 0
    env.lake.ingest(TABLE, str(write_jsonl(tmp_path / "a.jsonl", events(40))))
    result = env.lake.delete(TABLE, "true")
    assert result.rows_deleted == 40 and result.files_added == 0
    assert _agree(env) == [] and env.lake.files(TABLE) == []
    assert _summary(env)["lake.rows-deleted"] == "40"
