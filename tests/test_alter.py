"""`lake alter`: schema and partition evolution as one metadata commit each, seen at once by every
command, read by field id by readers that are not ours, and bad input refused with the table unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conformance.readers import duckdb_rows, polars_rows, pyiceberg_rows
from conftest import CliFn, cli_json, events, fails_unchanged, module_lake, snapshot_count, write_jsonl
from pyiceberg.types import StringType

from lakehouse.testing import LakeEnv

TABLE = "silver.events"


def _table(env: LakeEnv, tmp_path: Path, n: int = 12, partition_by: str | None = None) -> None:
    src = write_jsonl(tmp_path / "events.jsonl", events(n))
    env.lake.ingest(TABLE, str(src), create=True, partition_by=partition_by)


@pytest.fixture(scope="module")
def refusing_lake(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> LakeEnv:
    """TABLE partitioned by day(ts), shared by the refused alters (each asserts it unchanged)."""
    env = module_lake(request, tmp_path_factory, "local")
    _table(env, env.root, partition_by="day(ts)")
    return env


def _alter(run_cli: CliFn, env: LakeEnv, *args: str) -> dict[str, Any]:
    return cli_json(run_cli(env, "alter", TABLE, *args, "--json"))


def _columns(env: LakeEnv, table: str = TABLE) -> list[str]:
    return [c["name"] for c in env.lake.describe(table)["schema"]]


def _read_by_others(env: LakeEnv, table: str = TABLE) -> dict[str, list[Any]]:
    """The current rows as pyiceberg, a standalone DuckDB iceberg_scan and polars read them, by column."""
    tbl = env.lake.table(table)
    read = [r(env, table, tbl).sort_by("id").to_pydict() for r in (pyiceberg_rows, duckdb_rows, polars_rows)]
    by_pyiceberg = read[0]
    for other in read[1:]:
        assert list(other) == list(by_pyiceberg)
        for col in by_pyiceberg:
            assert other[col] == by_pyiceberg[col], col
    return by_pyiceberg


def test_schema_change_by_pyiceberg_is_visible_to_describe_at_once(
    local_lake: LakeEnv, tmp_path: Path
) -> None:
    """Regression: a schema changed through pyiceberg on a table lake wrote stayed invisible to
    `lake describe` until the next write (describe showed the current snapshot's schema)."""
    env = local_lake
    _table(env, tmp_path)
    with env.lake.table(TABLE).update_schema() as update:
        update.add_column("note", StringType())
        update.rename_column("country", "region")
    assert _columns(env) == ["id", "ts", "region", "amount", "user_id", "note"]
    assert env.lake.query(f"SELECT * FROM {TABLE}").column_names == _columns(env)
    old = env.lake.table(TABLE).current_snapshot().snapshot_id
    assert "country" in [c["name"] for c in env.lake.describe(TABLE, as_of=old)["schema"]]


def test_rename_add_drop_widen_each_one_commit_read_by_field_id(
    any_lake: LakeEnv, tmp_path: Path, run_cli: CliFn
) -> None:
    env = any_lake
    _table(env, tmp_path)
    old_snapshot = env.lake.table(TABLE).current_snapshot().snapshot_id
    metadata_before = len(env.lake.table(TABLE).metadata.metadata_log)

    got = _alter(run_cli, env, "rename-column", "country", "region")
    assert got["changes"] == ["rename column country -> region"]
    _alter(run_cli, env, "add-column", "note", "string", "--doc", "free text", "--after", "id")
    _alter(run_cli, env, "drop-column", "amount")
    assert len(env.lake.table(TABLE).metadata.metadata_log) == metadata_before + 3  # one commit each
    assert snapshot_count(env, TABLE) == 1  # metadata only: no data file rewritten
    assert _columns(env) == ["id", "note", "ts", "region", "user_id"]
    note = env.lake.table(TABLE).schema().find_field("note")
    assert note.doc == "free text"
    assert env.lake.describe(TABLE)["schema"][1]["doc"] == "free text"

    # ingest after the rename writes by field id; the old file is read by field id too
    write_jsonl(
        tmp_path / "more.jsonl",
        [{"id": 100, "ts": "2026-06-02T00:00:00Z", "region": "NL", "user_id": 3, "note": "x"}],
    )
    cli_json(run_cli(env, "ingest", TABLE, str(tmp_path / "more.jsonl"), "--json"))
    rows = _read_by_others(env)
    assert rows["region"][:4] == ["US", "DE", "FR", "JP"] and rows["region"][-1] == "NL"
    assert rows["note"][-1] == "x" and rows["note"][0] is None
    assert "amount" not in rows
    ours = env.lake.query(f"SELECT region FROM {TABLE} ORDER BY id")["region"].to_pylist()
    assert ours == rows["region"]

    # the old snapshot reads with the old names
    sql = f"SELECT country, amount FROM {TABLE} ORDER BY id"
    old = cli_json(run_cli(env, "query", sql, "--as-of", str(old_snapshot), "--json"))["rows"]
    assert [r["country"] for r in old][:2] == ["US", "DE"] and len(old) == 12
    fails = run_cli(env, "query", f"SELECT country FROM {TABLE}")
    assert fails.exit_code == 1 and "country" in fails.stderr  # the current schema has no country

    # compaction after rename/drop/add keeps every row and value
    cli_json(run_cli(env, "compact", TABLE, "--json"))
    assert _read_by_others(env) == rows


def test_widen_and_set_optional_and_identifier_fields(local_lake: LakeEnv, run_cli: CliFn) -> None:
    env = local_lake
    env.lake.create(TABLE, "id int not null, qty float, price decimal(9,2), name string")
    assert _alter(run_cli, env, "widen", "id", "long")["changes"] == ["column id: int -> long"]
    _alter(run_cli, env, "widen", "qty", "double")
    _alter(run_cli, env, "widen", "price", "decimal(12,2)")
    _alter(run_cli, env, "identifier-fields", "id")
    assert env.lake.table(TABLE).schema().identifier_field_names() == {"id"}
    assert env.lake.describe(TABLE)["identifier_fields"] == ["id"]
    types = {c["name"]: c["type"] for c in env.lake.describe(TABLE)["schema"]}
    assert types == {"id": "long", "qty": "double", "price": "decimal(12, 2)", "name": "string"}
    fails_unchanged(run_cli, env, TABLE, ["alter", TABLE, "drop-column", "id"], "identifier field", "id")
    env.lake.create("silver.other", "id long not null")
    _ = cli_json(run_cli(env, "alter", "silver.other", "add-column", "k", "string", "--required", "--json"))
    assert env.lake.table("silver.other").schema().find_field("k").required  # no rows yet: allowed
    _ = cli_json(run_cli(env, "alter", "silver.other", "set-optional", "id", "--json"))
    assert not env.lake.table("silver.other").schema().find_field("id").required


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["rename-column", "nope", "x"], ["nope", TABLE, "does not exist"]),
        (["rename-column", "id", "country"], ["country", "already"]),
        (["add-column", "country", "string"], ["country", "already exists"]),
        (["add-column", "x", "strang"], ["strang"]),
        (["add-column", "x", "string", "--required"], ["required column x", TABLE]),
        (["add-column", "x", "string", "--after", "nope"], ["nope", "does not exist"]),
        (["rename", "bad name"], ["bad name"]),
        (["drop-column", "nope"], ["nope", "does not exist"]),
        (["drop-column", "ts"], ["ts", "partition", "ts_day"]),
        (["widen", "country", "long"], ["country", "string", "long"]),
        (["widen", "amount", "float"], ["amount", "double", "float"]),
        (["partition", "add", "day(ts)"], ["already partitioned", "day(ts)"]),
        (["partition", "add", "day(country)"], ["day(country)"]),
        (["partition", "drop", "country"], ["not partitioned by", "country"]),
        (["set-property", "write.target-file-size-bytes=lots"], ["write.target-file-size-bytes"]),
        (["unset-property", "no.such"], ["no.such", "not set"]),
        (["rename", "silver.events"], ["already"]),
        (["identifier-fields", "amount"], ["amount"]),  # optional: cannot be an identifier
    ],
)
def test_bad_input_is_one_line_and_the_table_is_unchanged(
    refusing_lake: LakeEnv, run_cli: CliFn, args: list[str], needles: list[str]
) -> None:
    env = refusing_lake
    before = env.lake.table(TABLE).metadata_location
    fails_unchanged(run_cli, env, TABLE, ["alter", TABLE, *args], *needles)
    assert env.lake.table(TABLE).metadata_location == before


