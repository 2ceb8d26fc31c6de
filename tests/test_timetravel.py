"""Time travel: `--as-of`, `FOR TIMESTAMP/VERSION AS OF` and `read(snapshot_id=)` agree with DuckDB's
own `iceberg_scan(metadata, snapshot_from_id=...)`, and every reference that does not resolve is a
one-line error that changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pytest
from conftest import (
    HISTORY_TABLE,
    build_history,
    cli_json,
    events,
    fails_unchanged,
    write_jsonl,
)

from lakehouse.errors import SnapshotNotFoundError
from lakehouse.table.snapshots import EXPIRED_PROPERTY
from lakehouse.testing import LakeEnv, local_properties, make_lake_env, s3_properties

TABLE = HISTORY_TABLE


def sort(table: pa.Table) -> pa.Table:
    return table.sort_by([("id", "ascending")])


@pytest.fixture(scope="module")
def s3_history(moto_s3, tmp_path_factory) -> tuple[LakeEnv, list[int]]:
    """One S3 lake with a three-snapshot history, shared by the read-only tests of this module."""
    root = tmp_path_factory.mktemp("s3-history")
    env = make_lake_env(root, s3_properties(moto_s3.endpoint, root))
    ids = build_history(env, root)
    env.lake.tag(TABLE, "v1", ids[0])
    return env, ids


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> tuple[LakeEnv, list[int]]:
    """One local lake with a three-snapshot history and tags v1, v2; tests must not change it."""
    root = tmp_path_factory.mktemp("history")
    env = make_lake_env(root, local_properties(root))
    ids = build_history(env, root)
    env.lake.tag(TABLE, "v1", ids[0])
    env.lake.tag(TABLE, "v2", ids[1])
    env.lake.ingest("gold.users", str(write_jsonl(root / "u.jsonl", [{"user_id": 1}])), create=True)
    return env, ids


def test_every_as_of_form_agrees_with_duckdb_iceberg_scan(s3_history, run_cli) -> None:
    env, ids = s3_history
    lk = env.lake
    snaps = {s["snapshot_id"]: s for s in lk.snapshots(TABLE)}
    metadata = lk.table(TABLE).metadata_location
    # the reference: DuckDB's own iceberg_scan at each snapshot, in one unlocked engine
    with lk.engine(locked=False) as engine:
        expected = {
            sid: sort(
                engine.con.execute(
                    f"SELECT * FROM iceberg_scan('{metadata}', snapshot_from_id = {sid})"
                ).fetch_arrow_table()
            )
            for sid in ids
        }
    # both SQL forms for every snapshot, plus a tag, in one query
    parts = []
    for n, sid in enumerate(ids):
        when = snaps[sid]["committed_at"]
        parts.append(f"SELECT 'v{n}' AS form, * FROM {TABLE} FOR VERSION AS OF {sid}")
        parts.append(f"SELECT 't{n}' AS form, * FROM {TABLE} FOR TIMESTAMP AS OF '{when}'")
    parts.append(f"SELECT 'tag' AS form, * FROM {TABLE} FOR VERSION AS OF 'v1'")
    union = lk.query(" UNION ALL ".join(parts))
    forms = union["form"].to_pylist()

    def form(name: str) -> pa.Table:
        keep = [i for i, f in enumerate(forms) if f == name]
        return sort(union.take(keep).drop_columns(["form"]))

    for n, sid in enumerate(ids):
        assert expected[sid].num_rows == snaps[sid]["total_rows"]
        assert form(f"v{n}").equals(expected[sid])
        assert form(f"t{n}").equals(expected[sid])
        assert sort(lk.read(TABLE, snapshot_id=sid)).equals(expected[sid])
    assert form("tag").equals(expected[ids[0]])
    assert sort(lk.read(TABLE, as_of=snaps[ids[1]]["committed_at"])).equals(expected[ids[1]])
    streamed = pa.Table.from_batches(list(lk.batches(TABLE, snapshot_id=ids[1], batch_size=7)))
    assert sort(streamed).equals(expected[ids[1]])
    # the CLI's --as-of reads the same rows and reports the snapshot it read
    out = cli_json(
        run_cli(env, "query", f"SELECT id, amount FROM {TABLE} ORDER BY id", "--as-of", str(ids[0]), "--json")
    )
    assert out["snapshots"] == {TABLE: str(ids[0])}
    assert [r["id"] for r in out["rows"]] == expected[ids[0]]["id"].to_pylist()
    assert [r["amount"] for r in out["rows"]] == expected[ids[0]]["amount"].to_pylist()


def test_timestamp_forms_bare_date_no_zone_and_offset(history, run_cli) -> None:
    env, ids = history
    lk = env.lake
    second = lk.snapshots(TABLE)[1]
    at = datetime.fromisoformat(second["committed_at"].replace("Z", "+00:00"))
    no_zone = at.replace(tzinfo=None).isoformat(timespec="milliseconds")
    plus_two = at.astimezone(timezone(timedelta(hours=2))).isoformat(timespec="milliseconds")
    for ref in (second["committed_at"], no_zone, no_zone.replace("T", " "), plus_two):
        assert lk.snapshot(TABLE, ref).snapshot_id == ids[1], ref
    tomorrow = (at + timedelta(days=1)).date().isoformat()
    assert lk.snapshot(TABLE, tomorrow).snapshot_id == ids[-1]
    today = at.date().isoformat()  # a bare date is midnight UTC at its start: before the first commit
    fails_unchanged(
        run_cli, env, TABLE, ["query", f"SELECT count(*) FROM {TABLE}", "--as-of", today],
        f"no snapshot at or before {today}T00:00:00.000Z",
    )  # fmt: skip


def test_timestamp_applies_to_every_table_and_table_ref_to_one(history, run_cli) -> None:
    env, ids = history
    user_snap = env.lake.snapshot("gold.users").snapshot_id
    later = (datetime.now(UTC) + timedelta(seconds=5)).isoformat()
    sql = f"SELECT count(*) AS n FROM {TABLE} e JOIN gold.users u USING (user_id)"
    out = cli_json(run_cli(env, "query", sql, "--as-of", later, "--as-of", f"{TABLE}={ids[0]}", "--json"))
    assert out["snapshots"] == {TABLE: str(ids[0]), "gold.users": str(user_snap)}
    assert out["rows"] == [{"n": sum(1 for e in events(40) if e["user_id"] == 1)}]
    plan_sql, reads = env.lake.plan_query(sql, later)
    assert {r.identifier: r.snapshot_id for r in reads} == {TABLE: ids[-1], "gold.users": user_snap}


def test_snapshot_ids_stay_exact_64_bit_in_json(history, run_cli) -> None:
    env, ids = history
    result = run_cli(env, "query", f"SELECT 1 AS x FROM {TABLE} LIMIT 1", "--as-of", str(ids[0]), "--json")
    assert f'"{TABLE}": "{ids[0]}"' in result.stdout  # a string: jq and JavaScript read numbers as doubles
    listing = run_cli(env, "snapshots", TABLE, "--json").stdout
    for sid in ids:
        assert f'"snapshot_id": "{sid}",' in listing
    assert [int(s["snapshot_id"]) for s in json.loads(listing)] == ids


# ---------------------------------------------------------------- errors: one line, exit 1, nothing changed


def test_time_before_first_snapshot_names_earliest_commit(history, run_cli) -> None:
    env, _ = history
    earliest = env.lake.snapshots(TABLE)[0]["committed_at"]
    msg = f"the earliest available commit is {earliest}"
    fails_unchanged(run_cli, env, TABLE, ["query", f"SELECT * FROM {TABLE}", "--as-of", "2020-01-01"], msg)
    sql = f"SELECT * FROM {TABLE} FOR TIMESTAMP AS OF '2020-01-01 00:00:00'"
    fails_unchanged(run_cli, env, TABLE, ["query", sql], msg)
    fails_unchanged(run_cli, env, TABLE, ["describe", TABLE, "--as-of", "2020-01-01T00:00:00Z"], msg)
    fails_unchanged(run_cli, env, TABLE, ["files", TABLE, "--as-of", "2020-01-01"], msg)


def test_unknown_id_names_current_snapshot(history, run_cli) -> None:
    env, ids = history
    bogus = "8744736658442914487"
    msg = f"snapshot {bogus} does not exist in {TABLE}; its current snapshot is {ids[-1]}"
    fails_unchanged(run_cli, env, TABLE, ["query", f"SELECT * FROM {TABLE}", "--as-of", bogus], msg)
    fails_unchanged(run_cli, env, TABLE, ["query", f"SELECT * FROM {TABLE} FOR VERSION AS OF {bogus}"], msg)
    fails_unchanged(run_cli, env, TABLE, ["describe", TABLE, "--as-of", bogus], msg)


def test_unknown_tag_lists_tags(history, run_cli) -> None:
    env, _ = history
    msg = f"{TABLE} has no tag or branch 'v3'; its tags and branches: main, v1, v2"  # as `lake tags` lists
    fails_unchanged(run_cli, env, TABLE, ["query", f"SELECT * FROM {TABLE}", "--as-of", "v3"], msg)
    fails_unchanged(run_cli, env, TABLE, ["query", f"SELECT * FROM {TABLE} FOR VERSION AS OF 'v3'"], msg)
    fails_unchanged(run_cli, env, TABLE, ["files", TABLE, "--as-of", "v3"], msg)


def test_malformed_refs_are_errors(history, run_cli) -> None:
    env, _ = history
    fails_unchanged(run_cli, env, TABLE, ["query", f"SELECT * FROM {TABLE}", "--as-of", ""], "empty --as-of")
    fails_unchanged(
        run_cli, env, TABLE, ["query", f"SELECT * FROM {TABLE}", "--as-of", "2026-13-45"],
        f"invalid --as-of '2026-13-45' for {TABLE}: not an ISO-8601 time",
    )  # fmt: skip
    fails_unchanged(
        run_cli, env, TABLE, ["query", f"SELECT * FROM {TABLE} FOR TIMESTAMP AS OF '123'"],
        "FOR TIMESTAMP AS OF needs a time",
    )  # fmt: skip


def test_expired_snapshot_says_expired(local_lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    ids = build_history(local_lake, tmp_path)
    result = run_cli(local_lake, "expire", TABLE, "--older-than", "0s", "--retain-last", "1", "--json")
    assert result.exit_code == 0, result.output
    assert str(ids[0]) in local_lake.lake.table(TABLE).properties.get(EXPIRED_PROPERTY, "")
    msg = f"snapshot {ids[0]} of {TABLE} was expired"
    fails_unchanged(
        run_cli, local_lake, TABLE, ["query", f"SELECT * FROM {TABLE}", "--as-of", str(ids[0])], msg
    )
    fails_unchanged(
        run_cli, local_lake, TABLE, ["query", f"SELECT * FROM {TABLE} FOR VERSION AS OF {ids[0]}"], msg
    )
    fails_unchanged(
        run_cli,
        local_lake,
        TABLE,
        ["describe", TABLE, "--as-of", str(ids[1])],
        f"snapshot {ids[1]} of {TABLE} was expired",
    )


def _mid(a: int, b: int) -> str:
    """An ISO time halfway between two commit times (ms)."""
    return datetime.fromtimestamp((a + b) / 2000, UTC).isoformat(timespec="milliseconds")


def test_a_time_in_an_expired_snapshots_span_says_expired(local_lake: LakeEnv, run_cli, tmp_path) -> None:
    """pyiceberg's expire kept the log entries before an expired snapshot, so a time in its span read
    the older, tagged snapshot instead. Iceberg Java clears that history; so does lake now."""
    ids = build_history(local_lake, tmp_path)
    lk = local_lake.lake
    lk.tag(TABLE, "v1", ids[0])
    at = {s.snapshot_id: s.timestamp_ms for s in lk.table(TABLE).snapshots()}
    in_s0, in_s1, in_s2 = _mid(at[ids[0]], at[ids[1]]), _mid(at[ids[1]], at[ids[2]]), "2100-01-01"
    result = run_cli(local_lake, "expire", TABLE, "--older-than", "0s", "--retain-last", "1", "--json")
    assert result.exit_code == 0, result.output
    table = lk.table(TABLE)
    # Java's RemoveSnapshots rule: the history up to the last expired snapshot is gone from the log.
    assert [e.snapshot_id for e in table.metadata.snapshot_log] == [ids[2]]
    msg = f"snapshot {ids[1]} of {TABLE} was expired"
    fails_unchanged(run_cli, local_lake, TABLE, ["query", f"SELECT * FROM {TABLE}", "--as-of", in_s1], msg)
    fails_unchanged(
        run_cli, local_lake, TABLE, ["query", f"SELECT * FROM {TABLE} FOR TIMESTAMP AS OF '{in_s1}'"], msg
    )
    assert lk.snapshot(TABLE, in_s0).snapshot_id == ids[0]  # the tagged snapshot, in its own span
    assert lk.snapshot(TABLE, in_s2).snapshot_id == ids[2]
    # Spark or Trino reading the log (pyiceberg's as-of too) no longer finds the tagged one for in_s1.
    assert table.snapshot_as_of_timestamp(at[ids[1]] + 1) is None


def test_a_log_that_pyiceberg_expired_still_refuses_the_expired_span(local_lake: LakeEnv, tmp_path) -> None:
    """A table expired by pyiceberg itself (or by lake before this fix) keeps the older entries; the
    resolver sees that the next commit's parent is not the entry before it."""
    ids = build_history(local_lake, tmp_path)
    lk = local_lake.lake
    at = {s.snapshot_id: s.timestamp_ms for s in lk.table(TABLE).snapshots()}
    lk.table(TABLE).maintenance.expire_snapshots().by_id(ids[1]).commit()
    assert [e.snapshot_id for e in lk.table(TABLE).metadata.snapshot_log] == [ids[0], ids[2]]
    with pytest.raises(SnapshotNotFoundError, match="current at .* was expired"):
        lk.snapshot(TABLE, _mid(at[ids[1]], at[ids[2]]))
    with pytest.raises(SnapshotNotFoundError, match="current at .* was expired"):
        lk.snapshot(TABLE, _mid(at[ids[0]], at[ids[1]]))  # s0's or s1's span: it can no longer tell
    assert lk.snapshot(TABLE, "2100-01-01").snapshot_id == ids[2]
    with pytest.raises(SnapshotNotFoundError, match="no snapshot at or before"):
        lk.snapshot(TABLE, "2000-01-01")


