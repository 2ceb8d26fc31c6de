"""`lake dev up --catalog rest`: SeaweedFS as a local REST catalog, through the CLI, kept across restarts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import events, write_jsonl

from lakehouse.cli import cli
from lakehouse.dev import seaweed


def _cli(root: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        cli, ["--config", str(root / "catalog" / "lake.yaml"), *args], catch_exceptions=False
    )
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A `lake init` project whose dev-rest ports are free ones; its server stopped afterwards."""
    s3, catalog = seaweed.free_ports(2)
    monkeypatch.setenv("LAKE_DEV_REST_S3_PORT", str(s3))
    monkeypatch.setenv("LAKE_DEV_REST_CATALOG_PORT", str(catalog))
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(cli, ["init", str(tmp_path)]).exit_code == 0
    yield tmp_path
    _cli(tmp_path, "dev", "down", "--catalog", "rest")


def test_up_ingest_down_up_keeps_the_tables(project: Path) -> None:
    code, out, err = _cli(project, "dev", "up", "--catalog", "rest", "--json")
    assert code == 0, err
    started = json.loads(out)
    assert started["action"] == "started" and started["restore"]["mode"] == "fresh"
    assert started["profile"] == "dev-rest" and started["state"] == "running"
    config = (project / "catalog" / "lake.yaml").read_text()
    assert "# Local REST catalog" in config and "# Local S3" in config  # added, comments kept
    profile = yaml.safe_load(config)["profiles"]["dev-rest"]
    assert profile["type"] == "rest" and profile["warehouse"] == seaweed.TABLE_BUCKET

    src = write_jsonl(project / "e.jsonl", events(30))
    code, out, err = _cli(project, "--profile", "dev-rest", "ingest", "b.ev", str(src), "--create", "--json")
    assert code == 0, err
    again = _cli(project, "dev", "up", "--catalog", "rest", "--json")
    assert json.loads(again[1])["action"] == "already running"

    code, out, err = _cli(project, "dev", "down", "--catalog", "rest")
    assert code == 0 and "stopped SeaweedFS" in out, err
    assert not seaweed.running(started["pid"])
    code, _, err = _cli(project, "--profile", "dev-rest", "tables")
    assert code == 1 and "lake dev up --catalog rest" in err  # the way back is named

    code, out, err = _cli(project, "dev", "up", "--catalog", "rest")
    assert code == 0 and "serving the tables kept in" in out, err
    code, out, err = _cli(
        project, "--profile", "dev-rest", "query", "SELECT count(*) AS n FROM b.ev", "--json"
    )
    assert code == 0 and json.loads(out)["rows"] == [{"n": 30}], err
    status = json.loads(_cli(project, "dev", "status", "--catalog", "rest", "--json")[1])
    assert status["state"] == "running" and status["uri"].startswith("http://127.0.0.1:")
    info = json.loads(_cli(project, "--profile", "dev-rest", "info", "--json")[1])["dev_server"]
    assert (info["state"], info["endpoint"], info["command"]) == (
        "running",
        status["uri"],
        "lake dev up --catalog rest",
    )


def test_rest_options_are_refused_on_other_profiles(project: Path) -> None:
    code, _, err = _cli(project, "--profile", "dev", "dev", "up", "--catalog", "rest")
    assert code == 1 and err.strip().splitlines() == [
        "Error: profile 'dev' is not a REST catalog (type: rest); use `lake dev up`"
    ]
