"""`lake diff` / `Lakehouse.diff` and `changes()`, judged against pyiceberg scans of the two snapshots:
the multiset difference of its rows (collections.Counter) must equal our added and removed rows."""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import cli_json, events, module_lake, one_line_error, snapshot_count, write_jsonl, write_project

from lakehouse.testing import LakeEnv

TABLE = "s.t"
SCHEMA = "id long, ts timestamp, country string, amount double, user_id long"
COLS = ["id", "ts", "country", "amount", "user_id"]


def _make(env: LakeEnv, tmp_path: Path, n: int = 60, properties: dict[str, str] | None = None) -> int:
    env.lake.create(TABLE, SCHEMA, partition_by="country", properties=properties)
    _append(env, tmp_path, n, 0)
    return _current(env)


def _append(env: LakeEnv, tmp_path: Path, n: int, start: int) -> None:
    path = write_jsonl(tmp_path / f"in-{start}-{n}.jsonl", events(n, start=start))
    env.lake.ingest(TABLE, str(path))


def _current(env: LakeEnv) -> int:
    snapshot = env.lake.table(TABLE).current_snapshot()
    assert snapshot is not None
    return snapshot.snapshot_id


def _rows(table: Any, cols: list[str]) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(r[c] for c in cols) for r in table.to_pylist())


def _by_pyiceberg(env: LakeEnv, old: int, new: int, cols: list[str] = COLS) -> tuple[Counter, Counter]:
    """(removed, added) as multisets, from pyiceberg's own scans of both snapshots."""
    table = env.lake.table(TABLE)
    before = _rows(table.scan(snapshot_id=old).to_arrow(), cols)
    after = _rows(table.scan(snapshot_id=new).to_arrow(), cols)
    return before - after, after - before


def _check(env: LakeEnv, old: int, new: int | None = None) -> Any:
    """Our diff (no key, every row) against pyiceberg's; returns our result."""
    new = new or _current(env)
    result = env.lake.diff(TABLE, old, new)
    removed, added = _by_pyiceberg(env, old, new)
    assert _rows(result.removed, COLS) == removed
    assert _rows(result.added, COLS) == added
    assert (result.rows_removed, result.rows_added) == (sum(removed.values()), sum(added.values()))
    changes = env.lake.changes(TABLE, old, new).to_pylist()
    assert Counter(tuple(r[c] for c in COLS) for r in changes if r["change_type"] == "delete") == removed
    assert Counter(tuple(r[c] for c in COLS) for r in changes if r["change_type"] == "insert") == added
    return result


def test_append_reads_only_the_appended_files(any_lake: LakeEnv, tmp_path: Path) -> None:
    env = any_lake
    old = _make(env, tmp_path)
    before_files = {f.file.file_path for f in env.lake.table(TABLE).scan().plan_files()}
    _append(env, tmp_path, 8, 100)
    new_files = [
        f for f in env.lake.table(TABLE).inspect.files().to_pylist() if f["file_path"] not in before_files
    ]
    result = _check(env, old)
    assert result.rows_added == 8 and result.rows_removed == 0
    assert result.files_read == len(new_files) == result.files_added and result.files_removed == 0
    assert result.bytes_read == sum(f["file_size_in_bytes"] for f in new_files) < result.table_bytes
    assert [s.operation for s in result.snapshots] == ["append"]
    assert result.snapshots[0].added_records == 8


def test_copy_on_write_delete_and_update_with_key(local_lake: LakeEnv, tmp_path: Path) -> None:
    env = local_lake
    old = _make(env, tmp_path)
    env.lake.delete(TABLE, "id IN (1, 2)")
    env.lake.update(TABLE, "amount = 1000", "id = 5")
    _check(env, old)
    result = env.lake.diff(TABLE, old, key="id")
    assert (result.rows_added, result.rows_removed, result.rows_changed) == (0, 2, 1)
    assert sorted(result.removed.column("id").to_pylist()) == [1, 2]
    changed = result.changed.to_pylist()
    assert (
        changed[0]["id"] == 5
        and changed[0]["new_amount"] == 1000
        and changed[0]["changed_columns"] == ["amount"]
    )
    assert changed[0]["old_amount"] == next(r["amount"] for r in events(60) if r["id"] == 5)
    assert [s.operation for s in result.snapshots] == ["overwrite", "overwrite"]


