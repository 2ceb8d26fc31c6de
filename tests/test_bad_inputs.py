"""The hostile input corpus (tests/bad_inputs/), each fed through the CLI: one line `Error: ...` that
names the problem and where, exit 1, no new snapshot, no new file in the table's location."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import module_lake, one_line_error

from lakehouse.io.storage import list_files
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


def with_table(env: LakeEnv) -> LakeEnv:
    env.lake.create("bronze.t", "id long not null, name string")
    good = env.root / "good.csv"
    good.write_text("id,name\n1,a\n")
    env.lake.ingest("bronze.t", str(good))
    return env


@pytest.fixture(scope="module")
def lake(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> LakeEnv:
    """`bronze.t` with one row, shared by the module's refusal tests: each asserts that its refused
    input left no snapshot, table or file behind, so the next one starts from the same table."""
    return with_table(module_lake(request, tmp_path_factory, "local"))


@pytest.fixture
def own_lake(local_lake: LakeEnv) -> LakeEnv:
    """`bronze.t` for a test whose ingest succeeds."""
    return with_table(local_lake)


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


# ---------------------------------------------------------------- issue 10: values changed in silence (#15-#17, #19, #20)

VALUE_CASES = {
    "unnamed_column.csv": ["column 2", "no name"],  # DuckDB would invent `column1`
    "trailing_comma.csv": ["column 3", "trailing comma"],
    "mixed_line_endings.csv": ["line 2", "mixed line endings"],  # was `Error when sniffing file ""`
    "blank.jsonl": ["empty"],  # was "lacks columns: json"
    "empty_array.json": ["empty", "array"],  # was a table with a column `json` and no rows
    "case_keys.jsonl": ["Id and id", "case"],  # was silently renamed to id_1
    "beyond_long.csv": ["line 3", "id", "9223372036854775808"],
    "beyond_long.jsonl": ["line 2", "id", "9223372036854775808", "beyond its range"],
}


@pytest.mark.parametrize("name", sorted(VALUE_CASES))
def test_value_corpus_file_is_rejected(lake: LakeEnv, run_cli, tmp_path: Path, name: str) -> None:
    source = tmp_path / name
    shutil.copy(CORPUS / name, source)
    rejected(lake, run_cli, source, words=VALUE_CASES[name])


@pytest.mark.parametrize("name", ["unnamed_column.csv", "trailing_comma.csv", "mixed_line_endings.csv",
                                  "blank.jsonl", "case_keys.jsonl", "empty_array.json"])  # fmt: skip
def test_value_corpus_file_creates_no_table(local_lake: LakeEnv, run_cli, tmp_path: Path, name: str) -> None:
    source = tmp_path / name
    shutil.copy(CORPUS / name, source)
    line = one_line_error(run_cli(local_lake, "ingest", "bronze.new", str(source), "--create", "-q"))
    assert name in line, line
    assert local_lake.lake.tables() == []


def _scan(env: LakeEnv, name: str) -> pa.Table:
    """The table as pyiceberg and DuckDB's iceberg_scan read it (they must agree)."""
    table = env.lake.table(name)
    by_pyiceberg = table.scan().to_arrow().sort_by("id")
    with env.lake.engine(locked=False) as engine:
        result = engine.con.execute(
            f"SELECT * FROM iceberg_scan('{table.metadata_location}') ORDER BY id"
        ).arrow()
    by_duckdb = result.read_all() if isinstance(result, pa.RecordBatchReader) else result
    assert by_duckdb.to_pylist() == by_pyiceberg.to_pylist()
    return by_pyiceberg


