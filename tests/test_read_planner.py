"""The read planner: read_parquet where it is provably what iceberg_scan reads, iceberg_scan elsewhere,
the manifests' counts for a query that reads no column, and file plans cached by snapshot.

Every answer is checked against pyiceberg's scan (a reader that shares no code with lake) and against
the same lake with `lake.read.parquet: false` (iceberg_scan only)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import events, module_lake, write_jsonl

from lakehouse.lake import Lakehouse
from lakehouse.read.files import FilePlan, PlanCache
from lakehouse.testing import LakeEnv

TABLE = "bronze.events"
SHAPES = {
    "group-by": "SELECT country, count(*) AS n, round(sum(amount), 2) AS total FROM {t} GROUP BY 1 ORDER BY 1",
    "count": "SELECT count(*) AS n FROM {t}",
    "one partition": "SELECT count(*) AS n, round(sum(amount), 2) AS total FROM {t} WHERE country = 'DE'",
    "selective": "SELECT id FROM {t} WHERE user_id = 3 AND amount > 10 ORDER BY id",
    "join": "SELECT d.name, count(*) AS n FROM {t} e JOIN dim.countries d ON e.country = d.code GROUP BY 1 ORDER BY 1",
    "top-n": "SELECT id, amount FROM {t} ORDER BY amount DESC, id LIMIT 5",
}


def iceberg_only(lake: Lakehouse) -> Lakehouse:
    props = {**lake.profile.properties, "lake.read.parquet": "false"}
    return Lakehouse(dataclasses.replace(lake.profile, properties=props))


def scans(lake: Lakehouse, sql: str) -> dict[str, str]:
    return {r.identifier: r.scan for r in lake.plan_query(sql)[1]}


def ingest(
    env: LakeEnv, rows: list[dict[str, Any]], name: str = TABLE, partition_by: str | None = None
) -> None:
    path = write_jsonl(env.root / "in" / f"{name}-{len(rows)}-{rows[0]['id'] if rows else 0}.jsonl", rows)
    env.lake.ingest(name, [str(path)], create=partition_by is not None or name not in env.lake.tables(),
                    partition_by=partition_by)  # fmt: skip


@pytest.fixture(scope="module", params=["local", "s3"])
def partitioned(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> LakeEnv:
    """Built once per kind: the tests using it only plan and read."""
    any_lake = module_lake(request, tmp_path_factory, request.param)
    ingest(any_lake, events(400), partition_by="day(ts),country")
    ingest(any_lake, events(200, start=400))
    codes = [
        {"id": i, "code": c, "name": n}
        for i, (c, n) in enumerate([("US", "USA"), ("DE", "Germany"), ("FR", "France")])
    ]
    ingest(any_lake, codes, name="dim.countries", partition_by="")
    return any_lake


def test_six_shapes_agree_with_iceberg_scan_and_pyiceberg(partitioned: LakeEnv) -> None:
    lake, other = partitioned.lake, iceberg_only(partitioned.lake)
    # Locally read_parquet wins on few files; on S3 iceberg_scan wins (it takes file sizes from the
    # manifests); a count reads the manifests' counts on both.
    parquet = "iceberg_scan" if partitioned.profile.is_s3 else "read_parquet"
    expected_scans = {
        "group-by": parquet, "count": "row_count", "one partition": parquet,
        "selective": parquet, "join": parquet, "top-n": parquet,
    }  # fmt: skip
    for shape, template in SHAPES.items():
        sql = template.format(t=TABLE)
        assert scans(lake, sql)[TABLE] == expected_scans[shape], shape
        assert set(scans(other, sql).values()) == {"iceberg_scan"}, shape
        assert lake.query(sql).to_pylist() == other.query(sql).to_pylist(), shape
    truth = partitioned.lake.table(TABLE).scan().to_arrow()
    assert lake.query(SHAPES["count"].format(t=TABLE)).to_pylist() == [{"n": truth.num_rows}]
    de = [r for r in truth.to_pylist() if r["country"] == "DE"]
    got = lake.query(SHAPES["one partition"].format(t=TABLE)).to_pylist()[0]
    assert got["n"] == len(de) and got["total"] == pytest.approx(sum(r["amount"] for r in de))


def test_filters_on_other_columns_over_many_files_keep_iceberg_scan(
    partitioned: LakeEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over many files iceberg_scan skips whole files by the manifests' bounds (the threshold is lowered
    here so that a small table counts as many files)."""
    from lakehouse.read import tableread

    if partitioned.profile.is_s3:
        pytest.skip("read_parquet is planned for local warehouses only")
    monkeypatch.setattr(tableread, "MANY_FILES", 2)
    lake = partitioned.lake
    selective, hive_only = SHAPES["selective"].format(t=TABLE), SHAPES["one partition"].format(t=TABLE)
    assert scans(lake, selective)[TABLE] == "iceberg_scan"
    assert scans(lake, hive_only)[TABLE] == "read_parquet"  # a Hive folder filter prunes by path
    assert lake.query(selective).to_pylist() == iceberg_only(lake).query(selective).to_pylist()


def test_hive_columns_come_from_proven_paths(partitioned: LakeEnv) -> None:
    if partitioned.profile.is_s3:
        pytest.skip("read_parquet is planned for local warehouses only")
    sql, reads = partitioned.lake.plan_query(f"SELECT country FROM {TABLE}")
    (read,) = reads
    assert read.scan == "read_parquet" and read.parquet is not None and read.parquet.hive == ("country",)
    assert "hive_partitioning = true" in sql and "'country': 'VARCHAR'" in sql
    assert "'ts_day': 'VARCHAR'" in sql  # a transform's folder is read as an unused text column