def test_merge_on_read_delete(local_lake: LakeEnv, tmp_path: Path) -> None:
    env = local_lake
    old = _make(env, tmp_path, properties={"write.delete.mode": "merge-on-read"})
    env.lake.delete(TABLE, "id % 7 = 0")
    middle = _current(env)
    result = _check(env, old)
    assert result.rows_removed == 9 and result.rows_added == 0 and result.files_added >= 1
    env.lake.delete(TABLE, "id = 1")
    result = _check(env, middle)
    assert result.rows_removed == 1 and result.files_read == 2  # the file it names, on both sides
    _check(env, old)


def test_compaction_in_between_changes_nothing(local_lake: LakeEnv, tmp_path: Path) -> None:
    env = local_lake
    old = _make(env, tmp_path, n=10)
    for i in range(4):
        _append(env, tmp_path, 10, 100 + 10 * i)
    middle = _current(env)
    env.lake.compact(TABLE, min_input_files=2)
    assert _current(env) != middle
    result = _check(env, middle)
    assert (result.rows_added, result.rows_removed) == (0, 0)
    assert result.files_removed > 0 and result.files_read > 0  # rewritten files compared by content
    assert [s.operation for s in result.snapshots] == ["replace"]
    assert _check(env, old).rows_added == 40


def test_overwrite_ingest(any_lake: LakeEnv, tmp_path: Path) -> None:
    env = any_lake
    old = _make(env, tmp_path, n=30)
    path = write_jsonl(tmp_path / "over.jsonl", events(20, start=10))
    env.lake.ingest(TABLE, str(path), mode="overwrite")
    result = _check(env, old)
    assert (result.rows_removed, result.rows_added) == (10, 0)


def test_rename_and_added_column(local_lake: LakeEnv, tmp_path: Path, run_cli: Any) -> None:
    env = local_lake
    old = _make(env, tmp_path, n=20)
    env.lake.rename_column(TABLE, "amount", "price")
    env.lake.add_column(TABLE, "note", "string")
    env.lake.update(TABLE, "price = -1", "id = 3")
    result = env.lake.diff(TABLE, old, key="id")
    kinds = {(c.kind, c.column, c.old_name) for c in result.schema_changes}
    assert kinds == {("renamed", "price", "amount"), ("added", "note", None)}
    assert "note" not in result.columns and "price" in result.columns
    assert result.rows_changed == 1 and result.rows_added == result.rows_removed == 0
    row = result.changed.to_pylist()[0]
    assert row["changed_columns"] == ["price"] and row["new_price"] == -1
    # pyiceberg reads each snapshot in its own schema: match amount -> price by field id
    table = env.lake.table(TABLE)
    before = {r["id"]: r["amount"] for r in table.scan(snapshot_id=old).to_arrow().to_pylist()}
    after = {r["id"]: r["price"] for r in table.scan().to_arrow().to_pylist()}
    assert {k for k in before if before[k] != after[k]} == {3} and row["old_price"] == before[3]
    text = run_cli(env, "diff", TABLE, "--from", str(old), "--key", "id")
    assert text.exit_code == 0, text.output
    assert "renamed amount -> price" in text.stdout and "added note string" in text.stdout
    assert f"{before[3]} -> -1.0" in text.stdout


