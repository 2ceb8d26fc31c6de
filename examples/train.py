"""Train a small model on a pinned training set, reproducibly.

    lake pin gold.training --tag train-v1 --output training.lock   # once, when you train
    python examples/train.py --pins training.lock                    # today, and in six months

The script reads exactly the snapshots the lock file pins (streamed as Arrow record batches),
fits a least-squares linear regression with numpy alone, and prints the snapshot ids it used and
the fitted weights. Run it twice on the same lock file and the output is identical, whatever has
been appended, overwritten, compacted or expired since.

Options: --table (default: the first pinned table), --target (the column to predict), --features
(comma-separated numeric columns; default: every other numeric column), --profile/--config as for
`lake`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys

import numpy as np
import pyarrow as pa

import lakehouse


def load_matrix(
    lk: lakehouse.Lakehouse, table: str, pins: str, target: str, features: list[str] | None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Stream the pinned snapshot in batches and stack the numeric columns (sorted for determinism)."""
    parts: list[pa.RecordBatch] = []
    for batch in lk.batches(table, pins=pins, batch_size=50_000):
        parts.append(batch)
    data = pa.Table.from_batches(parts) if parts else None
    if data is None or data.num_rows == 0:
        raise SystemExit(f"{table} has no rows at the pinned snapshot")
    if target not in data.column_names:
        raise SystemExit(f"{table} has no column {target!r}; columns: {', '.join(data.column_names)}")
    if features is None:
        features = [
            f.name
            for f in data.schema
            if f.name != target and (pa.types.is_integer(f.type) or pa.types.is_floating(f.type))
        ]
    # Why sort: a pinned snapshot always holds the same rows, but they come back in no stable order
    # (DuckDB reads its files on several threads). Least squares sums in row order, and floating-point
    # sums depend on order, so unsorted weights could differ in the last digits from run to run.
    # Sorting by every column used makes the order, and so the output, the same on every run.
    # (`lk.read(table, pins=..., order_by=[...])` sorts in DuckDB instead; here we stream batches.)
    data = data.sort_by([(c, "ascending") for c in data.column_names if c in features + [target]])
    x = np.column_stack([data[c].to_numpy(zero_copy_only=False).astype(float) for c in features])
    y = data[target].to_numpy(zero_copy_only=False).astype(float)
    keep = ~(np.isnan(x).any(axis=1) | np.isnan(y))
    return x[keep], y[keep], features


def fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Ordinary least squares with an intercept; returns (weights incl. intercept, RMSE)."""
    design = np.column_stack([np.ones(len(x)), x])
    weights, *_ = np.linalg.lstsq(design, y, rcond=None)
    rmse = float(np.sqrt(np.mean((design @ weights - y) ** 2)))
    return weights, rmse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pins", required=True, help="lock file written by `lake pin`")
    parser.add_argument("--table", help="pinned table to train on (default: the first in the lock file)")
    parser.add_argument("--target", default="amount", help="column to predict (default: amount)")
    parser.add_argument("--features", help="comma-separated feature columns (default: other numeric columns)")
    parser.add_argument("--profile", help="lake profile (default: $LAKE_PROFILE or the config's default)")
    parser.add_argument("--config", help="lake config file (default: $LAKE_CONFIG or catalog/lake.yaml)")
    args = parser.parse_args(argv)

    try:
        pins = lakehouse.load_pins(args.pins)
        lk = lakehouse.connect(args.profile, args.config)
        table = args.table or pins.pins[0].table
        features = [c.strip() for c in args.features.split(",")] if args.features else None
        x, y, used = load_matrix(lk, table, args.pins, args.target, features)
    except lakehouse.LakehouseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    weights, rmse = fit(x, y)
    model = {"features": used, "intercept": round(float(weights[0]), 10)}
    model["weights"] = {c: round(float(w), 10) for c, w in zip(used, weights[1:], strict=True)}
    for pin in pins.pins:
        print(f"snapshot {pin.table} {pin.snapshot_id}")
    print(f"rows {len(y)}")
    print(f"model {json.dumps(model, sort_keys=True)}")
    print(f"rmse {rmse:.6f}")
    digest = hashlib.sha256(json.dumps(model, sort_keys=True).encode()).hexdigest()[:16]
    print(f"model-hash {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