def test_dry_run_shows_the_change_and_commits_nothing(
    local_lake: LakeEnv, tmp_path: Path, run_cli: CliFn
) -> None:
    env = local_lake
    _table(env, tmp_path)
    before = env.lake.table(TABLE).metadata_location
    got = _alter(run_cli, env, "add-column", "discount", "decimal(10,2)", "--first", "--dry-run")
    assert got["dry_run"] and got["changes"] == ["add column discount decimal(10, 2)"]
    assert got["after"]["schema"][0]["name"] == "discount"
    text = run_cli(env, "alter", TABLE, "partition", "add", "day(ts)", "--dry-run")
    assert text.exit_code == 0 and "would alter" in text.stdout and "day(ts)" in text.stdout
    assert env.lake.table(TABLE).metadata_location == before


def test_partition_evolution_new_layout_for_new_files_old_files_keep_theirs(
    any_lake: LakeEnv, tmp_path: Path, run_cli: CliFn
) -> None:
    env = any_lake
    _table(env, tmp_path)
    got = _alter(run_cli, env, "partition", "add", "day(ts)")
    assert got["after"]["partition_spec"] == ["day(ts)"]
    write_jsonl(tmp_path / "more.jsonl", events(6, start=100))
    cli_json(run_cli(env, "ingest", TABLE, str(tmp_path / "more.jsonl"), "--json"))
    files = env.lake.files(TABLE)
    new = [f for f in files if "ts_day=" in f["path"]]
    assert len(new) == 3 and len(files) == 4  # 3 days in the new layout, the old file as it was
    assert env.lake.query(f"SELECT count(*) AS n FROM {TABLE}")["n"][0].as_py() == 18
    assert len(_read_by_others(env)["id"]) == 18
    assert env.lake.query(f"SELECT count(*) AS n FROM {TABLE} WHERE ts >= '2026-06-02'")["n"][0].as_py() == 12
    cli_json(run_cli(env, "ingest", TABLE, str(tmp_path / "more.jsonl"), "--json"))  # 2 files a day
    rows = _read_by_others(env)
    compacted = cli_json(run_cli(env, "compact", TABLE, "--min-input-files", "2", "--json"))
    # the new spec's days are compacted; the old-spec file is left as it is, and says why
    assert compacted["files_before"] == 6 and compacted["files_after"] == 3
    skipped = [p["skipped"] for p in compacted["plan"]["partitions"] if p["skipped"]]
    assert skipped == [] or all("older partition spec" in s for s in skipped)
    assert _read_by_others(env) == rows and len(rows["id"]) == 24
    assert sorted(f["partition"].get("ts_day", "-") for f in env.lake.files(TABLE)) == [
        "-",
        "2026-06-01",
        "2026-06-02",
        "2026-06-03",
    ]
    _alter(run_cli, env, "partition", "replace", "country")
    assert env.lake.describe(TABLE)["partition_spec"] == ["country"]
    assert len(_read_by_others(env)["id"]) == 24


def test_properties_and_rename(local_lake: LakeEnv, tmp_path: Path, run_cli: CliFn) -> None:
    env = local_lake
    _table(env, tmp_path)
    got = _alter(run_cli, env, "set-property", "owner=data-team", "write.target-file-size-bytes=1048576")
    assert "property owner: None -> data-team" in got["changes"]
    _alter(run_cli, env, "unset-property", "owner")
    assert "owner" not in env.lake.describe(TABLE)["properties"]
    got = _alter(run_cli, env, "rename", "gold.events_v2")
    assert got["name"] == "gold.events_v2"
    assert env.lake.tables() == ["gold.events_v2"]
    assert len(_read_by_others(env, "gold.events_v2")["id"]) == 12


def test_library_form_and_nested_column(local_lake: LakeEnv) -> None:
    env = local_lake
    env.lake.create(TABLE, "id long, address struct<city: string>")
    env.lake.add_column(TABLE, "address.zip", "string")
    env.lake.rename_column(TABLE, "address.city", "town")
    schema = env.lake.table(TABLE).schema()
    assert schema.find_field("address.zip") and schema.find_field("address.town")