def test_tag_and_lock_refs_through_the_cli(
    local_lake: LakeEnv, tmp_path: Path, run_cli: Any, monkeypatch: Any
) -> None:
    env = local_lake
    old = _make(env, tmp_path, n=20)
    env.lake.tag(TABLE, "v1")
    monkeypatch.chdir(tmp_path)
    env.lake.pin([TABLE], tmp_path / "training.lock")
    _append(env, tmp_path, 5, 100)
    env.lake.update(TABLE, "country = 'XX'", "id = 2")
    before = snapshot_count(env, TABLE)
    for ref in ("v1", "@training.lock", str(old)):
        doc = cli_json(run_cli(env, "diff", TABLE, "--from", ref, "--key", "id", "--json"))
        assert doc["from_snapshot_id"] == str(old) and doc["from_ref"] == ref
        assert (doc["rows_added"], doc["rows_removed"], doc["rows_changed"]) == (5, 0, 1)
        assert (
            doc["changed"][0]["changed_columns"] == ["country"] and doc["changed"][0]["new_country"] == "XX"
        )
    doc = cli_json(run_cli(env, "diff", TABLE, "--from", "v1", "--format", "json", "--limit", "2"))
    assert doc["rows_added"] == 6 and len(doc["added"]) == 2 and doc["limit"] == 2
    text = run_cli(env, "diff", TABLE, "--from", "@training.lock", "--key", "id")
    assert text.exit_code == 0, text.output
    assert "rows: 5 added, 0 removed, 1 changed (key id)" in text.stdout
    assert re.fullmatch(
        r"read \d+ data file\(s\), \S+ \(the table holds \S+\) in \d+\.\d+s", text.stdout.splitlines()[-1]
    )
    assert "append" in text.stdout and "overwrite" in text.stdout
    doc = cli_json(
        run_cli(env, "diff", TABLE, "--from", "v1", "--key", "id", "--columns", "amount", "--json")
    )
    assert doc["columns"] == ["amount"] and doc["rows_changed"] == 0  # only country changed
    assert set(doc["added"][0]) == {"id", "amount"}
    assert env.lake.changes(TABLE, "@training.lock").num_rows == 7  # 5 inserts, one update as delete + insert
    sql = f"SELECT count(*) AS n FROM changes({TABLE}, '@training.lock') WHERE change_type = 'delete'"
    assert cli_json(run_cli(env, "query", sql, "--json"))["rows"][0]["n"] == 1
    assert snapshot_count(env, TABLE) == before  # a diff writes nothing


def test_changes_in_lake_query(local_lake: LakeEnv, tmp_path: Path, run_cli: Any) -> None:
    env = local_lake
    old = _make(env, tmp_path, n=20)
    env.lake.tag(TABLE, "v1")
    _append(env, tmp_path, 3, 100)
    env.lake.delete(TABLE, "id = 0")
    sql = f"SELECT change_type, id FROM changes({TABLE}, 'v1') ORDER BY change_type, id"
    doc = cli_json(run_cli(env, "query", sql, "--json"))
    rows = doc["rows"] if isinstance(doc, dict) else doc
    assert [(r["change_type"], r["id"]) for r in rows] == [
        ("delete", 0),
        ("insert", 100),
        ("insert", 101),
        ("insert", 102),
    ]
    both = env.lake.query(f"SELECT * FROM changes({TABLE}, '{old}', 'v1') AS c")
    assert both.num_rows == 0 and both.column_names == ["change_type", *COLS]
    assert env.lake.changes(TABLE, "v1").num_rows == 4


@pytest.fixture(scope="module")
def tagged_lake(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> LakeEnv:
    """TABLE with 5 rows and a tag v1, shared by the refused changes() queries (a query writes nothing)."""
    env = module_lake(request, tmp_path_factory, "local")
    _make(env, env.root, n=5)
    env.lake.tag(TABLE, "v1")
    return env


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT * FROM changes('s.t', 'v1')", "changes() takes a lake table"),
        ("SELECT * FROM changes(s.t)", "one or two literal snapshot references"),
        ("SELECT * FROM changes(s.t, id)", "one or two literal snapshot references"),
        ("SELECT * FROM changes(s.t, 'nope')", "no tag or branch 'nope'"),
        ("SELECT * FROM changes(s.missing, 'v1')", "s.missing"),
    ],
)
def test_changes_errors(tagged_lake: LakeEnv, run_cli: Any, sql: str, message: str) -> None:
    env = tagged_lake
    line = one_line_error(run_cli(env, "query", sql))
    assert message in line, line


def test_diff_errors_through_the_cli(local_lake: LakeEnv, tmp_path: Path, run_cli: Any) -> None:
    env = local_lake
    _make(env, tmp_path, n=5)
    before = snapshot_count(env, TABLE)
    cases = [
        (["--from", "nope"], "no tag or branch 'nope'"),
        (["--from", "123"], "snapshot 123 does not exist"),
        (["--from", "@missing.lock"], "missing.lock"),
        (["--from", "main", "--key", "nokey"], "key column 'nokey'"),
        (["--from", "main", "--columns", "id,bogus"], "compared column 'bogus'"),
        (["--from", "main", "--to", "2001-01-01"], "no snapshot at or before"),
    ]
    for args, message in cases:
        line = one_line_error(run_cli(env, "diff", TABLE, *args))
        assert message in line, (args, line)
    line = one_line_error(run_cli(env, "diff", "s.nope", "--from", "main"))
    assert "s.nope" in line
    assert snapshot_count(env, TABLE) == before


