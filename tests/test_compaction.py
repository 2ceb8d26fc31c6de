from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import cli_json, events, snapshot_count, write_jsonl

from lakehouse.core.sizes import format_size, parse_duration, parse_size
from lakehouse.errors import CommitError, LakehouseError
from lakehouse.io.engine import Engine
from lakehouse.io.storage import list_files
from lakehouse.lake import Lakehouse
from lakehouse.ops import compaction
from lakehouse.testing import LakeEnv

SMALL = {"lake.compact.allow-any-target": "true"}
COLUMNS = "id, ts, country, amount, user_id"


def _table(env: LakeEnv, tmp_path: Path, appends: int = 6, rows: int = 120, name: str = "s.t") -> None:
    env.lake.create(name, "id long, ts timestamptz, country string, amount double, user_id long",
                    partition_by="day(ts)", properties=SMALL)  # fmt: skip
    for i in range(appends):
        env.lake.ingest(name, str(write_jsonl(tmp_path / f"{name}-{i}.jsonl", events(rows, start=i * rows))))


def _checksum(env: LakeEnv, name: str = "s.t", as_of: str | None = None) -> tuple[int, int]:
    sql = f"SELECT count(*) AS n, sum(hash({COLUMNS})) AS h FROM {name}"
    row = env.lake.query(sql, as_of).to_pylist()[0]
    return row["n"], int(row["h"] or 0)


def _partitions(env: LakeEnv, name: str = "s.t") -> dict[str, int]:
    out: dict[str, int] = {}
    for f in env.lake.files(name):
        key = f["partition"]["ts_day"]
        out[key] = out.get(key, 0) + f["rows"]
    return out


def test_compact_keeps_rows_partitions_and_pins_as_one_replace_snapshot(any_lake: LakeEnv, run_cli, tmp_path):
    _table(any_lake, tmp_path)
    before, parts, pinned = (
        _checksum(any_lake),
        _partitions(any_lake),
        any_lake.lake.snapshot("s.t").snapshot_id,
    )
    files_before = len(any_lake.lake.files("s.t"))
    out = cli_json(run_cli(any_lake, "compact", "s.t", "--target-size", "64KB", "--json"))
    assert out["files_before"] == files_before == 18 and out["files_after"] == 3
    assert out["snapshot_id"] is not None and out["rows"] == 720
    table = any_lake.lake.table("s.t")
    snapshot = table.current_snapshot()
    assert snapshot.summary.operation.value == "replace"
    summary = snapshot.summary.additional_properties
    assert summary["lake.files-before"] == "18" and summary["lake.files-after"] == "3"
    assert int(summary["lake.bytes-before"]) == out["bytes_before"] and int(summary["lake.bytes-after"]) > 0
    assert summary["deleted-data-files"] == "18" and summary["added-data-files"] == "3"
    assert _checksum(any_lake) == before and _partitions(any_lake) == parts
    # files landed in their partition's Hive directory, and a pin taken before still reads the same rows
    assert all(f"/ts_day={f['partition']['ts_day']}/" in f["path"] for f in any_lake.lake.files("s.t"))
    assert _checksum(any_lake, as_of=str(pinned)) == before
    # pyiceberg prunes on the new files' partition values
    assert (
        table.scan(row_filter="ts >= '2026-06-03T00:00:00+00:00'").to_arrow().num_rows == parts["2026-06-03"]
    )
    # nothing left to do the second time
    again = cli_json(run_cli(any_lake, "compact", "s.t", "--target-size", "64KB", "--json"))
    assert again["snapshot_id"] is None and snapshot_count(any_lake, "s.t") == 7


def test_dry_run_prints_the_plan_and_writes_nothing(local_lake: LakeEnv, run_cli, tmp_path):
    _table(local_lake, tmp_path, appends=5)
    location = local_lake.lake.table("s.t").location()
    files = sorted(f.path for f in list_files(local_lake.profile, location))
    out = cli_json(run_cli(local_lake, "compact", "s.t", "--target-size", "64KB", "--dry-run", "--json"))
    plan = out["plan"]
    assert out["dry_run"] and out["snapshot_id"] is None
    assert plan["input_files"] == 15 and plan["groups"] == 3 and plan["expected_output_files"] == 3
    assert [p["partition"] for p in plan["partitions"]] == [{"ts_day": f"2026-06-0{d}"} for d in (1, 2, 3)]
    assert plan["partitions"][0]["groups"][0]["input_files"] == 5
    text = run_cli(local_lake, "compact", "s.t", "--target-size", "64KB", "--dry-run")
    assert text.exit_code == 0 and "15 files" in text.stdout and "3 groups" in text.stdout
    assert snapshot_count(local_lake, "s.t") == 5
    assert sorted(f.path for f in list_files(local_lake.profile, location)) == files


