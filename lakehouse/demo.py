"""`make demo` (`python -m lakehouse.demo`): the example project end to end on local S3 (moto).

    lake dev up -> generate a raw events feed -> lake ingest bronze.events / bronze.labels
    -> lake run (silver -> gold, with checks) -> query results -> lake pin gold.training_set
    -> a shifted day arrives (a promotion: more purchases, bigger baskets) -> lake run
    -> lake diff / lake drift gold.training_set --from @training.lock

Everything goes through the `dev` profile of the project's catalog/lake.yaml (the project found from the
working directory, else this repo), and the lake stays in place afterwards, so the commands printed at the end work as shown. `run_demo` is the library part: it takes a
`Lakehouse` and a `say` callback and never prints itself (the tests run it on a throwaway lake).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lakehouse.lake import Lakehouse

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ROWS = 300_000

QUERIES = {
    "bronze -> silver: what cleaning removed": """
        SELECT (SELECT count(*) FROM bronze.events) AS bronze_rows,
               (SELECT count(*) FROM silver.events) AS silver_rows,
               (SELECT count(*) - count(DISTINCT event_id) FROM bronze.events) AS duplicate_rows,
               (SELECT count(*) FROM bronze.events WHERE user_id IS NULL OR ts IS NULL) AS rows_missing_user_or_ts,
               (SELECT count(*) FROM bronze.events WHERE amount < 0) AS negative_amounts_clipped""",
    "top spenders (latest features)": """
        SELECT user_id, feature_date, round(total_spend, 2) AS total_spend, num_events,
               round(spend_last_7d, 2) AS spend_7d, round(spend_last_30d, 2) AS spend_30d,
               round(log1p_total_spend, 3) AS log1p_spend
        FROM gold.user_features
        QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY feature_date DESC) = 1
        ORDER BY total_spend DESC LIMIT 5""",
    "training set: point-in-time features per label": """
        SELECT count(*) AS labels, round(avg(label), 3) AS positive_rate,
               count(*) FILTER (WHERE features_at IS NULL) AS labels_before_any_features,
               count(*) FILTER (WHERE features_at > label_ts) AS future_leaks
        FROM gold.training_set""",
}


def run_demo(
    lake: Lakehouse,
    workdir: Path,
    *,
    rows: int = DEFAULT_ROWS,
    project: Path = ROOT / "sql",
    say: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Generate, ingest, run, query and pin; returns what happened (the CLI-ish `main` prints it)."""
    from lakehouse.dev import datagen

    workdir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    now = datetime.now(UTC).replace(microsecond=0)
    today = now.replace(hour=0, minute=0, second=0)
    # The feed ends yesterday at midnight; the shifted day appended after the pin is yesterday.
    feed = datagen.events(rows, days=45, end=today - timedelta(days=1), seed=42)
    labels = datagen.labels(feed, max(100, rows // 15), seed=7)
    events_path = datagen.write_jsonl(feed, workdir / "events.jsonl")
    labels_path = datagen.write_jsonl(labels, workdir / "labels.jsonl")
    say(
        f"generated {feed.num_rows:,} raw events and {labels.num_rows:,} labels in {workdir} ({time.perf_counter() - start:.1f}s)"
    )
    for table, path in (("bronze.events", events_path), ("bronze.labels", labels_path)):
        got = lake.ingest(table, str(path), create=True, mode="overwrite")
        say(f"ingested {got.rows:,} rows into {table}: snapshot {got.snapshot_id} ({got.seconds:.1f}s)")

    def progress(m: Any) -> None:
        if m.status == "ok":
            published = f"snapshot {m.snapshot_id}"
        elif m.previous_snapshot_id is not None:
            published = f"unchanged at snapshot {m.previous_snapshot_id}"
        else:
            published = "nothing published"
        say(f"  {m.status.upper():7} {m.model}: {m.strategy}, {m.rows:,} rows, {m.seconds:.2f}s, {published}")
        for c in m.checks:
            if not c.passed:
                say(f"          {'warn' if c.severity == 'warn' else 'FAIL'}: {c.message()}")

    say("lake run:")
    result = lake.run(project, full_refresh=True, on_model=progress)  # bronze was just replaced
    if not result.ok:
        from lakehouse.errors import CheckFailedError

        raise CheckFailedError(result.failure_message())
    answers = {title: lake.query(sql) for title, sql in QUERIES.items()}
    pin_path = workdir / "training.lock"
    pinned = lake.pin(["gold.training_set"], pin_path)
    changed = _shifted_day(lake, workdir, feed, labels.num_rows, now, project, say)
    return {
        "run": result,
        "answers": answers,
        "pin": pinned,
        "pin_path": pin_path,
        **changed,
        "seconds": time.perf_counter() - start,
    }


def _shifted_day(
    lake: Lakehouse,
    workdir: Path,
    feed: Any,
    label_count: int,
    now: datetime,
    project: Path,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """After the pin, a promotion day arrives (half the events purchases, baskets 8x) with a batch of labels for its
    shoppers; the models run again, and diff and drift say what changed against the pinned training set."""
    import pyarrow as pa

    from lakehouse.dev import datagen

    today = now.replace(hour=0, minute=0, second=0)
    n = max(60, feed.num_rows // 45)
    day = datagen.events(
        n, days=1, end=today, users=max(10, feed.num_rows // 40), seed=43, start_id=10**9,
        purchase_share=0.5, amount_scale=8.0,
    )  # fmt: skip
    labels = datagen.labels(
        pa.concat_tables([feed, day]), max(50, label_count // 3), seed=8,
        users_since=today - timedelta(days=1), between=(today, max(now, today + timedelta(minutes=1))),
    )  # fmt: skip
    say("")
    say(f"a shifted day arrives: {day.num_rows:,} events (a promotion) and {labels.num_rows:,} labels")
    for table, rows, name in (
        ("bronze.events", day, "day.jsonl"),
        ("bronze.labels", labels, "day_labels.jsonl"),
    ):
        got = lake.ingest(table, str(datagen.write_jsonl(rows, workdir / name)), mode="append")
        say(f"appended {got.rows:,} rows to {table}: snapshot {got.snapshot_id}")
    again = lake.run(project)
    if not again.ok:
        from lakehouse.errors import CheckFailedError

        raise CheckFailedError(again.failure_message())
    pins = f"@{workdir / 'training.lock'}"
    diff = lake.diff("gold.training_set", pins, limit=5)
    drift = lake.drift("gold.training_set", pins)
    say(
        f"lake diff gold.training_set --from @training.lock: +{diff.rows_added:,} rows, "
        f"-{diff.rows_removed:,} rows, {len(diff.snapshots)} snapshot(s) in between"
    )
    worst = sorted((c for c in drift.columns if c.drifted), key=lambda c: -(c.psi or 0))
    say(
        "lake drift gold.training_set --from @training.lock: "
        + (f"drift in {len(worst)} column(s): " + ", ".join(
            f"{c.column} (PSI {c.psi:.2f})" if c.psi is not None else c.column for c in worst
        ) if worst else "no drift")
    )  # fmt: skip
    return {"rerun": again, "diff": diff, "drift": drift}


def _print_table(title: str, table: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Table(title=title, title_justify="left")
    for name in table.column_names:
        out.add_column(name)
    for row in table.to_pylist():
        out.add_row(*("" if v is None else str(v) for v in row.values()))
    Console(highlight=False).print(out)


def main(argv: list[str] | None = None) -> int:
    from lakehouse.core.config import load_profile
    from lakehouse.dev import server as dev
    from lakehouse.errors import LakehouseError

    rows = int(os.environ.get("LAKE_DEMO_ROWS", DEFAULT_ROWS))
    root = _project_root()
    os.chdir(root)
    try:
        profile = load_profile("dev", root / "catalog" / "lake.yaml")
        status = dev.up(profile)
        print(
            f"lake dev up: {status.get('action')} on {status.get('endpoint')} (bucket {status.get('bucket')})"
        )
        if status.get("note"):
            print(f"  note: {status['note']}")
        done = run_demo(
            Lakehouse(profile), root / ".lake" / "demo", rows=rows, project=root / "sql", say=print
        )
    except LakehouseError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    print()
    for title, table in done["answers"].items():
        _print_table(title, table)
    if done["pin"] is not None:
        pin = done["pin"].pins[0]
        print(
            f"\npinned gold.training_set at snapshot {pin.snapshot_id} in {done['pin_path'].relative_to(root)}"
        )
    print(f"\ndone in {done['seconds']:.1f}s; the lake stays up. Next, try:")
    for line in (
        "source .venv/bin/activate                    # puts `lake` on your PATH",
        "export LAKE_PROFILE=dev",
        "lake lineage --columns                       # gold.user_features.total_spend <- ... <- bronze.events.amount",
        "lake provenance gold.training_set            # the bronze snapshots it was built from",
        "lake run --select silver.events+ --dry-run   # the plan: order, materialization, rendered SQL",
        "lake test                                    # every check against the current tables",
        'lake query "SELECT label, avg(spend_last_7d) FROM gold.training_set GROUP BY 1"',
        'lake query "SELECT count(*) FROM gold.training_set" --as-of @.lake/demo/training.lock',
        "lake diff gold.training_set --from @.lake/demo/training.lock   # what the shifted day changed",
        "lake drift gold.training_set --from @.lake/demo/training.lock  # exit 1: the features drifted",
        "lake snapshots silver.events",
        "python examples/train.py --pins .lake/demo/training.lock --target label",
        "lake dev down                                # saves the lake; lake dev up restores it",
    ):
        print(f"  {line}")
    return 0


def _project_root() -> Path:
    """The project around the working directory when it has a config and models (as `make demo` in a
    clone, or a copy of it), else this repo."""
    from lakehouse.core.project import find_root

    found = find_root()
    if found is not None and found.config is not None and (found.path / "sql").is_dir():
        return found.path
    return ROOT


if __name__ == "__main__":
    sys.exit(main())
