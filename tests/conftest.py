"""Shared fixtures. The moto server and lakes come from the `lakehouse.testing` pytest plugin (an entry point)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from lakehouse.cli import cli
from lakehouse.testing import LakeEnv

CliFn = Callable[..., Result]


@pytest.fixture(scope="session", autouse=True)
def plan_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The CLI's file-plan cache (and that of the `lake` processes tests start) under the test run's
    temporary directory, not the user's ~/.cache."""
    import os

    path = tmp_path_factory.mktemp("plan-cache")
    before = os.environ.get("LAKE_CACHE_DIR")
    os.environ["LAKE_CACHE_DIR"] = str(path)
    yield path
    if before is None:
        os.environ.pop("LAKE_CACHE_DIR", None)
    else:
        os.environ["LAKE_CACHE_DIR"] = before


@pytest.fixture
def run_cli() -> Callable[..., Result]:
    """`run_cli(env, "query", "SELECT 1")`: invoke `lake` in-process against a test lake."""

    def run(env: LakeEnv, *args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli, [*env.cli_args(), *args], input=input, catch_exceptions=False)

    return run


def cli_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output + (result.stderr if result.stderr_bytes else "")
    return json.loads(result.stdout)


def module_lake(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, kind: str
) -> LakeEnv:
    """A lake of `kind` ("local" or "s3") for a module-scoped fixture: built once and shared by tests that
    only read it (or are refused), instead of a fresh lake and ingest per test. Each test still gets its
    own tmp_path for the files it writes."""
    from lakehouse.testing import local_properties, make_lake_env, s3_properties

    root = tmp_path_factory.mktemp(f"{request.module.__name__.rsplit('.', 1)[-1]}-{kind}")
    if kind == "local":
        return make_lake_env(root, local_properties(root))
    return make_lake_env(root, s3_properties(request.getfixturevalue("moto_s3").endpoint, root))


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


def write_project(root: Path, models: dict[str, str], sources: str = "sources: {bronze.events: {}}") -> Path:
    """A fresh model project under root/project: {"layer.name": sql} plus sources.yml."""
    import shutil

    project = root / "project"
    shutil.rmtree(project, ignore_errors=True)
    for name, sql in models.items():
        layer, model = name.split(".")
        (project / layer).mkdir(parents=True, exist_ok=True)
        (project / layer / f"{model}.sql").write_text(sql)
    (project / "sources.yml").write_text(sources)
    return project


def snapshot_count(env: LakeEnv, table: str) -> int:
    return len(env.lake.table(table).snapshots())


def one_line_error(result: Result) -> str:
    """The CLI's bad-input contract: exit 1 and exactly one stderr line `Error: ...`, no traceback."""
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    return lines[0]


def fails_unchanged(
    run_cli: Callable[..., Result], env: LakeEnv, table: str, args: list[str], *needles: str
) -> str:
    """One-line error naming every needle, nothing on stdout, and no snapshot, tag or branch of `table` changed."""
    before, refs = snapshot_count(env, table), dict(env.lake.table(table).metadata.refs)
    result = run_cli(env, *args)
    line = one_line_error(result)
    for needle in needles:
        assert needle in line, line
    assert result.stdout == ""
    assert snapshot_count(env, table) == before
    assert dict(env.lake.table(table).metadata.refs) == refs
    return line


# ---------------------------------------------------------------- PostgreSQL catalogs (tests/pg.py)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """A PostgreSQL server: LAKE_TEST_PG_URI (CI), else a throwaway local cluster, else skip (never in CI)."""
    import os

    import pg

    if uri := os.environ.get(pg.ENV):
        yield pg.PgServer(uri)
        return
    bindir = pg.pg_bindir()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must not skip PostgreSQL tests: {pg.skip_reason()}")
        pytest.skip(pg.skip_reason())
    cluster = pg.LocalCluster(bindir)
    try:
        server = cluster.start()
    except Exception as exc:
        cluster.stop()
        if os.environ.get("CI"):
            raise
        pytest.skip(f"could not start a local PostgreSQL cluster ({exc}); {pg.skip_reason()}")
    yield server
    cluster.stop()


@pytest.fixture
def pg_uri(pg_server: Any) -> Iterator[str]:
    """`postgresql://...` of a fresh, empty database for this test (dropped afterwards)."""
    with pg_server.fresh_database() as uri:
        yield uri


@pytest.fixture(params=["sqlite", "postgres"])
def catalog_kind(request: pytest.FixtureRequest) -> str:
    """Runs a test on the embedded SQLite catalog and on a PostgreSQL catalog."""
    return str(request.param)


def catalog_props(kind: str, request: pytest.FixtureRequest, root: Path) -> dict[str, str]:
    """`type`/`uri` for a catalog of `kind`, with a fresh PostgreSQL database when needed."""
    if kind == "sqlite":
        return {"type": "sql", "uri": f"sqlite:///{root / 'catalog.db'}"}
    return {"type": "postgres", "uri": request.getfixturevalue("pg_uri")}


HISTORY_TABLE = "silver.events"


def build_history(env: LakeEnv, root: Path) -> list[int]:
    """Three snapshots of `silver.events`: append 40 rows, append 20, overwrite with 10; ids oldest first."""
    lk = env.lake
    lk.ingest(
        HISTORY_TABLE, str(write_jsonl(root / "a.jsonl", events(40))), create=True, partition_by="day(ts)"
    )
    lk.ingest(HISTORY_TABLE, str(write_jsonl(root / "b.jsonl", events(20, start=40))))
    lk.ingest(HISTORY_TABLE, str(write_jsonl(root / "c.jsonl", events(10, start=100))), mode="overwrite")
    return [s["snapshot_id"] for s in lk.snapshots(HISTORY_TABLE)]