def test_integers_beyond_long_keep_every_digit(local_lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    """#15: the sniffer typed them DOUBLE, storing 9007199254740993 as 9007199254740992."""
    source = tmp_path / "big.csv"
    wide = "123456789012345678901234567890"
    source.write_text(f"id,v,w\n1,9007199254740993,1\n2,18446744073709551615,{wide}\n3,-5,\n")
    result = run_cli(local_lake, "ingest", "bronze.big", str(source), "--create", "-q")
    assert result.exit_code == 0, result.output
    types = {f.name: str(f.field_type) for f in local_lake.lake.table("bronze.big").schema().fields}
    assert types == {"id": "long", "v": "decimal(20, 0)", "w": "decimal(38, 0)"}
    got = _scan(local_lake, "bronze.big")
    assert got.column("v").to_pylist() == [
        Decimal(9007199254740993),
        Decimal(18446744073709551615),
        Decimal(-5),
    ]
    assert got.column("w").to_pylist() == [Decimal(1), Decimal(wide), None]


def test_integer_wider_than_any_decimal_is_refused(local_lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    source = tmp_path / "huge.csv"
    huge = "9" * 40
    source.write_text(f"id,v\n1,{huge}\n")
    line = one_line_error(run_cli(local_lake, "ingest", "bronze.huge", str(source), "--create", "-q"))
    assert "column v" in line and huge in line and "huge.csv" in line, line
    assert local_lake.lake.tables() == []


def test_offsets_into_timestamp_are_converted_to_utc(local_lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    """#16: `+14:00` and `-12:00` are 26 hours apart; into `timestamp` the offset used to be dropped.
    As Spark does for a timestamp without zone, the instant is converted to UTC (our session zone)."""
    from datetime import UTC, datetime

    local_lake.lake.create("bronze.ts", "id long, t timestamp, tz timestamptz")
    source = tmp_path / "ts.csv"
    source.write_text(
        "id,t,tz\n"
        "1,2026-01-01T12:00:00+14:00,2026-01-01T12:00:00+14:00\n"
        "2,2026-01-01T12:00:00-12:00,2026-01-01T12:00:00-12:00\n"
        "3,2026-01-01 05:00:00,2026-01-01 05:00:00\n"
    )
    assert run_cli(local_lake, "ingest", "bronze.ts", str(source), "-q").exit_code == 0
    got = local_lake.lake.table("bronze.ts").scan().to_arrow().sort_by("id")
    expected = [datetime(2025, 12, 31, 22), datetime(2026, 1, 2, 0), datetime(2026, 1, 1, 5)]
    assert got.column("t").to_pylist() == expected
    assert got.column("tz").to_pylist() == [d.replace(tzinfo=UTC) for d in expected]
    # text columns from Parquet (cast by us, not parsed by the CSV reader) follow the same rule
    text = tmp_path / "ts.parquet"
    pq.write_table(pa.table({"id": [4, 5], "t": ["2026-01-01T12:00:00+14:00", "2026-01-01T12:00:00-12:00"],
                             "tz": ["2026-01-01T12:00:00+14:00", "2026-01-01T12:00:00-12:00"]}), text)  # fmt: skip
    assert run_cli(local_lake, "ingest", "bronze.ts", str(text), "-q").exit_code == 0
    got = _scan(local_lake, "bronze.ts").filter(pa.compute.greater(pa.compute.field("id"), 3))
    assert got.column("t").to_pylist() == expected[:2]


def test_json_document_array_is_read_as_rows(local_lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    """#17: a `.json` file holding one top-level array used to become one row with a list column."""
    source = tmp_path / "rows.json"
    source.write_text('[{"id": 1, "name": "a"},\n {"id": 2, "name": "b"}]\n')
    assert run_cli(local_lake, "ingest", "bronze.arr", str(source), "--create", "-q").exit_code == 0
    assert _scan(local_lake, "bronze.arr").to_pylist() == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]


def test_csv_with_byte_order_mark_is_read(own_lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    """#19: the BOM was taken as part of the first name, then "its dialect is unclear"."""
    lake = own_lake
    source = tmp_path / "bom.csv"
    source.write_bytes(b"\xef\xbb\xbfid,name\r\n2,b\r\n")
    assert run_cli(lake, "ingest", "bronze.t", str(source), "-q").exit_code == 0
    assert _scan(lake, "bronze.t").to_pylist() == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    assert run_cli(lake, "ingest", "bronze.bom", str(source), "--create", "-q").exit_code == 0
    assert [f.name for f in lake.lake.table("bronze.bom").schema().fields] == ["id", "name"]


def test_hive_key_that_is_also_a_column(lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    """#19: `k=1/x.csv` holding a column `k` was "its dialect is unclear"."""
    folder = tmp_path / "landing" / "name=a"
    folder.mkdir(parents=True)
    (folder / "x.csv").write_text("id,name\n2,b\n")
    before = len(lake.lake.table("bronze.t").snapshots())
    line = one_line_error(run_cli(lake, "ingest", "bronze.t", str(tmp_path / "landing"), "-q"))
    assert "column name" in line and "Hive partition key" in line and "x.csv" in line, line
    assert len(lake.lake.table("bronze.t").snapshots()) == before


def test_json_integers_beyond_hugeint_keep_every_digit(local_lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    """#15 for JSON: DuckDB types integers beyond 2^64 as DOUBLE, rounding them; twice, into the same table."""
    source = tmp_path / "big.jsonl"
    source.write_text('{"id": 1, "v": 100000000000000000000000001}\n{"id": 2, "v": -5}\n')
    for args in (["--create"], []):
        assert run_cli(local_lake, "ingest", "bronze.bigj", str(source), "-q", *args).exit_code == 0
    assert str(local_lake.lake.table("bronze.bigj").schema().find_field("v").field_type) == "decimal(38, 0)"
    got = _scan(local_lake, "bronze.bigj").column("v").to_pylist()
    assert got == [Decimal("100000000000000000000000001")] * 2 + [Decimal(-5)] * 2


@pytest.mark.parametrize(
    "name, text", [("frac.csv", "id,v\n1,5\n2,1.5\n"), ("frac.jsonl", '{"id":1,"v":1.5}\n')]
)
def test_fraction_into_whole_number_column_is_refused(local_lake, run_cli, tmp_path, name, text) -> None:
    """A decimal(20,0) column (what wide integers become) must not round 1.5 to 2, as DuckDB's readers do."""
    from conftest import fails_unchanged

    local_lake.lake.create("bronze.whole", "id long, v decimal(20,0)")
    source = tmp_path / name
    source.write_text(text)
    fails_unchanged(run_cli, local_lake, "bronze.whole", ["ingest", "bronze.whole", str(source), "-q"],
                    "column v", name, "1.5")  # fmt: skip


@pytest.mark.parametrize("kind", ["jsonl", "parquet"])
def test_hive_key_that_is_also_a_json_or_parquet_column(
    lake: LakeEnv, run_cli, tmp_path: Path, kind: str
) -> None:
    """`name=a/x.jsonl` holding `"name": "b"` was loaded as `a`: the path's value silently won."""
    folder = tmp_path / "landing" / "name=a"
    folder.mkdir(parents=True)
    if kind == "jsonl":
        (folder / "x.jsonl").write_text('{"id": 2, "name": "b"}\n')
    else:
        pq.write_table(pa.table({"id": [2], "name": ["b"]}), folder / "x.parquet")
    before = len(lake.lake.table("bronze.t").snapshots())
    line = one_line_error(run_cli(lake, "ingest", "bronze.t", str(tmp_path / "landing"), "-q"))
    assert "column name" in line and "Hive partition key" in line and f"x.{kind}" in line, line
    assert len(lake.lake.table("bronze.t").snapshots()) == before


def test_fractional_json_into_decimal_column_is_still_refused(local_lake, run_cli, tmp_path) -> None:
    """Guard: only whole-number decimal columns read JSON numbers as text; 1.255 never rounds into decimal(10,2)."""
    from conftest import fails_unchanged

    local_lake.lake.create("bronze.price", "id long, p decimal(10,2)")
    source = tmp_path / "p.jsonl"
    source.write_text('{"id": 1, "p": 1.255}\n')
    fails_unchanged(
        run_cli, local_lake, "bronze.price", ["ingest", "bronze.price", str(source), "-q"], "column p"
    )


@pytest.mark.parametrize(
    "prop",
    [
        "write.target-file-size-bytes=abc",
        "commit.manifest.target-size-bytes=-5",
        "lake.commit.attempts=nan",
        "history.expire.max-ref-age-ms=1e308",
        "lake.compact.allow-any-target=yes",
    ],
)
def test_bad_table_properties_are_refused_at_create(local_lake, run_cli, prop) -> None:
    """Refused before the table exists, not at the first write that reads them."""
    line = one_line_error(run_cli(local_lake, "create", "s.t", "--schema", "id long", "--property", prop))
    assert prop.split("=")[0] in line
    assert local_lake.lake.tables() == []