def test_min_input_files_and_bin_packing(local_lake: LakeEnv, tmp_path):
    _table(local_lake, tmp_path, appends=4)
    plan = local_lake.lake.plan_compaction("s.t", target_size="64KB")
    assert plan.empty  # 4 small files per partition, far less than one target: left alone
    plan = local_lake.lake.plan_compaction("s.t", target_size="64KB", min_input_files=4)
    assert len(plan.groups) == 3
    # a small target packs each partition's files into several groups of about one target
    sizes = [f["bytes"] for f in local_lake.lake.files("s.t")]
    target = int(sum(sizes) / 3 / 2)
    plan = local_lake.lake.plan_compaction("s.t", target_size=target, min_size=target, max_size=target * 2)
    assert len(plan.groups) == 6 and all(len(g.files) == 2 for g in plan.groups)


@pytest.mark.parametrize("size", ["1MB", "2GB"])
def test_size_out_of_range_is_refused(local_lake: LakeEnv, run_cli, tmp_path, size):
    local_lake.lake.create("s.r", "id long")
    for i in range(5):
        local_lake.lake.ingest("s.r", str(write_jsonl(tmp_path / f"{i}.jsonl", [{"id": i}])))
    res = run_cli(local_lake, "compact", "s.r", "--target-size", size)
    assert res.exit_code == 1
    assert res.stderr.strip() == (
        f"Error: target size {size} is outside the accepted range 128MB..1GB; give --target-size between them "
        "(or set table property lake.compact.allow-any-target=true)"
    )
    assert snapshot_count(local_lake, "s.r") == 5
    bad = run_cli(local_lake, "compact", "s.r", "--target-size", "lots")
    assert bad.exit_code == 1 and "invalid --target-size 'lots'" in bad.stderr


def test_where_restricts_partitions_and_sort_by_orders_rows(local_lake: LakeEnv, run_cli, tmp_path):
    _table(local_lake, tmp_path, appends=5)
    before = _checksum(local_lake)
    day1 = sorted(f["path"] for f in local_lake.lake.files("s.t") if f["partition"]["ts_day"] == "2026-06-01")
    out = cli_json(run_cli(local_lake, "compact", "s.t", "--target-size", "64KB", "--where",
                           "ts >= '2026-06-02T00:00:00+00:00'", "--sort-by", "amount", "--json"))  # fmt: skip
    assert out["files_before"] == 10 and out["files_after"] == 2
    files = local_lake.lake.files("s.t")
    assert sorted(f["path"] for f in files if f["partition"]["ts_day"] == "2026-06-01") == day1
    new = [f["path"] for f in files if f["partition"]["ts_day"] != "2026-06-01"]
    assert len(new) == 2
    for path in new:
        amounts = pq.read_table(path.removeprefix("file://"), columns=["amount"]).column("amount").to_pylist()
        assert amounts == sorted(amounts)
    assert _checksum(local_lake) == before
    assert local_lake.lake.table("s.t").current_snapshot().summary["lake.sort-by"] == "amount"
    res = run_cli(local_lake, "compact", "s.t", "--sort-by", "nope", "--target-size", "64KB")
    assert res.exit_code == 1 and "has no such column" in res.stderr


def _plan_and_write(env: LakeEnv) -> tuple[compaction.CompactionPlan, compaction.CompactionWrite]:
    table = env.lake.table("s.t")
    plan = compaction.plan_compaction(table, "s.t", target_size="64KB")
    with Engine(env.profile) as engine:
        write = compaction.write_compaction(env.profile, engine, table, plan)
    return plan, write


def test_compaction_racing_an_append_keeps_the_append(s3_lake: LakeEnv, tmp_path):
    _table(s3_lake, tmp_path, appends=5)
    plan, write = _plan_and_write(s3_lake)
    other = Lakehouse(s3_lake.profile)  # another writer appends meanwhile
    other.ingest("s.t", str(write_jsonl(tmp_path / "late.jsonl", events(50, start=10_000))))
    expected = _checksum(s3_lake)
    appended = {f["path"] for f in s3_lake.lake.files("s.t")} - {f.file_path for f in plan.input_files}
    committed = compaction.commit_compaction(s3_lake.profile, lambda: s3_lake.lake.table("s.t"), plan, write)
    assert committed.current_snapshot().summary.operation.value == "replace"
    assert _checksum(s3_lake) == expected and expected[0] == 650
    live = {f["path"] for f in s3_lake.lake.files("s.t")}
    assert appended <= live and set(write.paths) <= live
    assert not live & {f.file_path for f in plan.input_files}


