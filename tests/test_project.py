"""Projects: `lake init`, finding the project root from a subdirectory, `lake info`, and a dev server on
another port found without LAKE_DEV_PORT. Every command runs through the CLI in the directory a user
would be in (no --config), and the state is checked through the library."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result
from conftest import cli_json, events, one_line_error, write_jsonl

from lakehouse.cli import cli
from lakehouse.core.config import default_profile, load_profile
from lakehouse.dev import process
from lakehouse.dev.layout import dev_paths
from lakehouse.lake import Lakehouse

REPO_CONFIG = Path(__file__).resolve().parent.parent / "catalog" / "lake.yaml"
Lake = Callable[..., Result]


@pytest.fixture
def lake(monkeypatch: pytest.MonkeyPatch) -> Lake:
    """`lake(cwd, *args)`: run `lake ARGS` in `cwd` with no --config, as a user in that directory."""
    for var in ("LAKE_CONFIG", "LAKE_PROFILE", "LAKE_DEV_PORT", "LAKE_PROJECT"):
        monkeypatch.delenv(var, raising=False)

    def run(cwd: Path, *args: str) -> Result:
        monkeypatch.chdir(cwd)
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return run


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def lakes_under(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.rglob(".lake") if p.is_dir())


def count(root: Path, table: str, profile: str | None = None) -> int:
    lk = Lakehouse(load_profile(profile, start=root))
    return int(lk.query(f"SELECT count(*) AS n FROM {table}")["n"][0].as_py())


# ---------------------------------------------------------------- lake init


def test_init_scaffolds_a_project_that_ingests_runs_and_queries(lake: Lake, tmp_path: Path) -> None:
    done = cli_json(lake(tmp_path, "init", "shop", "--json"))
    root = tmp_path / "shop"
    assert done["root"] == str(root)
    expected = ["catalog/lake.yaml", "sql/sources.yml", "sql/silver/events.sql", "data/events.jsonl"]
    assert done["written"] == [*expected, "README.md", ".gitignore"]
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) == sorted(done["written"])
    assert (root / ".gitignore").read_text() == ".lake/\n"
    assert done["next_steps"][0] == "cd shop"

    # `local` is the built-in default, `dev` what `lake dev up` serves (the repo's own), `team` and
    # `rest` are there as comments only.
    document = yaml.safe_load((root / "catalog" / "lake.yaml").read_text())
    assert (document["default"], list(document["profiles"])) == ("local", ["local", "dev"])
    assert load_profile("local", start=root).properties == default_profile(root).properties
    assert document["profiles"]["dev"] == yaml.safe_load(REPO_CONFIG.read_text())["profiles"]["dev"]
    text = (root / "catalog" / "lake.yaml").read_text()
    assert "  # team:\n  #   type: postgres" in text and "  # rest:\n  #   type: rest" in text

    ingested = lake(root, "ingest", "bronze.events", "data/events.jsonl", "--create")
    assert ingested.exit_code == 0, ingested.stderr
    built = lake(root, "run")
    assert built.exit_code == 0, built.stderr
    rows = cli_json(
        lake(root, "query", "SELECT event_id, event_type FROM silver.events ORDER BY 1", "--json")
    )
    assert [(r["event_id"], r["event_type"]) for r in rows["rows"]] == [
        ("e1", "view"),
        ("e2", "purchase"),
        ("e3", "click"),
    ]
    assert lake(root, "test").exit_code == 0
    assert count(root, "bronze.events") == 5 and count(root, "silver.events") == 3
    assert lakes_under(tmp_path) == [root]  # the catalog is the project's, under its .lake/


def test_init_never_overwrites_and_writes_nothing_when_refused(lake: Lake, tmp_path: Path) -> None:
    root = tmp_path / "p"
    (root / "sql").mkdir(parents=True)
    (root / "sql" / "sources.yml").write_text("mine\n")
    line = one_line_error(lake(tmp_path, "init", "p"))
    assert str(root) in line and "sql/sources.yml" in line and "nothing was written" in line
    assert sorted(p.name for p in root.rglob("*")) == ["sources.yml", "sql"]
    assert (root / "sql" / "sources.yml").read_text() == "mine\n"

    # In an existing repository: README.md is kept and `.lake/` added to its .gitignore, once.
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "README.md").write_text("# repo\n")
    (repo / ".gitignore").write_text("*.pyc")
    done = cli_json(lake(repo, "init", "--json"))
    assert (done["updated"], done["kept"]) == ([".gitignore"], ["README.md"])
    assert "README.md" not in done["written"] and "cd" not in " ".join(done["next_steps"])
    assert (repo / "README.md").read_text() == "# repo\n"
    assert (repo / ".gitignore").read_text() == "*.pyc\n.lake/\n"
    again = one_line_error(lake(repo, "init"))
    assert "catalog/lake.yaml" in again
    assert (repo / ".gitignore").read_text() == "*.pyc\n.lake/\n"


def test_dev_up_works_in_a_new_project(lake: Lake, tmp_path: Path) -> None:
    """A new directory used to get "profile 'dev' not found"; it now says how to get one, and after
    `lake init` the dev server runs there (on a free port, found by later commands)."""
    line = one_line_error(lake(tmp_path, "dev", "up"))
    assert "profile 'dev' not found" in line and "`lake init`" in line
    assert lake(tmp_path, "init", "p").exit_code == 0
    root = tmp_path / "p"
    port = free_port()
    try:
        up = cli_json(lake(root, "dev", "up", "--port", str(port), "--json"))
        assert (up["action"], up["endpoint"]) == ("started", f"http://127.0.0.1:{port}")
        assert (
            lake(
                root / "sql",
                "--profile",
                "dev",
                "ingest",
                "bronze.events",
                "../data/events.jsonl",
                "--create",
            ).exit_code
            == 0
        )
        assert count(root, "bronze.events", "dev") == 5
    finally:
        down = lake(root, "dev", "down")
    assert down.exit_code == 0, down.stderr
    assert not (root / ".lake" / "dev" / "server.json").exists()


# ---------------------------------------------------------------- finding the project root


def test_a_subdirectory_uses_the_projects_lake_not_a_new_one(lake: Lake, tmp_path: Path) -> None:
    """A project without a config (only `.lake/` from the built-in default): commands in a
    subdirectory used to create a second, empty `.lake/catalog.db` there."""
    root = tmp_path / "proj"
    sub = root / "notebooks" / "deep"
    sub.mkdir(parents=True)
    src = write_jsonl(tmp_path / "e.jsonl", events(7))
    assert lake(root, "ingest", "bronze.events", str(src), "--create").exit_code == 0
    assert cli_json(lake(sub, "tables", "--json")) == ["bronze.events"]
    more = write_jsonl(tmp_path / "f.jsonl", events(3, start=100))
    assert lake(sub, "ingest", "bronze.events", str(more)).exit_code == 0
    assert lake(sub / "..", "query", "SELECT 1").exit_code == 0
    assert lakes_under(tmp_path) == [root]
    assert count(root, "bronze.events") == 10
    info = cli_json(lake(sub, "info", "--json"))
    assert (info["project_root"], info["root_marker"], info["config"]) == (str(root), ".lake/", None)
    assert info["catalog_uri"] == f"sqlite:///{root / '.lake' / 'catalog.db'}"


def test_project_paths_are_relative_to_the_root(lake: Lake, tmp_path: Path) -> None:
    assert lake(tmp_path, "init", "p").exit_code == 0
    root = tmp_path / "p"
    sql = root / "sql" / "silver"
    assert lake(sql, "ingest", "bronze.events", "../../data/events.jsonl", "--create").exit_code == 0
    plan = cli_json(lake(sql, "run", "--project", "sql", "--dry-run", "--json"))
    assert plan["project"] == str(root / "sql") and [m["model"] for m in plan["models"]] == ["silver.events"]
    assert lake(root / "data", "run").exit_code == 0  # the default `sql` is the root's too
    lineage = cli_json(lake(sql, "lineage", "--json"))
    assert "silver.events" in json.dumps(lineage)
    assert count(root, "silver.events") == 3
    assert lakes_under(tmp_path) == [root]


def test_a_stray_lake_in_home_or_tmp_does_not_capture_every_directory(
    lake: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    (home / ".lake").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    work = home / "work"
    work.mkdir()
    info = cli_json(lake(work, "info", "--json", "--no-check"))
    assert (info["project_root"], info["root_marker"], info["config_source"]) == (str(work), None, "built-in")
    assert any("no project here or above" in note for note in info["notes"])


# ---------------------------------------------------------------- lake info


def test_info_names_config_profile_catalog_and_masks_credentials(
    lake: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert lake(tmp_path, "init", "p").exit_code == 0
    root = tmp_path / "p"
    config = root / "catalog" / "lake.yaml"
    document = yaml.safe_load(config.read_text())
    document["profiles"]["team"] = {
        "type": "postgres",
        "uri": "postgresql://lake:hunter2secret@127.0.0.1:1/lake",
        "warehouse": "s3://b/wh",
        "s3.endpoint": f"http://127.0.0.2:{free_port()}",
        "s3.secret-access-key": "sekrit-key",
    }
    config.write_text(yaml.safe_dump(document))
    info = cli_json(lake(root / "sql", "info", "--json"))
    assert (info["config"], info["config_source"]) == (str(config), "project")
    assert (info["profile"], info["profile_source"], info["profiles"]) == (
        "local",
        "default",
        ["dev", "local", "team"],
    )
    assert (info["catalog_type"], info["warehouse"]) == ("sql", f"file://{root / '.lake' / 'warehouse'}")
    assert info["dev_server"]["state"] == "n/a" and info["servers"] == []

    monkeypatch.setenv("LAKE_PROFILE", "dev")
    dev = cli_json(lake(root, "info", "--json"))
    assert (dev["profile"], dev["profile_source"], dev["dev_server"]["state"]) == ("dev", "env", "stopped")
    assert (
        dev["servers"]
        == [
            {
                "what": "S3 endpoint",
                "url": "http://127.0.0.1:9753",
                "reachable": False,
                "reason": "connection refused",
            }
        ]
        or dev["servers"][0]["reachable"]
    )  # something else may listen on 9753 on this machine

    result = lake(root, "--profile", "team", "doctor")
    assert result.exit_code == 0, result.stderr
    assert "hunter2secret" not in result.output and "sekrit" not in result.output
    assert "catalog      postgres postgresql://lake:***@127.0.0.1:1/lake" in result.stdout
    assert "profile      team (--profile); also: dev, local" in result.stdout
    assert (
        "dev server   n/a: `lake dev` serves profiles whose s3.endpoint is http on 127.0.0.1" in result.stdout
    )
    assert "reachable    catalog postgresql://lake:***@127.0.0.1:1/lake: does not answer" in result.stdout

    other = tmp_path / "elsewhere.yaml"
    other.write_text(config.read_text())
    explicit = cli_json(lake(tmp_path, "--config", str(other), "--profile", "local", "info", "--json"))
    assert (explicit["config_source"], explicit["profile_source"]) == ("argument", "argument")
    assert explicit["project_root"] == str(tmp_path)  # a config outside catalog/ roots at its own folder


# ---------------------------------------------------------------- unreachable servers


def test_an_unreachable_endpoint_is_one_line_naming_profile_endpoint_and_dev_up(
    lake: Lake, tmp_path: Path
) -> None:
    assert lake(tmp_path, "init", "p").exit_code == 0
    root = tmp_path / "p"
    config = root / "catalog" / "lake.yaml"
    port = free_port()
    document = yaml.safe_load(config.read_text())
    document["profiles"]["dev"]["s3.endpoint"] = f"http://127.0.0.1:{port}"
    document["profiles"]["remote"] = {
        **document["profiles"]["dev"],
        "s3.endpoint": f"http://127.0.0.2:{port}",
    }
    config.write_text(yaml.safe_dump(document))

    line = one_line_error(
        lake(root, "--profile", "dev", "ingest", "bronze.events", "data/events.jsonl", "--create")
    )
    assert line == (
        f"Error: profile 'dev': its S3 endpoint http://127.0.0.1:{port} does not answer (connection refused); "
        "`lake dev up` starts the local S3 server for it"
    )
    line = one_line_error(
        lake(root, "--profile", "remote", "ingest", "bronze.events", "data/events.jsonl", "--create")
    )
    assert f"profile 'remote': its S3 endpoint http://127.0.0.2:{port} does not answer" in line
    assert "`lake dev up` would not help" in line


@pytest.fixture
def stop_servers(tmp_path: Path) -> Iterator[None]:
    yield
    for state_file in tmp_path.rglob("server.json"):
        state = process.read_state(dev_paths(default_profile(state_file.parents[2])))
        if state and process.alive(state["pid"]):
            process.stop_pid(state["pid"])


def test_dev_server_on_another_port_is_found_without_lake_dev_port(
    lake: Lake, tmp_path: Path, stop_servers: None
) -> None:
    """After `lake dev up --port N`, commands used to fail with a raw `OSError ... NETWORK_CONNECTION`
    unless LAKE_DEV_PORT=N was set; they find N in .lake/dev/server.json now."""
    assert lake(tmp_path, "init", "p").exit_code == 0
    root = tmp_path / "p"
    port = free_port()
    assert "LAKE_DEV_PORT" not in os.environ
    up = lake(root, "dev", "up", "--port", str(port))
    assert up.exit_code == 0, up.stderr
    assert f"find port {port} from .lake/dev/server.json" in up.stderr
    ingested = lake(
        root / "sql", "--profile", "dev", "ingest", "bronze.events", "../data/events.jsonl", "--create"
    )
    assert ingested.exit_code == 0, ingested.stderr
    assert lake(root, "--profile", "dev", "run").exit_code == 0
    rows = cli_json(
        lake(root / "data", "--profile", "dev", "query", "SELECT count(*) AS n FROM silver.events", "--json")
    )
    assert rows["rows"] == [{"n": 3}]
    info = cli_json(lake(root / "sql", "--profile", "dev", "info", "--json"))
    assert info["s3_endpoint"] == f"http://127.0.0.1:{port}"
    assert info["configured_endpoint"] == "http://127.0.0.1:${LAKE_DEV_PORT:-9753}".replace(
        "${LAKE_DEV_PORT:-9753}", "9753"
    )
    assert (info["dev_server"]["state"], info["dev_server"]["endpoint"]) == (
        "running",
        f"http://127.0.0.1:{port}",
    )
    assert info["servers"][0]["reachable"] is True
    assert Lakehouse(load_profile("dev", start=root)).profile.get("s3.endpoint") == f"http://127.0.0.1:{port}"

    assert lake(root, "dev", "down").exit_code == 0
    line = one_line_error(
        lake(root, "--profile", "dev", "query", "SELECT max(event_type) FROM silver.events")
    )
    assert "profile 'dev': its S3 endpoint http://127.0.0.1:9753 does not answer" in line
    assert line.endswith("`lake dev up` starts the local S3 server for it")