# ---------------------------------------------------------------- time zone


def test_queries_run_in_utc_whatever_the_machines_time_zone(local_lake, tmp_path: Path) -> None:
    """Cursors used to run in the machine's zone: under New York time, CAST(ts AS DATE) moved the
    rows committed before 04:00 UTC to the previous day."""
    import os
    import subprocess
    import sys

    rows = events(48, days=2)  # 24 rows on each of 2026-06-01 and 2026-06-02, from 00:00 to 23:00 UTC
    local_lake.lake.create(
        "bronze.tz", "id long, ts timestamptz, country string, amount double, user_id long"
    )
    local_lake.lake.ingest("bronze.tz", str(write_jsonl(tmp_path / "tz.jsonl", rows)))
    sql = "SELECT CAST(ts AS DATE)::VARCHAR AS day, count(*) AS n FROM bronze.tz GROUP BY 1 ORDER BY 1"
    expected = [{"day": "2026-06-01", "n": 24}, {"day": "2026-06-02", "n": 24}]
    assert local_lake.lake.query(sql).to_pylist() == expected
    env = {**os.environ, "TZ": "America/New_York", "PYTHONPATH": str(Path(__file__).parents[1])}
    proc = subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", *local_lake.cli_args(), "query", "--format", "json", sql],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == expected
    settings = "SELECT current_setting('TimeZone') AS tz, current_setting('parquet_metadata_cache') AS cache"
    cursor = local_lake.lake.engine(locked=True)  # user SQL may not read settings; a cursor may
    try:
        assert cursor.con.execute(settings).fetchall() == [("UTC", True)]
    finally:
        cursor.close()
