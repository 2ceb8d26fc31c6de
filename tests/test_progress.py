"""Progress that moves: DuckDB's progress reaches the library's callbacks during an ingest and a
compaction, only increasing, ending at 100; piped CLI output carries no progress."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lakehouse.core.sizes import format_size
from lakehouse.testing import LakeEnv


@pytest.fixture
def big_csv(local_lake: LakeEnv, tmp_path: Path) -> Path:
    """About 2M rows: an ingest long enough (a second or more) for several progress polls."""
    path = tmp_path / "big.csv"
    import duckdb

    duckdb.connect().execute(
        f"COPY (SELECT range AS id, range % 50 AS k, repeat('x', 40) AS pad FROM range(2000000)) TO '{path}'"
    )
    return path


def moved(values: list[float]) -> None:
    assert values, "no progress reported"
    assert values == sorted(values), values  # never goes back
    assert values[-1] == 100.0
    assert any(0 < v < 100 for v in values), values  # it moved before the end, not 0% then done


def test_ingest_progress_moves_to_the_total(local_lake: LakeEnv, big_csv: Path) -> None:
    seen: list[float] = []
    result = local_lake.lake.ingest(
        "bronze.big", str(big_csv), create=True, partition_by="k", on_progress=seen.append
    )
    assert result.rows == 2_000_000
    moved(seen)
    # what the bar shows beside the percentage: bytes of the source read
    size = format_size(big_csv.stat().st_size)
    assert seen[-1].detail == f"{size} of {size} read"  # type: ignore[attr-defined]
    assert all(getattr(v, "detail", "").endswith(f" of {size} read") for v in seen)


def test_piped_cli_output_has_no_progress(local_lake: LakeEnv, run_cli: Any, big_csv: Path) -> None:
    result = run_cli(local_lake, "ingest", "bronze.big", str(big_csv), "--create")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith("append 2000000 rows into bronze.big") or "2000000 rows" in result.stdout
    assert local_lake.lake.table("bronze.big").scan().to_arrow().num_rows == 2_000_000


def test_compaction_progress_moves_to_the_total(local_lake: LakeEnv, tmp_path: Path) -> None:
    from conftest import events, write_jsonl

    for i in range(6):  # six small files in each of four partitions: four groups to rewrite
        write_jsonl(tmp_path / f"e{i}.jsonl", events(400, start=400 * i))
        local_lake.lake.ingest(
            "bronze.events",
            str(tmp_path / f"e{i}.jsonl"),
            **({"create": True, "partition_by": "country"} if i == 0 else {}),
        )
    seen: list[float] = []
    result = local_lake.lake.compact("bronze.events", on_progress=seen.append)
    assert result.files_before == 24 and result.files_after == 4
    moved(seen)
    details = [getattr(v, "detail", "") for v in seen]
    assert details[0].endswith(" of 24 files rewritten") and details[-1] == "24 of 24 files rewritten"
    assert local_lake.lake.table("bronze.events").scan().to_arrow().num_rows == 2400


def test_run_counts_models_done_as_they_finish(local_lake: LakeEnv, run_cli: Any) -> None:
    from lakehouse.dev import datagen

    feed = datagen.events(500, days=3, seed=1)
    for name, rows in (("bronze.events", feed), ("bronze.labels", datagen.labels(feed, 50))):
        local_lake.lake.ingest(
            name, str(datagen.write_jsonl(rows, local_lake.root / f"{name}.jsonl")), create=True
        )
    repo_sql = Path(__file__).resolve().parent.parent / "sql"
    result = run_cli(local_lake, "run", "--project", str(repo_sql))
    assert result.exit_code == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if " of 4 OK " in line]
    assert [line.split(" OK ")[0] for line in lines] == ["1 of 4", "2 of 4", "3 of 4", "4 of 4"]