def test_compaction_conflicting_with_an_overwrite_fails_cleanly(local_lake: LakeEnv, tmp_path):
    _table(local_lake, tmp_path, appends=5)
    plan, write = _plan_and_write(local_lake)
    other = Lakehouse(local_lake.profile)
    other.ingest("s.t", str(write_jsonl(tmp_path / "new.jsonl", events(30, start=5000))), mode="overwrite")
    after_overwrite = _checksum(local_lake)
    head = local_lake.lake.snapshot("s.t").snapshot_id
    with pytest.raises(CommitError) as caught:
        compaction.commit_compaction(local_lake.profile, lambda: local_lake.lake.table("s.t"), plan, write)
    message = str(caught.value)
    assert "conflicts with a concurrent change: 15 of its 15 input files were deleted or replaced" in message
    assert f"overwrite snapshot {head}" in message and "run `lake compact s.t` again" in message
    assert local_lake.lake.snapshot("s.t").snapshot_id == head
    assert _checksum(local_lake) == after_overwrite and after_overwrite[0] == 30
    assert not any(Path(p.removeprefix("file://")).exists() for p in write.paths)  # its files are removed


def test_sizes_and_durations():
    assert (
        parse_size("128MB") == 128 * 1024**2 and parse_size("1GB") == 1024**3 and parse_size("4096") == 4096
    )
    assert parse_size("1.5GB") == int(1.5 * 1024**3) and format_size(512 * 1024**2) == "512MB"
    assert parse_duration("3d").days == 3 and parse_duration("0s").total_seconds() == 0
    with pytest.raises(LakehouseError, match="invalid --older-than"):
        parse_duration("soon")


# ------------------------------------------------------------------ reading by field id (issue 9, defect 1)

NESTED = "id long, name string, geo struct<lat: double, lon: double>, items list<struct<sku: string, qty: long>>, attrs map<string, struct<v: long>>"


def _nested_rows(
    start: int, n: int, name: str = "name", lat: str = "lat", qty: str = "qty", v: str = "v"
) -> list[dict]:
    return [
        {"id": i, name: f"n{i}", "geo": {lat: i / 8, "lon": -i / 4},
         "items": [{"sku": f"s{i}", qty: i}, {"sku": "x", qty: None}], "attrs": {f"k{i}": {v: i * 2}}}
        for i in range(start, start + n)
    ]  # fmt: skip


def _rows_by_readers(env: LakeEnv, name: str) -> list[dict]:
    """The table's rows by pyiceberg's scan, checked against DuckDB's standalone iceberg_scan."""
    table = env.lake.table(name)
    rows = sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["id"])
    with env.lake.engine(locked=False) as engine:
        ids_nulls = engine.con.execute(
            f"SELECT count(*), count({table.schema().fields[1].name}) FROM iceberg_scan('{table.metadata_location}')"
        ).fetchone()
    assert ids_nulls == (len(rows), sum(1 for r in rows if r[table.schema().fields[1].name] is not None))
    return rows


@pytest.mark.parametrize("case", ["name-mapping", "nested"])
def test_compaction_reads_renamed_columns_by_field_id(local_lake: LakeEnv, tmp_path: Path, case: str) -> None:
    from pyiceberg.table.name_mapping import create_mapping_from_schema

    lake = local_lake.lake
    schema = "id long, name string, amount double" if case == "name-mapping" else NESTED
    lake.create("s.r", schema, properties=SMALL)

    def flat(start: int, name: str = "name") -> list[dict]:
        return [{"id": i, name: f"n{i}", "amount": i / 2} for i in range(start, start + 20)]

    for i in range(3):
        rows = flat(i * 20) if case == "name-mapping" else _nested_rows(i * 20, 20)
        lake.ingest("s.r", str(write_jsonl(tmp_path / f"a{i}.jsonl", rows)))
    table = lake.table("s.r")
    with table.transaction() as tx:
        if case == "name-mapping":  # what SeaweedFS and other REST catalogs set on every table
            tx.set_properties(
                {"schema.name-mapping.default": create_mapping_from_schema(table.schema()).model_dump_json()}
            )
        with tx.update_schema() as update:
            update.rename_column("name", "label")
            if case == "nested":
                update.rename_column("geo.lat", "latitude")
                update.rename_column("items.element.qty", "quantity")
                update.rename_column("attrs.value.v", "w")
    for i in range(3, 5):
        rows = (
            flat(i * 20, "label")
            if case == "name-mapping"
            else _nested_rows(i * 20, 20, "label", "latitude", "quantity", "w")
        )
        lake.ingest("s.r", str(write_jsonl(tmp_path / f"b{i}.jsonl", rows)))
    before = _rows_by_readers(local_lake, "s.r")
    assert len(before) == 100 and all(r["label"] == f"n{r['id']}" for r in before)
    if case == "nested":
        assert all(
            r["geo"]["latitude"] == r["id"] / 8 and r["items"][0]["quantity"] == r["id"] for r in before
        )
        assert all(r["attrs"] == [(f"k{r['id']}", {"w": r["id"] * 2})] for r in before)
    result = lake.compact("s.r", target_size="64KB", min_input_files=2)
    assert result.snapshot_id is not None and result.files_before == 5 and result.files_after == 1
    assert _rows_by_readers(local_lake, "s.r") == before


