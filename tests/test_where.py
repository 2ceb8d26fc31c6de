"""`--where` on `lake delete`, `lake update` and `lake compact` is the SQL `lake query` takes: a timestamp
in any ISO form (`Z`, an offset, none, a date alone) on a timestamp or timestamptz column prunes and
selects exactly the rows DuckDB's own cast selects; a predicate that cannot prune says so in one line
and the operation is still exact. Results are read back with pyiceberg."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from conftest import cli_json, fails_unchanged, module_lake, write_jsonl

from lakehouse.testing import LakeEnv

TABLE = "s.w"
FORMS = {
    "none": "2026-06-01T00:00:00",
    "space": "2026-06-01 00:00:00",
    "Z": "2026-06-01T00:00:00Z",
    "offset": "2026-06-01T02:00:00+02:00",
    "negative offset": "2026-05-31T19:00:00-05:00",
    "date only": "2026-06-01",
}
START = datetime(2026, 5, 31)
STEP = timedelta(minutes=90)  # 48 rows over three days: 2026-05-31 .. 2026-06-02
PER_APPEND = 48


def _make(env: LakeEnv, tmp_path: Path, kind: str, appends: int = 1) -> None:
    env.lake.create(
        TABLE, f"id long, ts {kind}, v long", partition_by="day(ts)",
        properties={"lake.compact.allow-any-target": "true"},
    )  # fmt: skip
    zone = "Z" if kind == "timestamptz" else ""
    for a in range(appends):
        rows = [
            {"id": a * PER_APPEND + i, "ts": (START + i * STEP).isoformat() + zone, "v": i}
            for i in range(PER_APPEND)
        ]
        env.lake.ingest(TABLE, str(write_jsonl(tmp_path / f"{a}.jsonl", rows)))


@pytest.fixture(scope="module")
def refusing_lake(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> LakeEnv:
    """One timestamp table for the module's refused commands (each asserts the table is unchanged)."""
    env = module_lake(request, tmp_path_factory, "local")
    _make(env, env.root, "timestamp")
    return env


