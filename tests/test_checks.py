"""Every built-in check, multi-column unique, custom SQL and lake test, on a real local lake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import write_jsonl

from lakehouse.elt.checks import CheckSpecError, parse_checks
from lakehouse.elt.project import Project
from lakehouse.elt.testing import check_project

NOW = datetime.now(UTC)

ROWS = [
    {"id": 1, "user_id": 10, "kind": "a", "amount": 5.0, "ts": (NOW - timedelta(hours=1)).isoformat()},
    {"id": 2, "user_id": 10, "kind": "b", "amount": -1.0, "ts": (NOW - timedelta(hours=2)).isoformat()},
    {"id": 2, "user_id": 11, "kind": "z", "amount": 500.0, "ts": (NOW - timedelta(days=9)).isoformat()},
    {"id": 4, "user_id": None, "kind": "a", "amount": 1.0, "ts": (NOW - timedelta(days=3)).isoformat()},
]


@pytest.fixture
def lake_with_tables(local_lake, tmp_path):
    lake = local_lake.lake
    lake.ingest("bronze.t", str(write_jsonl(tmp_path / "t.jsonl", ROWS)), create=True)
    users = [{"user_id": 10}, {"user_id": 12}]
    lake.ingest("bronze.users", str(write_jsonl(tmp_path / "u.jsonl", users)), create=True)
    return local_lake


CASES = [
    ({"not_null": ["user_id", "kind"]}, {"not_null(user_id)": 1, "not_null(kind)": 0}),
    ({"unique": "id"}, {"unique(id)": 1}),
    ({"unique": ["id", "user_id"]}, {"unique(id, user_id)": 0}),
    ({"accepted_values": {"column": "kind", "values": ["a", "b"]}}, {"accepted_values(kind)": 1}),
    ({"range": {"column": "amount", "min": 0, "max": 100}}, {"range(amount)": 2}),
    ({"row_count": {"min": 5}}, {"row_count": 1}),
    ({"row_count": {"min": 1, "max": 10}}, {"row_count": 0}),
    (
        {"relationships": {"column": "user_id", "to": "bronze.users"}},
        {"relationships(user_id -> bronze.users.user_id)": 1},
    ),
    ({"freshness": {"column": "ts", "max_age": "1 day"}}, {"freshness(ts)": 0}),
    ({"freshness": {"column": "ts", "max_age": "1 minute"}}, {"freshness(ts)": 1}),
    ({"sql": "SELECT * FROM {{ this }} WHERE amount > 100", "name": "no_huge"}, {"no_huge": 1}),
]


def test_checks(lake_with_tables, tmp_path):
    specs = [spec for spec, _ in CASES]
    sources = "sources:\n  bronze.users: {}\n  bronze.t:\n    checks:\n" + "".join(
        f"      - {spec!r}\n" for spec in specs
    )
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "sources.yml").write_text(sources.replace("'", '"'))
    lake = lake_with_tables.lake
    results = check_project(lake.reader, lake.engine, Project.load(tmp_path / "proj"))
    got: dict[str, list[int]] = {}
    for r in results:
        assert r.error is None, r.message()
        got.setdefault(r.check, []).append(r.failing_rows)
    expected: dict[str, list[int]] = {}
    for _, want in CASES:
        for name, n in want.items():
            expected.setdefault(name, []).append(n)
    assert got == expected
    dup = next(r for r in results if r.check == "unique(id)")
    assert dup.sample == [{"id": 2, "duplicates": 2}]
    assert "unique(id) failed: 1 offending row" in dup.message()


def test_lake_test_cli_exit_code_and_warn(lake_with_tables, tmp_path, run_cli):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "sources.yml").write_text(
        "sources:\n  bronze.t:\n    checks:\n      - {unique: id, severity: warn}\n      - {row_count: {min: 1}}\n"
    )
    ok = run_cli(lake_with_tables, "test", "--project", str(tmp_path / "p"))
    assert ok.exit_code == 0, ok.output
    assert "WARN" in ok.stderr
    (tmp_path / "p" / "sources.yml").write_text("sources:\n  bronze.t:\n    checks:\n      - {unique: id}\n")
    bad = run_cli(lake_with_tables, "test", "--project", str(tmp_path / "p"), "--json")
    assert bad.exit_code == 1
    assert "Error: bronze.t: check unique(id) failed" in bad.stderr


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"unique": []}, "needs a column"),
        ({"range": {"column": "a"}}, "needs min or max"),
        ({"relationships": {"column": "a"}}, "needs to"),
        ({"unique": "a", "not_null": "b"}, "exactly one of"),
        ({"unique": "a", "severity": "fatal"}, "severity must be"),
    ],
)
def test_malformed_checks(spec, message):
    with pytest.raises(CheckSpecError, match=message):
        parse_checks("silver.x", [spec])


@pytest.mark.parametrize("max_age", ["2 days", "2d", "48h", "1 day 24 hours"])
def test_freshness_takes_the_one_duration_syntax(max_age: str) -> None:
    """`max_age` reads as `lake expire --older-than` does, in either spelling, when the project loads."""
    (check,) = parse_checks("silver.events", [{"freshness": {"column": "ts", "max_age": max_age}}])
    assert check.params["max_age"] == timedelta(days=2)


def test_freshness_with_a_bad_age_is_one_line_naming_the_model() -> None:
    with pytest.raises(CheckSpecError) as info:
        parse_checks("silver.events", [{"freshness": {"column": "ts", "max_age": "soon"}}])
    assert "silver.events" in str(info.value) and "'soon'" in str(info.value)
    assert "\n" not in str(info.value)
