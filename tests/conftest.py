"""Shared fixtures. The moto server and lakes come from the `lakehouse.testing` pytest plugin (an entry point)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from lakehouse.cli import cli
from lakehouse.testing import LakeEnv

CliFn = Callable[..., Result]


@pytest.fixture
def run_cli() -> Callable[..., Result]:
    """`run_cli(env, "query", "SELECT 1")`: invoke `lake` in-process against a test lake."""

    def run(env: LakeEnv, *args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli, [*env.cli_args(), *args], input=input, catch_exceptions=False)

    return run


def cli_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output + (result.stderr if result.stderr_bytes else "")
    return json.loads(result.stdout)


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def events(n: int, start: int = 0, days: int = 3) -> list[dict[str, Any]]:
    """Small deterministic event rows: id, ts over `days` days, country, amount, user_id."""
    countries = ["US", "DE", "FR", "JP"]
    return [
        {
            "id": i,
            "ts": f"2026-06-{1 + (i % days):02d}T{(i * 7) % 24:02d}:00:00Z",
            "country": countries[i % len(countries)],
            "amount": round((i * 37 % 1000) / 10 - 5, 2),
            "user_id": i % 17,
        }
        for i in range(start, start + n)
    ]


def snapshot_count(env: LakeEnv, table: str) -> int:
    return len(env.lake.table(table).snapshots())
