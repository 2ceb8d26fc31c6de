"""The hostile input corpus (tests/bad_inputs/), each fed through the CLI: one line `Error: ...` that
names the problem and where, exit 1, no new snapshot, no new file in the table's location."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import one_line_error

from lakehouse.storage import list_files
from lakehouse.testing import LakeEnv

CORPUS = Path(__file__).resolve().parent / "bad_inputs"

# file -> words the one-line error must contain (besides the file name)
CASES = {
    "ragged.csv": ["line 3", "expected 2 fields"],
    "unterminated_quote.csv": ["CSV"],
    "malformed.jsonl": ["JSON"],
    "truncated.jsonl": ["JSON"],
    "empty.csv": ["empty"],
    "empty.jsonl": ["empty"],
    "latin1.csv": ["UTF-8"],
    "gzip_named.csv": ["gzip"],
    "duplicate_columns.csv": ["duplicate", "id"],
    "duplicate_columns_case.csv": ["duplicate", "id"],
    "wrong_type.jsonl": ["id"],
    "null_required.jsonl": ["id", "null"],
    "not_parquet.parquet": ["Parquet"],
}


def table_files(env: LakeEnv, name: str = "bronze.t") -> set[str]:
    return {f.path for f in list_files(env.profile, env.lake.table(name).location())}


@pytest.fixture
def lake(local_lake: LakeEnv) -> LakeEnv:
    local_lake.lake.create("bronze.t", "id long not null, name string")
    good = local_lake.root / "good.csv"
    good.write_text("id,name\n1,a\n")
    local_lake.lake.ingest("bronze.t", str(good))
    return local_lake


def rejected(env: LakeEnv, run_cli, source: Path, *extra: str, words: list[str] = ()) -> str:  # type: ignore[assignment]
    snapshots = len(env.lake.table("bronze.t").snapshots())
    files = table_files(env)
    line = one_line_error(run_cli(env, "ingest", "bronze.t", str(source), "-q", *extra))
    assert source.name in line, f"the error does not say where: {line}"
    for word in words:
        assert word.lower() in line.lower(), f"{word!r} missing from: {line}"
    assert len(env.lake.table("bronze.t").snapshots()) == snapshots
    assert table_files(env) == files, "the failed ingest left files in the table location"
    return line


@pytest.mark.parametrize("name", sorted(CASES))
def test_corpus_file_is_rejected(lake: LakeEnv, run_cli, tmp_path: Path, name: str) -> None:
    source = tmp_path / name
    shutil.copy(CORPUS / name, source)
    rejected(lake, run_cli, source, words=CASES[name])


def test_bad_file_with_create_leaves_no_table(local_lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    source = tmp_path / "ragged.csv"
    shutil.copy(CORPUS / "ragged.csv", source)
    line = one_line_error(run_cli(local_lake, "ingest", "bronze.new", str(source), "--create", "-q"))
    assert "ragged.csv" in line
    assert local_lake.lake.tables() == []


def test_very_long_line(lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    source = tmp_path / "long_line.csv"
    with source.open("w") as out:
        out.write("id,name\n1,a\n2,")
        out.write("x" * (20 * 1024 * 1024))
        out.write("\n3,c\n")
    rejected(lake, run_cli, source)


def test_ten_thousand_column_header(lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    source = tmp_path / "wide.csv"
    names = ["id", "name", *[f"c{i}" for i in range(9998)]]
    source.write_text(",".join(names) + "\n" + ",".join(["1", "a", *["0"] * 9998]) + "\n")
    line = rejected(lake, run_cli, source, words=["lacks", "--evolve"])
    assert len(line) < 4000, "a 10,000-column error should stay readable"


def test_decimal_scale_change(local_lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    local_lake.lake.create("bronze.t", "id long not null, price decimal(10,3)")
    source = tmp_path / "prices.parquet"
    pq.write_table(pa.table({"id": [1], "price": pa.array([Decimal("1.25")], pa.decimal128(10, 2))}), source)
    rejected(local_lake, run_cli, source, words=["price", "scale"])


def test_unknown_partition_transform(local_lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    source = tmp_path / "e.csv"
    source.write_text("id,ts\n1,2026-01-01T00:00:00\n")
    for spec in ("frobnicate(ts)", "bucket(ts)", "day(nope)", "day(ts"):
        line = one_line_error(
            run_cli(local_lake, "ingest", "bronze.p", str(source), "--create", "--partition-by", spec, "-q")
        )
        assert "partition" in line.lower() or spec.split("(")[0] in line, line
    assert local_lake.lake.tables() == []


@pytest.mark.parametrize("as_of", ["not-a-time", "2026-02-30", "-5", "99999999999", "", "2026-01-01'--"])
def test_invalid_as_of(lake: LakeEnv, run_cli, as_of: str) -> None:
    line = one_line_error(run_cli(lake, "describe", "bronze.t", "--as-of", as_of))
    assert "bronze.t" in line or "as-of" in line.lower() or "snapshot" in line.lower(), line


@pytest.mark.parametrize(
    "name",
    ["bronze.t'; DROP TABLE x; --", 'bronze."t"', "../bronze.t", "bronze.t/../../x", "a.b.c", ".t", "t"],
)
def test_hostile_identifiers(lake: LakeEnv, run_cli, tmp_path: Path, name: str) -> None:
    source = tmp_path / "good.csv"
    source.write_text("id,name\n1,a\n")
    line = one_line_error(run_cli(lake, "ingest", name, str(source), "--create", "-q"))
    assert "invalid table name" in line
    assert lake.lake.tables() == ["bronze.t"]


@pytest.mark.parametrize(
    "args",
    [
        ["expire", "bronze.events", "--older-than", "99999999999999d"],
        ["gc", "bronze.events", "--older-than", "1" + "0" * 400 + "d"],
        ["compact", "bronze.events", "--target-size", "9" * 400],
        ["compact", "bronze.events", "--target-size", "2000TB"],
    ],
)
def test_overflowing_options_are_one_line(local_lake, run_cli, tmp_path, args) -> None:
    from conftest import events, fails_unchanged, write_jsonl

    local_lake.lake.ingest("bronze.events", str(write_jsonl(tmp_path / "e.jsonl", events(5))), create=True)
    line = fails_unchanged(run_cli, local_lake, "bronze.events", args, "invalid")
    assert len(line) < 200


def test_sql_file_must_be_a_small_regular_file(local_lake, run_cli, tmp_path) -> None:
    """`--file /dev/zero` used to read until MemoryError."""
    big = tmp_path / "big.sql"
    with open(big, "wb") as handle:
        handle.truncate(17 * 1024 * 1024)
    for path, needle in (("/dev/zero", "not a regular file"), (str(big), "larger than 16 MB")):
        line = one_line_error(run_cli(local_lake, "query", "--file", path))
        assert needle in line and path in line