@pytest.mark.parametrize("value", ["NULL", "__HIVE_DEFAULT_PARTITION__", "a/b", "", None])
def test_identity_values_hive_would_misread_keep_iceberg_scan(local_lake: LakeEnv, value: str | None) -> None:
    rows = [{"id": 1, "tag": value, "n": 1}, {"id": 2, "tag": "plain", "n": 2}]
    ingest(local_lake, rows, name="s.tags", partition_by="tag")
    sql = "SELECT id, tag FROM s.tags ORDER BY id"
    assert scans(local_lake.lake, sql)["s.tags"] == "iceberg_scan"
    assert local_lake.lake.query(sql).to_pylist() == [{"id": 1, "tag": value}, {"id": 2, "tag": "plain"}]


def test_schema_changes_that_names_cannot_follow_keep_iceberg_scan(local_lake: LakeEnv) -> None:
    lake = local_lake.lake
    ingest(local_lake, events(40), partition_by="country")
    sql = f"SELECT * FROM {TABLE} ORDER BY id"
    assert scans(lake, sql)[TABLE] == "read_parquet"
    lake.add_column(TABLE, "note", "string")
    assert scans(lake, sql)[TABLE] == "read_parquet"  # an added column reads as NULL by name too
    assert {r["note"] for r in lake.query(sql).to_pylist()} == {None}
    ingest(local_lake, [{**r, "note": f"n{r['id']}"} for r in events(10, start=40)])
    _, (read,) = lake.plan_query(sql)
    assert read.scan == "read_parquet" and "union_by_name = true" in read.scan_sql()
    got = lake.query(sql).to_pylist()
    assert got == iceberg_only(lake).query(sql).to_pylist()
    assert [r["note"] for r in got] == [None] * 40 + [f"n{i}" for i in range(40, 50)]
    lake.rename_column(TABLE, "amount", "price")
    assert scans(lake, sql)[TABLE] == "iceberg_scan"
    assert [r["price"] for r in lake.query(sql).to_pylist()] == [r["amount"] for r in events(50)]


def test_a_dropped_name_reused_keeps_iceberg_scan(local_lake: LakeEnv) -> None:
    lake = local_lake.lake
    ingest(local_lake, events(20), partition_by="country")
    lake.drop_column(TABLE, "user_id")
    lake.add_column(TABLE, "user_id", "long")  # a new field id: old files' user_id is not this column
    sql = f"SELECT user_id FROM {TABLE}"
    assert scans(lake, sql)[TABLE] == "iceberg_scan"
    assert {r["user_id"] for r in lake.query(sql).to_pylist()} == {None}


def test_delete_files_keep_iceberg_scan(local_lake: LakeEnv) -> None:
    ingest(local_lake, events(40), partition_by="country")
    with local_lake.lake.table(TABLE).transaction() as tx:
        tx.set_properties({"write.delete.mode": "merge-on-read"})
    local_lake.lake.delete(TABLE, "id IN (5, 6)")  # merge-on-read: a positional delete file
    sql = f"SELECT count(*) AS n FROM {TABLE}"
    expected = local_lake.lake.table(TABLE).scan().to_arrow().num_rows
    assert scans(local_lake.lake, sql)[TABLE] in ("iceberg_scan", "read_live")
    assert local_lake.lake.query(sql).to_pylist() == [{"n": expected}] == [{"n": 38}]


def test_time_travel_reads_each_snapshots_own_files(partitioned: LakeEnv) -> None:
    lake = partitioned.lake
    first = lake.table(TABLE).history()[0].snapshot_id
    sql = f"SELECT country, count(*) AS n FROM {TABLE} GROUP BY 1 ORDER BY 1"
    assert scans(lake, sql)[TABLE] == ("iceberg_scan" if partitioned.profile.is_s3 else "read_parquet")
    old = lake.query(sql, as_of=first).to_pylist()
    assert sum(r["n"] for r in old) == 400
    assert old == iceberg_only(lake).query(sql, as_of=first).to_pylist()


def test_file_plans_are_cached_on_disk_between_processes(local_lake: LakeEnv, tmp_path: Path) -> None:
    ingest(local_lake, events(60), partition_by="country")
    cache = tmp_path / "plans"
    sql = f"SELECT country, count(*) AS n FROM {TABLE} GROUP BY 1 ORDER BY 1"
    first = Lakehouse(local_lake.profile, plan_cache=cache)
    want = first.query(sql).to_pylist()
    assert len(list(cache.glob("*.json"))) == 1
    # The next process plans from the cache: it no longer needs the snapshot's manifests at all.
    manifest_list = Path(
        local_lake.lake.table(TABLE).current_snapshot().manifest_list.removeprefix("file://")
    )
    hidden = manifest_list.rename(manifest_list.with_suffix(".hidden"))
    try:
        assert Lakehouse(local_lake.profile, plan_cache=cache).query(sql).to_pylist() == want
        with pytest.raises(Exception):  # noqa: B017 - without the cache the manifest list is needed
            Lakehouse(local_lake.profile).query(sql)
    finally:
        hidden.rename(manifest_list)


def test_plan_cache_stays_within_its_bound(tmp_path: Path) -> None:
    plan = FilePlan(tuple(), 0, 0, False)
    cache = PlanCache(tmp_path, max_bytes=2_000)
    size = len(plan.to_json())
    for i in range(200):
        cache.put(f"k{i}", plan)
    total = sum(p.stat().st_size for p in tmp_path.glob("*.json"))
    assert 0 < total <= 2_000 and total >= 2_000 * 3 // 4 - size
    assert (tmp_path / "k199.json").exists()  # the newest stays
    assert PlanCache(tmp_path).get("k199") == plan
    (tmp_path / "k199.json").write_text(json.dumps({"version": 0}))
    assert PlanCache(tmp_path).get("k199") is None  # another version's plan is planned again