def test_compaction_maps_files_without_field_ids_through_the_name_mapping(
    local_lake: LakeEnv, tmp_path: Path
) -> None:
    lake = local_lake.lake
    lake.create("s.a", "id long, name string, geo struct<lat: double, lon: double>", properties=SMALL)
    table = lake.table("s.a")
    paths = []
    for i in range(3):  # written by plain pyarrow: no field ids, only names
        path = f"{table.location().removeprefix('file://')}/data/added-{i}.parquet"
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        rows = [
            {"id": j, "name": f"n{j}", "geo": {"lat": j / 8, "lon": -j / 4}}
            for j in range(i * 10, i * 10 + 10)
        ]
        pq.write_table(pa.Table.from_pylist(rows), path)
        paths.append(path)
    table.add_files(paths)  # pyiceberg records the name mapping
    table = lake.table("s.a")
    with table.update_schema() as update:
        update.rename_column("name", "label")
        update.rename_column("geo.lat", "latitude")
    lake.ingest(
        "s.a",
        str(
            write_jsonl(
                tmp_path / "b.jsonl", [{"id": 30, "label": "n30", "geo": {"latitude": 3.75, "lon": -7.5}}]
            )
        ),
    )
    before = _rows_by_readers(local_lake, "s.a")
    assert len(before) == 31 and all(
        r["label"] == f"n{r['id']}" and r["geo"]["latitude"] == r["id"] / 8 for r in before
    )
    result = lake.compact("s.a", target_size="64KB", min_input_files=2)
    assert result.snapshot_id is not None and result.files_before == 4 and result.files_after == 1
    assert _rows_by_readers(local_lake, "s.a") == before


def test_compaction_after_add_drop_and_widening_keeps_every_value(
    local_lake: LakeEnv, tmp_path: Path
) -> None:
    from pyiceberg.types import DecimalType, DoubleType, LongType

    lake = local_lake.lake
    lake.create("s.w", "id long, n int, f float, d decimal(6, 2), gone string", properties=SMALL)
    for i in range(3):  # int, float and decimal(6, 2) files, written by pyiceberg
        ids = list(range(i * 10, i * 10 + 10))
        lake.table("s.w").append(
            pa.table({
                "id": pa.array(ids, pa.int64()), "n": pa.array([j * 3 for j in ids], pa.int32()),
                "f": pa.array([j / 4 for j in ids], pa.float32()),
                "d": pa.array([Decimal(f"{j}.25") for j in ids], pa.decimal128(6, 2)), "gone": ["x"] * 10,
            })
        )  # fmt: skip
    table = lake.table("s.w")
    with table.update_schema() as update:
        update.update_column("n", LongType())
        update.update_column("f", DoubleType())
        update.update_column("d", DecimalType(10, 2))
        update.delete_column("gone")
        update.add_column("extra", LongType())
        update.rename_column("n", "count")
    last = {"id": [30], "count": [2**40], "f": [0.1], "d": [Decimal("12345678.5")], "extra": [7]}
    lake.table("s.w").append(pa.table(last, schema=lake.table("s.w").schema().as_arrow()))
    before = _rows_by_readers(local_lake, "s.w")
    assert before[0] == {"id": 0, "count": 0, "f": 0.0, "d": Decimal("0.25"), "extra": None}
    result = lake.compact("s.w", target_size="64KB", min_input_files=2)
    assert result.snapshot_id is not None and result.files_after == 1
    assert _rows_by_readers(local_lake, "s.w") == before


def test_a_plan_is_applied_exactly_as_planned(local_lake: LakeEnv, tmp_path):
    """The facade applies a given plan without planning again: a file appended after planning stays."""
    _table(local_lake, tmp_path, appends=5)
    lake = local_lake.lake
    plan = lake.plan_compaction("s.t", target_size="64KB")
    lake.ingest("s.t", str(write_jsonl(tmp_path / "late.jsonl", events(50, start=10_000))))
    late = {f["path"] for f in lake.files("s.t")} - {f.file_path for f in plan.input_files}
    expected = _checksum(local_lake)
    result = lake.compact(plan)
    assert result.plan is plan and result.files_before == len(plan.input_files) == 15
    assert result.files_after == plan.expected_outputs == 3
    live = {f["path"] for f in lake.files("s.t")}
    assert late <= live and not live & {f.file_path for f in plan.input_files}
    assert _checksum(local_lake) == expected
    with pytest.raises(LakehouseError, match="carries its own options"):
        lake.compact(plan, target_size="1GB")
