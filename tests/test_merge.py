"""`lake ingest --mode merge --key` / `Lakehouse.merge`: copy-on-write upsert, judged by readers not ours."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from conformance.readers import duckdb_rows, polars_rows, pyiceberg_rows
from conftest import cli_json, events, fails_unchanged, snapshot_count, write_jsonl, write_project
from test_concurrency import held, release

from lakehouse.errors import LakehouseError
from lakehouse.io.storage import list_files
from lakehouse.testing import LakeEnv

T = "bronze.events"


def _held_merge(env: LakeEnv, hooks: Path, src: Path) -> subprocess.Popen[bytes]:
    """`lake ingest --mode merge --key id` held before its commit."""
    return held(env, hooks, "before-commit", "ingest", T, str(src), "--mode", "merge", "--key", "id")


def _expected(base: list[dict[str, Any]], changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = {r["id"]: r for r in base}
    rows.update({r["id"]: r for r in changes})
    return [rows[k] for k in sorted(rows)]


def _canon(table: pa.Table) -> list[tuple[Any, ...]]:
    """(id, country, amount, user_id) sorted; timestamps compared as the readers agree on them."""
    rows = table.select(["id", "country", "amount", "user_id"]).to_pylist()
    return sorted((r["id"], r["country"], r["amount"], r["user_id"]) for r in rows)


def _want(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted((r["id"], r["country"], r["amount"], r["user_id"]) for r in rows)


def _readers_agree(env: LakeEnv, name: str, rows: list[dict[str, Any]]) -> None:
    table = env.lake.table(name)
    for reader in (pyiceberg_rows, duckdb_rows, polars_rows):
        assert _canon(reader(env, name, table)) == _want(rows), reader.__name__


def _changes(base: list[dict[str, Any]], ids: range | list[int]) -> list[dict[str, Any]]:
    """Rows for `ids`: existing ids get a new amount and user, new ids are new rows."""
    by_id = {r["id"]: r for r in base}
    out = []
    for i in ids:
        row = dict(by_id.get(i) or events(1, start=i)[0])
        row["amount"] = 1000.0 + i
        row["user_id"] = 99
        out.append(row)
    return out


@pytest.mark.parametrize(("partition_by", "key"), [(None, "id"), ("day(ts), country", "id,country")])
def test_merge_replaces_matching_rows_and_inserts_the_rest(
    any_lake: LakeEnv, run_cli, tmp_path: Path, partition_by: str | None, key: str
) -> None:
    env = any_lake
    base = events(300)
    args = ["ingest", T, str(write_jsonl(tmp_path / "a.jsonl", base)), "--create"]
    run_cli(env, *args, *(["--partition-by", partition_by] if partition_by else []))
    # 25 updates, all in the partition day 1 / US, and 30 inserts
    changes = _changes(base, [*range(0, 300, 12), *range(300, 330)])
    for row in changes:
        row["country"] = "US"  # the updated rows are in US already
    before = {f["path"] for f in env.lake.files(T)}
    out = cli_json(
        run_cli(
            env,
            "ingest",
            T,
            str(write_jsonl(tmp_path / "b.jsonl", changes)),
            "--mode",
            "merge",
            "--key",
            key,
            "--json",
        )  # fmt: skip
    )
    assert out["merge"]["rows_updated"] == 25 and out["merge"]["rows_inserted"] == 30
    assert out["rows"] == 55
    _readers_agree(env, T, _expected(base, changes))
    snapshot = env.lake.table(T).current_snapshot()
    assert snapshot is not None and snapshot.summary is not None
    summary = snapshot.summary
    assert summary.operation.value == "overwrite"
    assert summary["lake.rows-updated"] == "25" and summary["lake.rows-inserted"] == "30"
    after = {f["path"] for f in env.lake.files(T)}
    removed = before - after
    assert len(removed) == len(out["merge"]["files_rewritten"]) == 1  # of 12 day/country files, or of 1
    if partition_by:  # a key on a partition column prunes partitions: only the 3 US files were read
        assert out["merge"]["files_read"] == 3 and out["merge"]["files_live"] == 12


def test_only_files_that_may_hold_a_key_are_read(local_lake: LakeEnv, tmp_path: Path) -> None:
    """Files whose id bounds cannot hold a new key are pruned by column statistics, never read."""
    env = local_lake
    env.lake.ingest(T, str(write_jsonl(tmp_path / "0.jsonl", events(100))), create=True)
    for i in range(1, 5):
        env.lake.ingest(T, str(write_jsonl(tmp_path / f"{i}.jsonl", events(100, start=i * 100))))
    base = events(500)
    changes = _changes(base, range(250, 260))
    plan = env.lake.merge(T, str(write_jsonl(tmp_path / "c.jsonl", changes)), key="id", dry_run=True)
    assert plan.dry_run and plan.snapshot_id is None
    assert plan.merge is not None
    assert plan.merge["files_live"] == 5 and plan.merge["files_read"] == 1
    assert [f["matched_rows"] for f in plan.merge["files_rewritten"]] == [10]
    assert snapshot_count(env, T) == 5  # a dry run writes nothing
    # beyond 200 keys pyiceberg no longer evaluates IN: the keys' min/max prune instead
    many = str(write_jsonl(tmp_path / "m.jsonl", _changes(base, range(100, 400))))
    wide = env.lake.merge(T, many, key="id", dry_run=True).merge
    assert wide is not None and wide["files_read"] == 3 and wide["rows_updated"] == 300
    result = env.lake.merge(T, str(write_jsonl(tmp_path / "c.jsonl", changes)), key="id")
    assert result.merge == {**plan.merge, "snapshot_id": plan.merge["snapshot_id"]}
    _readers_agree(env, T, _expected(base, changes))


def test_dry_run_prints_the_files_it_would_rewrite(local_lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    env = local_lake
    base = events(40)
    env.lake.ingest(T, str(write_jsonl(tmp_path / "a.jsonl", base)), create=True)
    src = write_jsonl(tmp_path / "b.jsonl", _changes(base, range(35, 45)))
    before = snapshot_count(env, T)
    result = run_cli(env, "ingest", T, str(src), "--mode", "merge", "--key", "id", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "5 rows updated, 5 inserted; would rewrite 1 of 1 files" in result.stdout
    assert env.lake.files(T)[0]["path"] in result.stdout
    assert snapshot_count(env, T) == before


def test_composite_key_and_evolve(local_lake: LakeEnv, tmp_path: Path) -> None:
    env = local_lake
    base = [{"id": i % 5, "user_id": i // 5, "country": "US", "amount": float(i)} for i in range(20)]
    env.lake.ingest(T, str(write_jsonl(tmp_path / "a.jsonl", base)), create=True)
    changes = [
        {"id": 1, "user_id": 1, "country": "DE", "amount": -1.0, "note": "fixed"},
        {"id": 9, "user_id": 9, "country": "FR", "amount": -2.0, "note": "new"},
    ]
    src = str(write_jsonl(tmp_path / "b.jsonl", changes))
    with pytest.raises(LakehouseError, match="note"):
        env.lake.merge(T, src, key=["id", "user_id"])
    result = env.lake.merge(T, src, key="id,user_id", evolve=True)
    assert result.evolved_columns == ["note"] and result.merge is not None
    assert result.merge["rows_updated"] == 1 and result.merge["rows_inserted"] == 1
    got = {(r["id"], r["user_id"]): r for r in env.lake.table(T).scan().to_arrow().to_pylist()}
    assert len(got) == 21
    assert got[1, 1] == {"id": 1, "user_id": 1, "country": "DE", "amount": -1.0, "note": "fixed"}
    assert got[9, 9]["note"] == "new" and got[2, 2]["note"] is None and got[2, 2]["amount"] == 12.0


@pytest.mark.parametrize(
    ("rows", "args", "needles"),
    [
        (
            [{"id": 1}, {"id": 2}, {"id": 1}],
            ["--mode", "merge", "--key", "id"],
            ["duplicate", "id=1", "b.jsonl"],
        ),
        ([{"id": 1}, {"id": None}], ["--mode", "merge", "--key", "id"], ["merge key id is NULL", "b.jsonl"]),
        ([{"id": 1}], ["--mode", "merge", "--key", "country"], ["merge key country", "source"]),
        (
            [{"id": 1}],
            ["--mode", "merge", "--key", "nope"],
            ["merge key nope is not a column of bronze.events"],
        ),
        ([{"id": 1}], ["--key", "id"], ["--key applies only with --mode merge"]),
        ([{"id": 1}], ["--mode", "merge"], ["--mode merge needs --key"]),
        ([{"id": 1}], ["--dry-run"], ["--dry-run applies only with --mode merge"]),
    ],
)
def test_bad_merges_fail_in_one_line_and_write_nothing(
    local_lake: LakeEnv,
    run_cli,
    tmp_path: Path,
    rows: list[dict[str, Any]],
    args: list[str],
    needles: list[str],
) -> None:
    env = local_lake
    env.lake.ingest(T, str(write_jsonl(tmp_path / "a.jsonl", events(10))), create=True)
    src = write_jsonl(tmp_path / "b.jsonl", rows)
    location = env.lake.table(T).location()
    files = set(list_files(env.profile, location))
    fails_unchanged(run_cli, env, T, ["ingest", T, str(src), *args], *needles)
    assert set(list_files(env.profile, location)) == files


def test_merge_racing_an_append_keeps_both(local_lake: LakeEnv, tmp_path: Path) -> None:
    env = local_lake
    base = events(50)
    env.lake.ingest(T, str(write_jsonl(tmp_path / "a.jsonl", base)), create=True)
    changes = _changes(base, range(40, 60))
    proc = _held_merge(env, tmp_path / "hooks", write_jsonl(tmp_path / "b.jsonl", changes))
    appended = events(10, start=1000)
    env.lake.ingest(T, str(write_jsonl(tmp_path / "c.jsonl", appended)))
    rc, err = release(proc, tmp_path / "hooks", "before-commit")
    assert rc == 0, err
    _readers_agree(env, T, _expected(base + appended, changes))


def test_merge_racing_a_compaction_of_its_files_fails_cleanly(local_lake: LakeEnv, tmp_path: Path) -> None:
    env = local_lake
    base = events(60)
    env.lake.ingest(T, str(write_jsonl(tmp_path / "a.jsonl", base[:30])), create=True)
    env.lake.ingest(T, str(write_jsonl(tmp_path / "a2.jsonl", base[30:])))
    location = env.lake.table(T).location()
    proc = _held_merge(
        env, tmp_path / "hooks", write_jsonl(tmp_path / "b.jsonl", _changes(base, range(5, 10)))
    )
    env.lake.compact(T, min_input_files=2)
    compacted = env.lake.table(T).current_snapshot()
    files = set(list_files(env.profile, location))
    rc, err = release(proc, tmp_path / "hooks", "before-commit")
    assert rc == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "no longer" in lines[0], err
    assert env.lake.table(T).current_snapshot() == compacted
    # the merge's data files are gone again (its metadata attempts may leave orphans, as any lost race)
    assert {f for f in set(list_files(env.profile, location)) - files if f.endswith(".parquet")} == set()
    _readers_agree(env, T, base)


def test_run_merge_model_records_rows_updated_and_inserted(local_lake: LakeEnv, tmp_path: Path) -> None:
    env = local_lake
    env.lake.ingest(
        "bronze.src",
        str(write_jsonl(tmp_path / "a.jsonl", [{"k": i, "v": i} for i in range(10)])),
        create=True,
    )
    model = (
        "{{ config(materialized='incremental', incremental_strategy='merge', unique_key='k') }}\n"
        "SELECT k, v FROM bronze.src"
    )
    project = write_project(env.root, {"silver.m": model}, sources="sources: {bronze.src: {}}")
    assert env.lake.run(project).ok
    more = [{"k": i, "v": 100 + i} for i in range(8, 13)]
    env.lake.ingest("bronze.src", str(write_jsonl(tmp_path / "b.jsonl", more)), mode="overwrite")
    assert env.lake.run(project).ok
    snapshot = env.lake.table("silver.m").current_snapshot()
    assert snapshot is not None and snapshot.summary is not None
    assert snapshot.summary["lake.rows-updated"] == "2" and snapshot.summary["lake.rows-inserted"] == "3"
    got = sorted((r["k"], r["v"]) for r in env.lake.table("silver.m").scan().to_arrow().to_pylist())
    assert got == [(i, i) for i in range(8)] + [(i, 100 + i) for i in range(8, 13)]


def test_merge_never_resurrects_rows_deleted_by_another_engine(any_lake: LakeEnv, tmp_path: Path) -> None:
    """Positional delete files (as Spark or Trino write them) apply to the rows a merge keeps."""
    from conformance.other_writer import delete_rows

    env = any_lake
    base = events(100)
    env.lake.ingest(T, str(write_jsonl(tmp_path / "a.jsonl", base)), create=True)
    assert delete_rows(env.profile, env.lake.table(T), {5, 6, 50}) == 3
    live = [r for r in base if r["id"] not in {5, 6, 50}]
    changes = _changes(base, [5, 7, 200])  # 5 was deleted: it comes back as an insert
    result = env.lake.merge(T, str(write_jsonl(tmp_path / "b.jsonl", changes)), key="id")
    assert result.merge is not None
    assert result.merge["rows_updated"] == 1 and result.merge["rows_inserted"] == 2
    _readers_agree(env, T, _expected(live, changes))


def test_merge_with_create_makes_the_table(local_lake: LakeEnv, tmp_path: Path) -> None:
    env = local_lake
    rows = events(5)
    result = env.lake.ingest(
        T, str(write_jsonl(tmp_path / "a.jsonl", rows)), mode="merge", key="id", create=True
    )
    assert result.merge is not None and result.merge["rows_inserted"] == 5
    _readers_agree(env, T, rows)


def test_merge_over_equality_deletes_as_flink_writes_them(local_lake: LakeEnv, tmp_path: Path) -> None:
    """An equality delete (Flink) applies to the rows a merge keeps; a merged row with that key is new."""
    from test_delete_files import commit_equality_deletes, strict_rows

    env = local_lake
    base = events(40)
    env.lake.ingest(T, str(write_jsonl(tmp_path / "a.jsonl", base)), create=True)
    commit_equality_deletes(env.lake.table(T), [{"id": 6}, {"id": 9}])
    changes = _changes(base, [6, 7, 200])
    result = env.lake.merge(T, str(write_jsonl(tmp_path / "b.jsonl", changes)), key="id")
    assert result.merge is not None
    assert result.merge["rows_updated"] == 1 and result.merge["rows_inserted"] == 2
    want = _expected([r for r in base if r["id"] not in {6, 9}], changes)
    assert _want(strict_rows(env.lake.table(T))) == _want(want)
    assert _canon(env.lake.query(f"SELECT * FROM {T}")) == _want(want)


def test_merge_racing_a_delete_fails_rather_than_bring_rows_back(local_lake: LakeEnv, tmp_path: Path) -> None:
    from conformance.other_writer import delete_rows

    env = local_lake
    base = events(30)
    env.lake.ingest(T, str(write_jsonl(tmp_path / "a.jsonl", base)), create=True)
    proc = _held_merge(env, tmp_path / "hooks", write_jsonl(tmp_path / "b.jsonl", _changes(base, [1, 2])))
    delete_rows(env.profile, env.lake.table(T), {3})
    deleted = env.lake.table(T).current_snapshot()
    rc, err = release(proc, tmp_path / "hooks", "before-commit")
    assert rc == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "conflicts with a concurrent delete" in lines[0], err
    assert env.lake.table(T).current_snapshot() == deleted
    _readers_agree(env, T, [r for r in base if r["id"] != 3])