def test_changes_in_a_model(local_lake: LakeEnv, tmp_path: Path) -> None:
    env = local_lake
    env.lake.create("bronze.events", SCHEMA)
    env.lake.ingest("bronze.events", str(write_jsonl(tmp_path / "a.jsonl", events(10))))
    env.lake.tag("bronze.events", "v1")
    env.lake.ingest("bronze.events", str(write_jsonl(tmp_path / "b.jsonl", events(4, start=50))))
    root = write_project(
        tmp_path,
        {
            "silver.new_events": "SELECT id, amount FROM changes(bronze.events, 'v1') WHERE change_type = 'insert'"
        },
    )
    from lakehouse.elt.project import Project

    assert Project.load(root).models["silver.new_events"].depends_on == ["bronze.events"]
    result = env.lake.run(root)
    assert result.ok, result.to_dict()
    got = env.lake.table("silver.new_events").scan().to_arrow().column("id").to_pylist()
    assert sorted(got) == [50, 51, 52, 53]


def test_random_sequence_against_pyiceberg(local_lake: LakeEnv, tmp_path: Path) -> None:
    """A seeded random mix of appends, deletes (copy-on-write and merge-on-read), updates, overwrites
    and compactions; after each, the diff from every earlier snapshot equals pyiceberg's."""
    env = local_lake
    rng = random.Random(15)
    ids = [_make(env, tmp_path, n=30, properties={"write.delete.mode": "merge-on-read"})]
    next_id = 1000
    for step in range(7):
        op = rng.choice(["append", "delete", "update", "compact", "overwrite", "append"])
        if op == "append":
            _append(env, tmp_path, rng.randint(1, 6), next_id)
            next_id += 10
        elif op == "delete":
            env.lake.delete(TABLE, f"id % {rng.randint(5, 11)} = {rng.randint(0, 4)}")
        elif op == "update":
            env.lake.update(TABLE, f"amount = amount + {step}", f"user_id = {rng.randint(0, 16)}")
        elif op == "compact":
            env.lake.compact(TABLE, min_input_files=2)
        else:
            path = write_jsonl(
                tmp_path / f"ow-{step}.jsonl", events(rng.randint(5, 20), start=rng.randint(0, 20))
            )
            env.lake.ingest(TABLE, str(path), mode="overwrite")
        ids.append(_current(env))
        for old in rng.sample(ids[:-1], min(2, len(ids) - 1)):
            _check(env, old)


def test_repeated_keys_are_not_paired(local_lake: LakeEnv, tmp_path: Path) -> None:
    """A key that occurs twice on a side is not a changed row: which old row became which new one is
    not defined, so its rows stay removed and added (as documented in read/diff/rows.py)."""
    env = local_lake
    old = _make(env, tmp_path, n=10)
    _append(env, tmp_path, 1, 3)  # a second row with id 3
    middle = _current(env)
    env.lake.update(TABLE, "amount = 7", "id IN (3, 4)")
    result = env.lake.diff(TABLE, middle, key="id")
    assert result.rows_changed == 1 and result.changed.column("id").to_pylist() == [4]
    assert result.removed.column("id").to_pylist() == [3, 3] and result.added.column("id").to_pylist() == [
        3,
        3,
    ]
    assert (result.rows_added, result.rows_removed) == (2, 2)
    _check(env, old)
    _check(env, middle)


def test_a_rename_without_a_new_snapshot_shows_in_a_diff_to_now(local_lake: LakeEnv, tmp_path: Path) -> None:
    """Renaming a column makes no snapshot: a diff to the current state uses the current names, as a
    query of the table does."""
    env = local_lake
    old = _make(env, tmp_path, n=10)
    _append(env, tmp_path, 3, 100)
    env.lake.rename_column(TABLE, "amount", "spend")
    result = env.lake.diff(TABLE, old)
    assert [(c.kind, c.old_name, c.column) for c in result.schema_changes] == [("renamed", "amount", "spend")]
    assert "spend" in result.added.column_names and result.rows_added == 3
    assert "spend" in env.lake.changes(TABLE, old).column_names
