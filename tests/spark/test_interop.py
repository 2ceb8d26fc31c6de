"""Spark and lake on the same tables, both ways (run by `make spark-test`; about a minute).

- Spark reads what lake wrote: sums and row sets, lake's positional deletes, a renamed column, and time
  travel (`VERSION AS OF`) to the snapshot a lake pin file recorded.
- lake reads, compacts, expires and collects what Spark wrote: Spark's `file:/` (one slash) paths, its
  `.crc` side files, its merge-on-read delete files and snapshot summaries. Every step is judged by
  pyiceberg's scan and DuckDB's own `iceberg_scan` as well as by lake and Spark.
- lake's pins still verify, and still read the pinned rows, after Spark appends and rewrites files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from lakehouse.testing import LakeEnv, gc_orphans

from .conftest import CATALOG, write_jsonl

pytestmark = pytest.mark.timeout(300)

Sums = tuple[int, float, int]  # rows, sum(amount) rounded, sum(id)


def rows(n: int, start: int = 0) -> list[dict[str, Any]]:
    countries = ["US", "DE", "FR", "JP"]
    return [
        {
            "id": i,
            "ts": f"2026-06-{1 + i % 3:02d}T{i * 7 % 24:02d}:00:00Z",
            "country": countries[i % 4],
            "amount": round(i * 37 % 1000 / 10 - 5, 2),
        }
        for i in range(start, start + n)
    ]


def spark_sums(spark: Any, table: str, suffix: str = "") -> Sums:
    row = spark.sql(f"SELECT count(*), sum(amount), sum(id) FROM {CATALOG}.{table} {suffix}").collect()[0]
    return int(row[0]), round(float(row[1] or 0), 2), int(row[2] or 0)


def spark_ids(spark: Any, table: str, suffix: str = "") -> list[int]:
    return sorted(r[0] for r in spark.sql(f"SELECT id FROM {CATALOG}.{table} {suffix}").collect())


def lake_sums(env: LakeEnv, table: str, **read: Any) -> Sums:
    result = env.lake.query(f"SELECT count(*) AS n, sum(amount) AS a, sum(id) AS i FROM {table}", **read)
    n, a, i = (result.column(c)[0].as_py() for c in ("n", "a", "i"))
    return int(n), round(float(a or 0), 2), int(i or 0)


def others(env: LakeEnv, table: str) -> dict[str, Sums]:
    """The current snapshot as readers that are not ours see it: pyiceberg's scan, DuckDB's iceberg_scan."""
    loaded = env.lake.table(table)
    scanned = loaded.scan().to_arrow()
    by_pyiceberg = (
        scanned.num_rows,
        round(float(pa.compute.sum(scanned["amount"]).as_py() or 0), 2),
        int(pa.compute.sum(scanned["id"]).as_py() or 0),
    )
    with env.lake.engine(locked=False) as engine:
        n, a, i = engine.one(
            f"SELECT count(*), sum(amount), sum(id) FROM iceberg_scan('{loaded.metadata_location}')"
        )
    return {"pyiceberg": by_pyiceberg, "iceberg_scan": (int(n), round(float(a or 0), 2), int(i or 0))}


def agree(env: LakeEnv, spark: Any, table: str) -> Sums:
    """Every reader sees the same rows; returns their sums."""
    seen = {"lake": lake_sums(env, table), "spark": spark_sums(spark, table), **others(env, table)}
    assert len(set(seen.values())) == 1, seen
    return seen["lake"]


def expected(batch: list[dict[str, Any]]) -> Sums:
    return len(batch), round(sum(r["amount"] for r in batch), 2), sum(r["id"] for r in batch)


def test_spark_reads_what_lake_wrote(shared: LakeEnv, spark: Any, tmp_path: Path) -> None:
    lake, table = shared.lake, "lk.events"
    first, second = rows(200), rows(100, start=200)
    lake.ingest(table, str(write_jsonl(tmp_path / "a.jsonl", first)), create=True, partition_by="country")
    lock = tmp_path / "training.lock"
    lake.pin([table], lock)
    pinned = int(json.loads(lock.read_text())["tables"][0]["snapshot_id"])
    lake.ingest(table, str(write_jsonl(tmp_path / "b.jsonl", second)))

    assert agree(shared, spark, table) == expected(first + second)
    assert spark_ids(spark, table) == list(range(300))
    # time travel to the pinned snapshot, by the id the lock file recorded
    assert spark_sums(spark, table, f"VERSION AS OF {pinned}") == expected(first)
    assert lake_sums(shared, table, pins=str(lock)) == expected(first)
    assert spark.sql(f"SELECT count(*) FROM {CATALOG}.{table} WHERE country = 'DE'").collect()[0][0] == 75

    # a copy-on-write delete and a renamed column (Spark reads by field id)
    lake.delete(table, "id % 10 = 0")
    lake.rename_column(table, "amount", "price")
    kept = [r for r in first + second if r["id"] % 10]
    row = spark.sql(f"SELECT count(*), sum(price) FROM {CATALOG}.{table}").collect()[0]
    assert (row[0], round(row[1], 2)) == expected(kept)[:2]
    lake.rename_column(table, "price", "amount")
    assert spark_sums(spark, table, f"VERSION AS OF {pinned}") == expected(first)


def test_spark_reads_lakes_positional_deletes(shared: LakeEnv, spark: Any, tmp_path: Path) -> None:
    lake, table = shared.lake, "lk.mor"
    batch = rows(120)
    lake.ingest(
        table, str(write_jsonl(tmp_path / "a.jsonl", batch)), create=True,
        properties={"write.delete.mode": "merge-on-read"},
    )  # fmt: skip
    lake.delete(table, "country = 'JP' OR id < 10")
    files = spark.sql(f"SELECT content FROM {CATALOG}.{table}.files").collect()
    assert sorted({f[0] for f in files}) == [0, 1]  # data and position-delete files: lake wrote deletes
    kept = [r for r in batch if r["country"] != "JP" and r["id"] >= 10]
    assert agree(shared, spark, table) == expected(kept)
    assert spark_ids(spark, table) == sorted(r["id"] for r in kept)


def test_lake_reads_compacts_expires_and_collects_what_spark_wrote(shared: LakeEnv, spark: Any) -> None:
    lake, table = shared.lake, "sp.orders"
    spark.sql("CREATE NAMESPACE IF NOT EXISTS interop.sp")
    spark.sql(
        f"CREATE TABLE {CATALOG}.{table} (id BIGINT, ts TIMESTAMP, country STRING, amount DOUBLE) "
        "USING iceberg PARTITIONED BY (country) "
        "TBLPROPERTIES ('format-version'='2', 'write.delete.mode'='merge-on-read')"
    )
    batches = [rows(60, start=k * 60) for k in range(4)]
    for batch in batches:  # four appends: several small files per partition
        values = ", ".join(
            f"({r['id']}, TIMESTAMP '{r['ts'][:-1].replace('T', ' ')}', '{r['country']}', {r['amount']})"
            for r in batch
        )
        spark.sql(f"INSERT INTO {CATALOG}.{table} VALUES {values}")
    spark.sql(f"DELETE FROM {CATALOG}.{table} WHERE id % 7 = 0")  # merge-on-read: delete files
    kept = [r for batch in batches for r in batch if r["id"] % 7]

    loaded = lake.table(table)
    paths = loaded.inspect.files().column("file_path").to_pylist()
    assert paths and all(p.startswith("file:/") and not p.startswith("file://") for p in paths), paths[:2]
    local = Path(loaded.location().removeprefix("file://"))
    assert list(local.rglob(".*.crc")), "Spark's local writes leave .crc side files"
    summary = loaded.current_snapshot().summary  # type: ignore[union-attr]
    assert summary["engine-name"] == "spark"
    assert agree(shared, spark, table) == expected(kept)
    assert len(lake.snapshots(table)) == 5  # four appends and Spark's delete, with Spark's summaries
    info = lake.describe(table)
    assert info["data_rows"] == 240 and info["delete_files"] > 0, info
    assert len({f["content"] for f in lake.files(table)}) == 2  # data and Spark's delete files

    result = lake.compact(table, min_input_files=2)
    assert result.snapshot_id is not None and result.files_after < result.files_before, result
    assert result.delete_files_removed > 0  # Spark's delete files were applied and dropped
    assert result.rows == len(kept)
    assert agree(shared, spark, table) == expected(kept)

    lake.expire(table, older_than="0s", retain_last=1)
    assert len(lake.table(table).snapshots()) == 1
    assert agree(shared, spark, table) == expected(kept)

    lake.gc(table, older_than="0s", force=True)
    assert gc_orphans(shared, table) == []
    assert agree(shared, spark, table) == expected(kept)
    assert spark_ids(spark, table) == sorted(r["id"] for r in kept)

    # and Spark keeps writing to the table lake maintained
    spark.sql(f"INSERT INTO {CATALOG}.{table} VALUES (100000, TIMESTAMP '2026-06-04 00:00:00', 'US', 1.5)")
    assert agree(shared, spark, table) == expected([*kept, {"id": 100000, "amount": 1.5}])


def test_pins_verify_after_sparks_writes(shared: LakeEnv, spark: Any, tmp_path: Path) -> None:
    lake = shared.lake
    lake.ingest("lk.pinned", str(write_jsonl(tmp_path / "a.jsonl", rows(80))), create=True)
    spark.sql("CREATE NAMESPACE IF NOT EXISTS interop.sp")
    spark.sql(f"CREATE TABLE {CATALOG}.sp.pinned (id BIGINT, amount DOUBLE) USING iceberg")
    spark.sql(f"INSERT INTO {CATALOG}.sp.pinned SELECT id, amount FROM {CATALOG}.lk.pinned")
    lock = tmp_path / "training.lock"
    lake.pin(["lk.pinned", "sp.pinned"], lock)
    before = {t: lake_sums(shared, t) for t in ("lk.pinned", "sp.pinned")}

    # Spark appends to both and rewrites the lake table's files (a `replace` snapshot)
    spark.sql(f"INSERT INTO {CATALOG}.sp.pinned VALUES (9001, 2.5), (9002, 3.5)")
    when = "TIMESTAMP '2026-06-05 00:00:00'"
    spark.sql(f"INSERT INTO {CATALOG}.lk.pinned VALUES (9001, {when}, 'US', 2.5), (9002, {when}, 'DE', 3.5)")
    spark.sql(
        f"CALL {CATALOG}.system.rewrite_data_files(table => 'lk.pinned', options => map('min-input-files', '1'))"
    )

    report = lake.verify_pins(lock)
    assert report.ok, report.message()
    for table, sums in before.items():
        assert lake_sums(shared, table, pins=str(lock)) == sums
        assert lake_sums(shared, table)[0] == sums[0] + 2
    pinned = {t["table"]: int(t["snapshot_id"]) for t in json.loads(lock.read_text())["tables"]}
    assert spark_sums(spark, "sp.pinned", f"VERSION AS OF {pinned['sp.pinned']}") == before["sp.pinned"]
