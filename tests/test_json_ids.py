"""Snapshot ids in every `--json` document are strings, so jq and JavaScript (doubles) keep all 63 bits;
the Python API keeps them as ints."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import cli_json, events, write_jsonl

from lakehouse.dev import datagen

REPO_SQL = Path(__file__).resolve().parent.parent / "sql"
EXACT = 2**53  # the largest integer a JSON reader working in doubles keeps exactly


def big_numbers(doc: Any, path: str = "$") -> list[str]:
    """Paths of every number in `doc` that a double would round."""
    if isinstance(doc, dict):
        return [p for k, v in doc.items() for p in big_numbers(v, f"{path}.{k}")]
    if isinstance(doc, list):
        return [p for i, v in enumerate(doc) for p in big_numbers(v, f"{path}[{i}]")]
    if isinstance(doc, int) and not isinstance(doc, bool) and abs(doc) > EXACT:
        return [path]
    return []


@pytest.fixture
def built(local_lake):
    feed = datagen.events(800, days=5, end=datetime.now(UTC).replace(microsecond=0), seed=5)
    for name, rows in (("bronze.events", feed), ("bronze.labels", datagen.labels(feed, 100))):
        path = datagen.write_jsonl(rows, local_lake.root / "feed" / f"{name}.jsonl")
        local_lake.lake.ingest(name, str(path), create=True)
    result = local_lake.lake.run(REPO_SQL)
    assert result.ok, result.failure_message()
    return local_lake


def test_every_json_document_writes_snapshot_ids_as_strings(built, run_cli, tmp_path) -> None:
    env = built
    lk = env.lake
    ids = [s["snapshot_id"] for s in lk.snapshots("bronze.events")]
    assert all(isinstance(i, int) for i in ids)  # the Python API keeps ints
    pin = tmp_path / "training.lock"
    commands = [
        ("snapshots", "bronze.events"),
        ("describe", "gold.training_set"),
        ("files", "bronze.events"),
        ("tags", "bronze.events"),
        ("provenance", "gold.training_set"),
        ("provenance", "bronze.events"),
        ("drop", "bronze.labels", "--purge", "--dry-run"),
        ("query", "SELECT count(*) AS n FROM gold.training_set"),
        ("run", "--project", str(REPO_SQL), "--dry-run"),
        ("run", "--project", str(REPO_SQL)),
        ("pin", "gold.training_set", "bronze.events", "--output", str(pin)),
        ("tag", "bronze.events", "v1", "--as-of", str(ids[0])),
        ("compact", "bronze.events", "--dry-run"),
        ("delete", "bronze.events", "--where", "user_id < 0", "--dry-run"),
        ("rollback", "bronze.events", "--to", str(ids[0]), "--dry-run"),
    ]
    docs = {}
    for args in commands:
        doc = cli_json(run_cli(env, *args, "--json"))
        assert big_numbers(doc) == [], (args, big_numbers(doc))
        docs[args[0]] = doc

    by_snapshots = docs["snapshots"]
    assert [r["snapshot_id"] for r in by_snapshots] == [str(i) for i in ids]
    assert docs["tag"]["snapshot_id"] == str(ids[0])
    described = docs["describe"]
    gold = str(lk.table("gold.training_set").metadata.current_snapshot_id)
    assert described["snapshot"]["snapshot_id"] == gold
    assert docs["query"]["snapshots"] == {"gold.training_set": gold}
    # a string that round-trips to the exact id reads the same snapshot
    first = by_snapshots[0]
    assert lk.read("bronze.events", as_of=int(first["snapshot_id"])).num_rows == first["total_rows"] > 0


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
def test_the_helps_jq_example_gives_an_id_that_reads(local_lake, tmp_path) -> None:
    """`lake snapshots X --json | jq -r '.[-1].snapshot_id'`, then `--as-of` that id, as the help shows."""
    env = local_lake
    env.lake.ingest("s.t", str(write_jsonl(tmp_path / "a.jsonl", events(5))), create=True)
    env.lake.ingest("s.t", str(write_jsonl(tmp_path / "b.jsonl", events(3, start=5))))
    lake = [sys.executable, "-m", "lakehouse.cli", *env.cli_args()]
    shell_env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    listed = subprocess.run(
        [*lake, "snapshots", "s.t", "--json"], capture_output=True, text=True, check=True, env=shell_env
    )
    first = subprocess.run(
        ["jq", "-r", ".[0].snapshot_id"], input=listed.stdout, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert first == str(env.lake.snapshots("s.t")[0]["snapshot_id"])
    counted = subprocess.run(
        [*lake, "query", "SELECT count(*) FROM s.t", "--as-of", first, "--format", "csv"],
        capture_output=True,
        text=True,
        env=shell_env,
    )
    assert counted.returncode == 0, counted.stderr
    assert counted.stdout.splitlines()[-1] == "5"
