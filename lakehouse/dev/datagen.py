"""A realistic raw events feed for the example project, and labels for its training set.

The feed is what a bronze table really receives: re-delivered events (exact duplicates), rows without a
user or a timestamp, negative amounts (refunds booked as purchases), mixed-case values. Timestamps are
ISO-8601 text, as JSON carries them. Everything is deterministic for a seed and an end time.

    >>> feed = events(1000, days=7, seed=1)
    >>> feed.num_rows > 1000          # duplicates on top
    True
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

EVENT_TYPES = np.array(["view", "click", "add_to_cart", "purchase"])
EVENT_WEIGHTS = np.array([0.6, 0.25, 0.1, 0.05])
COUNTRIES = np.array(["US", "DE", "FR", "JP", "BR", "IN", "gb"])
DEVICES = np.array(["ios", "android", "web"])
LABEL_HORIZON = timedelta(days=7)


def _end_of(end: datetime | None) -> datetime:
    end = end or datetime.now(UTC)
    return end.replace(microsecond=0) if end.tzinfo else end.replace(microsecond=0, tzinfo=UTC)


def _iso(seconds: np.ndarray) -> np.ndarray:
    stamps = seconds.astype("datetime64[s]")
    return np.char.add(np.datetime_as_string(stamps, unit="s").astype(str), "Z")


def events(
    n: int,
    *,
    days: int = 30,
    users: int | None = None,
    end: datetime | None = None,
    seed: int = 42,
    start_id: int = 0,
    duplicate_rate: float = 0.03,
    null_rate: float = 0.01,
    negative_rate: float = 0.02,
    purchase_share: float | None = None,
    amount_scale: float = 1.0,
) -> pa.Table:
    """`n` distinct events over the `days` before `end`, plus re-delivered duplicates, in arrival order.

    `purchase_share` and `amount_scale` shift the feed (a promotion day: more purchases, bigger baskets),
    as drift detection is shown on."""
    rng = np.random.default_rng(seed)
    end_s = int(_end_of(end).timestamp())
    users = users or max(10, n // 40)
    ids = np.arange(start_id, start_id + n)
    ts = np.sort(rng.integers(end_s - days * 86400, end_s, n))
    user = (rng.zipf(1.3, n) + rng.integers(0, users, n)) % users
    weights = EVENT_WEIGHTS
    if purchase_share is not None:  # the other kinds keep their proportions
        weights = np.append(
            EVENT_WEIGHTS[:3] / EVENT_WEIGHTS[:3].sum() * (1 - purchase_share), purchase_share
        )
    kind = rng.choice(len(EVENT_TYPES), n, p=weights)
    amount = np.where(kind == 3, np.round(rng.lognormal(3.0, 1.0, n) * amount_scale, 2), 0.0)
    amount = np.where(rng.random(n) < negative_rate, -np.round(rng.lognormal(2.0, 1.0, n), 2), amount)
    dup = np.flatnonzero(rng.random(n) < duplicate_rate)
    order = np.sort(np.concatenate([np.arange(n), dup]), kind="stable")  # a copy arrives right after
    ts_text = _iso(ts).astype(object)
    user_col = pa.array(user[order], pa.int64(), mask=rng.random(order.size) < null_rate)
    ts_col = pa.array(ts_text[order], pa.string(), mask=rng.random(order.size) < null_rate)
    mixed_case = np.where(rng.random(n) < 0.05, np.char.upper(EVENT_TYPES[kind]), EVENT_TYPES[kind])
    return pa.table(
        {
            "event_id": pa.array(np.char.add("e", ids.astype(str))[order]),
            "user_id": user_col,
            "ts": ts_col,
            "event_type": pa.array(mixed_case[order]),
            "amount": pa.array(amount[order]),
            "country": pa.array(COUNTRIES[rng.integers(0, len(COUNTRIES), n)][order]),
            "device": pa.array(DEVICES[rng.integers(0, len(DEVICES), n)][order]),
        }
    )


def labels(
    feed: pa.Table,
    n: int,
    *,
    seed: int = 7,
    users_since: datetime | None = None,
    between: tuple[datetime, datetime] | None = None,
) -> pa.Table:
    """`n` labels for users of the feed: 1 if the user made a purchase in the 7 days after `label_ts`.

    By default users are drawn from the whole feed and `label_ts` from its time range (less the label
    horizon); `users_since` draws only users active since then, `between` gives the `label_ts` range."""
    import pyarrow.compute as pc

    rng = np.random.default_rng(seed)
    valid = feed.filter(pc.and_(pc.is_valid(feed["user_id"]), pc.is_valid(feed["ts"])))
    user = valid.column("user_id").to_numpy().astype(np.int64)
    secs = np.char.rstrip(valid.column("ts").to_numpy(zero_copy_only=False).astype(str), "Z").astype(
        "datetime64[s]"
    )
    secs = secs.astype(np.int64)
    kind = np.char.lower(valid.column("event_type").to_numpy(zero_copy_only=False).astype(str))
    buying = kind == "purchase"
    key = np.sort(user[buying] * 10**11 + secs[buying])
    lo, hi = int(secs.min()), int(secs.max())
    hi = max(lo + 1, hi - int(LABEL_HORIZON.total_seconds()))
    if between is not None:
        lo, hi = (int(_end_of(t).timestamp()) for t in between)
    eligible = np.arange(user.size)
    if users_since is not None:
        eligible = np.flatnonzero(secs >= int(_end_of(users_since).timestamp()))
    label_user = user[eligible[rng.integers(0, eligible.size, n)]]
    label_s = rng.integers(lo, hi, n)
    base = label_user * 10**11 + label_s
    horizon = int(LABEL_HORIZON.total_seconds())
    bought = np.searchsorted(key, base + horizon, "right") - np.searchsorted(key, base, "right")
    return pa.table(
        {
            "user_id": pa.array(label_user, pa.int64()),
            "label_ts": pa.array(_iso(label_s).astype(object), pa.string()),
            "label": pa.array((bought > 0).astype(np.int64)),
        }
    )


def write_jsonl(table: pa.Table, path: str | Path, chunk: int = 50_000) -> Path:
    """JSON Lines as a raw feed arrives (null fields are written as null)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    dumps = json.dumps
    with path.open("w") as out:
        for start in range(0, table.num_rows, chunk):
            rows = table.slice(start, chunk).to_pylist()
            out.write("".join(dumps(r, separators=(",", ":")) + "\n" for r in rows))
    return path


def write_parquet(table: pa.Table, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd")
    return path
