"""Time travel: an `--as-of` query against the same query on the current snapshot (same data size),
and the cost of resolving a timestamp on a table with 1,000 snapshots.

Targets (issue 3): as-of within 1.1x of current; timestamp resolution adds under 50 ms.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.table import Table

from benchmarks.common import BenchContext, Figure, best_of
from lakehouse.table import snapshots as asof
from lakehouse.testing import local_properties, make_lake_env

TOPIC = "timetravel"
QUERY = "SELECT country, count(*) AS n, sum(amount) AS total FROM bench.events GROUP BY 1 ORDER BY 1"


def _events(n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "id": pa.array(np.arange(n, dtype=np.int64)),
            "ts": pa.array(
                (
                    np.datetime64("2026-06-01") + rng.integers(0, 30 * 86400, n).astype("timedelta64[s]")
                ).astype("datetime64[us]")
            ),
            "country": pa.array(rng.choice(["US", "DE", "FR", "JP", "BR", "IN"], n)),
            "amount": pa.array(rng.random(n) * 100),
            "user_id": pa.array(rng.integers(0, 100_000, n)),
        }
    )


def _add_snapshots(table: Table, count: int) -> None:
    from pyiceberg.table.refs import SnapshotRefType
    from pyiceberg.table.snapshots import Snapshot
    from pyiceberg.table.update import AddSnapshotUpdate, SetSnapshotRefUpdate

    base = table.current_snapshot()
    assert base is not None
    parent, seq, ts = base.snapshot_id, base.sequence_number or 1, base.timestamp_ms
    with table.transaction() as tx:
        for i in range(count):
            snap = Snapshot(
                snapshot_id=base.snapshot_id + i + 1, parent_snapshot_id=parent, sequence_number=seq + i + 1,
                timestamp_ms=ts + (i + 1) * 1000, manifest_list=base.manifest_list, summary=base.summary,
                schema_id=base.schema_id,
            )  # fmt: skip
            tx._apply(
                (
                    AddSnapshotUpdate(snapshot=snap),
                    SetSnapshotRefUpdate(
                        ref_name="main", type=SnapshotRefType.BRANCH, snapshot_id=snap.snapshot_id
                    ),
                )
            )
            parent = snap.snapshot_id


def run(ctx: BenchContext) -> list[Figure]:
    root = ctx.workdir
    env = make_lake_env(root, local_properties(root))
    lk = env.lake
    figures: list[Figure] = []

    # 1. --as-of vs current: snapshot A = n rows, snapshot B = an overwrite with n other rows
    n = ctx.rows(2_000_000)
    pq.write_table(_events(n, 1), root / "a.parquet")
    pq.write_table(_events(n, 2), root / "b.parquet")
    lk.ingest("bench.events", str(root / "a.parquet"), create=True, partition_by="day(ts)")
    old = lk.snapshot("bench.events").snapshot_id
    lk.ingest("bench.events", str(root / "b.parquet"), mode="overwrite")
    lk.query(QUERY)  # warm caches
    lk.query(QUERY, as_of=str(old))
    current = best_of(lambda: lk.query(QUERY), repeat=5)
    pinned = best_of(lambda: lk.query(QUERY, as_of=str(old)), repeat=5)
    figures.append(
        Figure(
            TOPIC,
            f"--as-of query vs current snapshot ({n:,} rows each)",
            pinned,
            current,
            "s",
            "<= 1.1x",
            f'lake query "{QUERY}" --as-of <snapshot id>',
        )  # fmt: skip
    )

    # 2. timestamp resolution on a table with 1,000 snapshots. One real append, then 999 snapshots
    # added in one metadata commit that share its manifest list (resolution reads metadata only).
    lk.create("bench.history", "id long, v double")
    table = lk.table("bench.history")
    table.append(pa.table({"id": pa.array([1], pa.int64()), "v": pa.array([1.0])}))
    snapshots = 1000
    _add_snapshots(lk.table("bench.history"), snapshots - 1)
    table = lk.table("bench.history")
    assert len(table.snapshots()) == snapshots, len(table.snapshots())
    log = table.metadata.snapshot_log
    middle = log[len(log) // 2].timestamp_ms
    when = datetime.fromtimestamp(middle / 1000, UTC).isoformat()
    resolve_s = best_of(lambda: asof.resolve(table, "bench.history", when), repeat=20)
    by_id_s = best_of(lambda: asof.resolve(table, "bench.history", str(log[0].snapshot_id)), repeat=20)
    figures.append(
        Figure(
            TOPIC,
            f"resolve a timestamp, table with {snapshots:,} snapshots",
            resolve_s * 1000,
            by_id_s * 1000,
            "ms",
            "< 50 ms",
            "lake query ... --as-of 2026-01-15T00:00:00Z",
            "baseline: resolving a snapshot id",
        )  # fmt: skip
    )
    sql = "SELECT count(*) FROM bench.history"
    plain = best_of(lambda: lk.plan_query(sql), repeat=5)
    with_ts = best_of(lambda: lk.plan_query(sql, as_of=when), repeat=5)
    figures.append(
        Figure(
            TOPIC,
            f"plan a query with a timestamp --as-of, {snapshots:,} snapshots",
            with_ts * 1000,
            plain * 1000,
            "ms",
            "adds < 50 ms",
            f'lake query "{sql}" --as-of <time>',
            f"added by the timestamp: {(with_ts - plain) * 1000:.1f} ms (catalog load included in both)",
        )  # fmt: skip
    )
    return figures