def _threshold(text: str, kind: str) -> datetime:
    """The oracle: standalone DuckDB's own cast of the literal to the column's type (zone UTC)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    cast = "TIMESTAMPTZ" if kind == "timestamptz" else "TIMESTAMP"
    value = con.execute(f"SELECT epoch_us(CAST(? AS {cast}))", [text]).fetchone()[0]
    return datetime(1970, 1, 1) + timedelta(microseconds=value)


def _ids_at_or_after(threshold: datetime, appends: int = 1) -> set[int]:
    return {
        a * PER_APPEND + i for a in range(appends) for i in range(PER_APPEND) if START + i * STEP >= threshold
    }


def _rows(env: LakeEnv) -> dict[int, int]:
    """id -> v, as pyiceberg reads the table (not our reader)."""
    table = env.lake.table(TABLE)
    return {r["id"]: r["v"] for r in table.scan().to_arrow().to_pylist()}


@pytest.mark.parametrize("kind", ["timestamp", "timestamptz"])
@pytest.mark.parametrize("form", sorted(FORMS))
def test_delete_with_any_iso_form_prunes_and_deletes_what_duckdb_selects(
    local_lake: LakeEnv, run_cli, tmp_path: Path, kind: str, form: str
) -> None:
    _make(local_lake, tmp_path, kind)
    literal = FORMS[form]
    threshold = _threshold(literal, kind)
    gone = _ids_at_or_after(threshold)
    assert 0 < len(gone) < PER_APPEND
    days = {(START + i * STEP).date() for i in range(PER_APPEND) if START + i * STEP >= threshold}
    result = run_cli(local_lake, "delete", TABLE, "--where", f"ts >= '{literal}'", "--json")
    out = cli_json(result)
    assert out["rows_deleted"] == len(gone)
    assert set(_rows(local_lake)) == set(range(PER_APPEND)) - gone
    plan = out["plan"]
    assert plan["pruning"] and plan["note"] is None
    assert plan["candidate_files"] == len(days) and plan["table_files"] == 3  # one file a day: pruned by day
    offset_dropped = kind == "timestamp" and "offset" in form
    assert ("DuckDB drops the offset" in result.stderr) == offset_dropped, result.stderr


@pytest.mark.parametrize("kind", ["timestamp", "timestamptz"])
@pytest.mark.parametrize("form", sorted(FORMS))
def test_update_with_any_iso_form_changes_what_duckdb_selects(
    local_lake: LakeEnv, run_cli, tmp_path: Path, kind: str, form: str
) -> None:
    _make(local_lake, tmp_path, kind)
    literal = FORMS[form]
    before = _ids_at_or_after(_threshold(literal, kind))
    changed = set(range(PER_APPEND)) - before
    out = cli_json(
        run_cli(local_lake, "update", TABLE, "--set", "v = -1", "--where", f"ts < '{literal}'", "--json")
    )
    assert out["rows_updated"] == len(changed) and out["plan"]["pruning"]
    rows = _rows(local_lake)
    assert {i for i, v in rows.items() if v == -1} == changed and len(rows) == PER_APPEND


@pytest.mark.parametrize("kind", ["timestamp", "timestamptz"])
@pytest.mark.parametrize("form", sorted(FORMS))
def test_compact_with_any_iso_form_rewrites_only_the_matching_partitions(
    local_lake: LakeEnv, run_cli, tmp_path: Path, kind: str, form: str
) -> None:
    _make(local_lake, tmp_path, kind, appends=3)
    before_rows = _rows(local_lake)
    before_files = {f["path"]: f["partition"]["ts_day"] for f in local_lake.lake.files(TABLE)}
    threshold = _threshold(FORMS[form], kind)
    wanted = {
        (START + i * STEP).date().isoformat() for i in range(PER_APPEND) if START + i * STEP >= threshold
    }
    result = run_cli(
        local_lake, "compact", TABLE, "--where", f"ts >= '{FORMS[form]}'", "--target-size", "64KB",
        "--min-input-files", "2", "--json",
    )  # fmt: skip
    out = cli_json(result)
    assert out["files_before"] == 3 * len(wanted) and out["files_after"] == len(wanted)
    after = {f["path"]: f["partition"]["ts_day"] for f in local_lake.lake.files(TABLE)}
    kept = {p: d for p, d in before_files.items() if d not in wanted}
    assert {p: d for p, d in after.items() if d not in wanted} == kept  # other partitions untouched
    assert sorted(d for d in after.values() if d in wanted) == sorted(wanted)  # one file each
    assert _rows(local_lake) == before_rows
    assert "cannot select partitions" not in result.stderr


def test_a_predicate_that_cannot_prune_says_so_once_and_stays_exact(
    local_lake: LakeEnv, run_cli, tmp_path: Path
) -> None:
    _make(local_lake, tmp_path, "timestamptz", appends=3)
    before_files = len(local_lake.lake.files(TABLE))
    result = run_cli(local_lake, "compact", TABLE, "--where", "v % 2 = 0", "--target-size", "64KB",
                     "--min-input-files", "2", "--json")  # fmt: skip
    warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    assert warnings == [
        "Warning: --where 'v % 2 = 0' cannot select partitions (only a column compared with a constant prunes, "
        "e.g. ts >= '2026-06-01' AND country = 'US'); every partition is a candidate"
    ]
    assert cli_json(result)["files_before"] == before_files == 9 and len(local_lake.lake.files(TABLE)) == 3

    result = run_cli(
        local_lake, "delete", TABLE, "--where", "v % 2 = 0 OR ts < '2026-05-31T03:00:00Z'", "--json"
    )
    out = cli_json(result)
    assert not out["plan"]["pruning"] and out["plan"]["note"].startswith(
        "--where cannot prune (only a column"
    )
    left = _rows(local_lake)
    assert sorted(left) == sorted(
        i for i in range(3 * PER_APPEND) if (i % PER_APPEND) % 2 == 1 and i % PER_APPEND >= 2
    )


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["compact", TABLE, "--where", "ts >= "], ["cannot parse --where", "syntax error at line 1"]),
        (["compact", TABLE, "--where", "tz >= '2026-06-01'"], ["unknown column 'tz'", "columns: id, ts, v"]),
        (["compact", TABLE, "--where", "id IN (SELECT 1)"], ["subqueries"]),
        (["compact", TABLE, "--where", "read_text('/etc/passwd') = ''"], ["read_text() is not allowed"]),
        (["delete", TABLE, "--where", "ts >= AND"], ["cannot parse --where", "syntax error at line 1"]),
        (["compact", TABLE, "--where", "ts >= '2026"], ["cannot parse --where", "is a quote left open?"]),
        (["update", TABLE, "--set", "v = ", "--where", "id = 1"], ["cannot parse --set", "column 3"]),
    ],
)
def test_bad_where_is_one_line_without_parser_internals(
    refusing_lake: LakeEnv, run_cli, args: list[str], needles: list[str]
) -> None:
    line = fails_unchanged(run_cli, refusing_lake, TABLE, args, *needles)
    assert len(line) < 300 and "Expected {" not in line and "<class" not in line, line


@pytest.mark.parametrize(
    "text",
    [
        *FORMS.values(),
        "2026-06-01T00:00:00.123456Z",
        "2026-06-01T23:59:59+14:00",
        "2026-06-01 00:00:00-00:30",
    ],
)
@pytest.mark.parametrize("kind", ["TIMESTAMP", "TIMESTAMPTZ"])
def test_literals_read_as_duckdb_casts_them(text: str, kind: str) -> None:
    from lakehouse.read.predicate import micros

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    expected = con.execute(f"SELECT epoch_us(CAST(? AS {kind}))", [text]).fetchone()[0]  # type: ignore[index]
    assert micros(text, with_zone=kind == "TIMESTAMPTZ") == expected


TYPED = [
    "ts >= TIMESTAMP '2026-06-01 02:00:00'",
    "ts >= TIMESTAMPTZ '2026-06-01 02:00:00+02'",
    "ts < '2026-06-01T02:00:00+02:00'::TIMESTAMPTZ",
    "ts >= DATE '2026-06-02'",
    "ts BETWEEN '2026-05-31T22:00:00Z' AND '2026-06-01 01:30:00'",
    "ts IN ('2026-06-01T00:00:00Z', '2026-06-02')",
    "'2026-06-01' > ts OR v = 47",
    "NOT (ts >= '2026-06-01T00:00:00-01:00')",
]


@pytest.mark.parametrize("kind", ["timestamp", "timestamptz"])
def test_delete_matches_what_lake_query_selects(
    local_lake: LakeEnv, run_cli, tmp_path: Path, kind: str
) -> None:
    """The same predicate in `lake query` and `lake delete --dry-run` selects the same rows, and pruning
    keeps every file holding one of them."""
    _make(local_lake, tmp_path, kind)
    for where in TYPED:
        rows = cli_json(
            run_cli(local_lake, "query", f"SELECT count(*) AS n FROM {TABLE} WHERE {where}", "--json")
        )
        out = cli_json(run_cli(local_lake, "delete", TABLE, "--where", where, "--dry-run", "--json"))
        plan = out.get("plan", out)
        assert plan["matching_rows"] == rows["rows"][0]["n"] > 0, where
        assert plan["pruning"], where
