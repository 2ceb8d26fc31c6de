"""Output through pipes and formats: a closed pipe is not an error, nested columns in every format,
terminal tables that read well (numbers right, NULL distinct, ids whole)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse.testing import LakeEnv

NESTED = (
    "SELECT 1 AS id, [1, 2] AS l, {'a': 1, 'd': DATE '2026-09-18'} AS s, MAP {'k': 1} AS m, "
    "MAP {1: [MAP {DATE '2026-01-01': 'x'}]} AS mm, NULL::INT[] AS n"
)
EXPECTED = {
    "id": 1,
    "l": [1, 2],
    "s": {"a": 1, "d": "2026-09-18"},
    "m": {"k": 1},
    "mm": {"1": [{"2026-01-01": "x"}]},
    "n": None,
}


def lake_command(env: LakeEnv) -> str:
    args = " ".join(f"'{a}'" for a in env.cli_args())
    return f"'{sys.executable}' -m lakehouse.cli {args}"


def test_a_closed_pipe_stops_quietly_with_exit_0(local_lake: LakeEnv) -> None:
    # 300,000 rows are megabytes of CSV: far more than a pipe buffer, so the writer meets the closed pipe
    for fmt in ("csv", "jsonl"):
        script = (
            f"set -o pipefail; {lake_command(local_lake)} query "
            f"'SELECT range AS i, repeat(chr(120), 20) AS pad FROM range(300000)' --format {fmt} | head -1"
        )
        done = subprocess.run(
            ["bash", "-c", script], capture_output=True, text=True, timeout=120,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
        assert done.stdout.splitlines() == (
            ['"i","pad"'] if fmt == "csv" else ['{"i": 0, "pad": "' + "x" * 20 + '"}']
        )


def test_nested_columns_as_json_text_in_csv(local_lake: LakeEnv, run_cli: Any) -> None:
    result = run_cli(local_lake, "query", NESTED, "--format", "csv")
    assert result.exit_code == 0, result.stderr
    (row,) = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {k: json.loads(v) if v else None for k, v in row.items()} == EXPECTED


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_nested_columns_natively_in_json(local_lake: LakeEnv, run_cli: Any, fmt: str) -> None:
    result = run_cli(local_lake, "query", NESTED, "--format", fmt)
    assert result.exit_code == 0, result.stderr
    rows = (
        json.loads(result.stdout)
        if fmt == "json"
        else [json.loads(line) for line in result.stdout.splitlines()]
    )
    assert rows == [EXPECTED]
    document = json.loads(run_cli(local_lake, "query", NESTED, "--json").stdout)
    assert document["rows"] == [EXPECTED]


def test_nested_columns_natively_in_parquet(local_lake: LakeEnv, run_cli: Any, tmp_path: Path) -> None:
    target = tmp_path / "nested.parquet"
    result = run_cli(local_lake, "query", NESTED, "--output", str(target))
    assert result.exit_code == 0, result.stderr
    table = pq.read_table(target)
    assert pa.types.is_map(table.schema.field("m").type)
    row = table.to_pylist()[0]
    assert row["l"] == [1, 2] and row["m"] == [("k", 1)] and row["n"] is None


def terminal_lines(local_lake: LakeEnv, run_cli: Any, *args: str) -> list[str]:
    """The output people see at a terminal (LAKE_TERMINAL=1), 60 columns wide."""
    os.environ.update({"LAKE_TERMINAL": "1", "COLUMNS": "60"})
    try:
        result = run_cli(local_lake, *args)
    finally:
        del os.environ["LAKE_TERMINAL"], os.environ["COLUMNS"]
    assert result.exit_code == 0, result.stderr
    return result.stdout.splitlines()


def test_terminal_table_aligns_numbers_marks_null_and_keeps_ids_whole(
    local_lake: LakeEnv, run_cli: Any
) -> None:
    sql = (
        "SELECT * FROM (VALUES (8630870585693384451, 5, NULL, '', DATE '2026-09-18', repeat('word ', 30)),"
        " (1, 12345, 'x', NULL, NULL, 'w')) AS t(snapshot_id, n, s, e, d, long_text)"
    )
    lines = terminal_lines(local_lake, run_cli, "query", sql)
    body = [line for line in lines if line.startswith("│")]
    cells = [[c.strip() for c in line.strip("│").split("│")] for line in body]
    first, second = cells[0], next(c for c in cells[1:] if c[0])
    assert first[0] == "8630870585693384451"  # the id whole on one line, copyable
    assert first[2] == "NULL" and first[3] == ""  # NULL is not the empty string
    assert second[3] == "NULL" and second[4] == "NULL"
    assert first[4] == "2026-09-18"
    n_cells = [line.strip("│").split("│")[1] for line in body if line.strip("│").split("│")[1].strip()]
    assert n_cells[0].endswith("5 ") and n_cells[0].startswith("     ")  # right-aligned
    assert max(len(line) for line in lines) <= 60  # long text folds instead


def test_piped_output_is_csv_without_notes(local_lake: LakeEnv, run_cli: Any) -> None:
    result = run_cli(local_lake, "query", "SELECT NULL AS x, '' AS e")
    assert result.stdout == '"x","e"\n,""\n' and result.stderr == ""


def test_failed_check_samples_are_values_and_a_new_table_is_not_snapshot_none(
    local_lake: LakeEnv, run_cli: Any, tmp_path: Path
) -> None:
    from conftest import events, write_jsonl, write_project

    write_jsonl(tmp_path / "e.jsonl", events(20))
    local_lake.lake.ingest("bronze.events", str(tmp_path / "e.jsonl"), create=True)
    model = (
        "{{ config(checks=[{'range': {'column': 'amount', 'max': -1}}]) }} "
        "SELECT CAST(ts AS DATE) AS day, amount, NULL::VARCHAR AS note FROM bronze.events"
    )
    project = write_project(local_lake.root, {"silver.days": model})
    result = run_cli(local_lake, "run", "--project", str(project))
    assert result.exit_code == 1
    assert "datetime.date" not in result.stderr and "Decimal(" not in result.stderr
    assert "day=2026-06-0" in result.stderr and "note=NULL" in result.stderr, result.stderr
    assert "None (unchanged)" not in result.stderr
