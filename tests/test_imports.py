"""The shell path stays light: each `lake` command runs in a fresh process (on a local and a moto S3
lake with a SQLite catalog), and the heavy libraries it does not need must not be imported (issue 13: `import pyiceberg.catalog.sql` alone costs 0.35-0.45 s,
boto3 about 0.1 s, pyarrow, duckdb and sqlglot about 0.05 s each).

A case whose path cannot be light yet is marked `xfail(strict=True)`: the day it passes, it fails as
XPASS, and the mark must go. Timings are never asserted here (they belong to `make bench`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import events, write_jsonl

import lakehouse
from lakehouse.testing import LakeEnv, make_lake_env

# Never needed by a read on a local lake with a SQL catalog.
CATALOG = ("pyiceberg", "sqlalchemy", "pydantic")
S3 = ("boto3", "botocore")
HEAVY = (*CATALOG, *S3)
# Each of these is needed only by some commands.
ARROW, DUCKDB, SQLGLOT = "pyarrow", "duckdb", "sqlglot"
WATCHED = (*HEAVY, ARROW, DUCKDB, SQLGLOT)

# Runs the real entry point (`lake = lakehouse.cli:main`), then reports which watched packages loaded.
_RUNNER = """
import json, sys
report, sys.argv = sys.argv[1], ["lake", *sys.argv[2:]]
from lakehouse.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
watched = set(json.loads(report.split("|", 1)[1]))
loaded = sorted({m.split(".")[0] for m in sys.modules} & watched)
open(report.split("|", 1)[0], "w").write(json.dumps({"code": code, "loaded": loaded}))
"""


def lake_modules(env: LakeEnv | None, *args: str, tmp: Path) -> list[str]:
    """The watched packages a fresh `lake ARGS` process imported (it must succeed)."""
    report = tmp / "modules.json"
    cli_args = env.cli_args() if env is not None else []
    root = str(Path(lakehouse.__file__).resolve().parent.parent)
    run = subprocess.run(
        [sys.executable, "-c", _RUNNER, f"{report}|{json.dumps(WATCHED)}", *cli_args, *args],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])},
    )  # fmt: skip
    found = json.loads(report.read_text())
    assert found["code"] in (0, None), f"lake {' '.join(args)} failed:\n{run.stdout}\n{run.stderr}"
    return list(found["loaded"])


@pytest.fixture(scope="module", params=["local", "s3"])
def small_lake(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> LakeEnv:
    """A lake with a SQLite catalog and one small partitioned table, as in issue 13's start-up figure:
    on local files, and on moto S3 (where boto3 must still not load: DuckDB's httpfs reads)."""
    from lakehouse.testing import local_properties, s3_properties

    root = tmp_path_factory.mktemp("imports")
    if request.param == "local":
        props = local_properties(root)
    else:
        props = s3_properties(request.getfixturevalue("moto_s3").endpoint, root)
    env = make_lake_env(root, props)
    env.lake.ingest(
        "demo.t", str(write_jsonl(root / "t.jsonl", events(30))), create=True, partition_by="day(ts)"
    )
    return env


def _pending(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, reason=reason)


CASES = [
    pytest.param(("--help",), WATCHED, id="help"),
    pytest.param(("tables",), WATCHED, id="tables"),
    pytest.param(("tables", "demo", "--json"), WATCHED, id="tables-namespace-json"),
    pytest.param(("query", "SELECT count(*) AS n FROM demo.t"), HEAVY, id="query"),
    pytest.param(
        ("query", "--json", "SELECT country, count(*) FROM demo.t GROUP BY 1"), HEAVY, id="query-json"
    ),
    pytest.param(
        ("query", "SELECT count(*) AS n FROM demo.t"),
        (ARROW,),
        id="query-without-arrow",
        marks=_pending(
            "the read path streams results as Arrow batches (read/execute.open_reader); "
            "text and JSON output could fetch rows from DuckDB instead"
        ),
    ),  # fmt: skip
    pytest.param(("describe", "demo.t"), (*HEAVY, ARROW), id="describe"),
    pytest.param(("describe", "demo.t", "--json"), (*HEAVY, ARROW), id="describe-json"),
    pytest.param(("snapshots", "demo.t"), (*HEAVY, ARROW, DUCKDB), id="snapshots"),
    pytest.param(("files", "demo.t", "--json"), (*HEAVY, ARROW), id="files-json"),
]


@pytest.mark.parametrize(("args", "absent"), CASES)
def test_command_imports_only_what_it_needs(
    small_lake: LakeEnv, args: tuple[str, ...], absent: tuple[str, ...], tmp_path: Path
) -> None:
    if small_lake.profile.is_s3:  # on S3, DuckDB's httpfs reads the metadata JSON itself
        absent = tuple(a for a in absent if a != DUCKDB)
    loaded = lake_modules(small_lake, *args, tmp=tmp_path)
    assert not set(loaded) & set(absent), (
        f"lake {' '.join(args)} imported {sorted(set(loaded) & set(absent))}"
    )


def test_help_without_a_lake(tmp_path: Path) -> None:
    """`lake --help` reads no profile and imports none of the watched packages."""
    assert lake_modules(None, "--help", tmp=tmp_path) == []


def test_tables_on_postgres_imports_no_catalog_library(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A PostgreSQL catalog is read with psycopg2 alone: no SQLAlchemy, pyiceberg or pydantic."""
    env = make_lake_env(
        tmp_path,
        {"type": "postgres", "uri": request.getfixturevalue("pg_uri"), "warehouse": f"file://{tmp_path / 'wh'}"},
    )  # fmt: skip
    env.lake.create("silver.a", "id long")
    assert not set(lake_modules(env, "tables", tmp=tmp_path)) & set(WATCHED)


def test_a_heavy_path_is_seen(small_lake: LakeEnv, tmp_path: Path) -> None:
    """The probe itself works: a command that needs pyiceberg (a write) is reported as importing it."""
    loaded = lake_modules(small_lake, "tag", "demo.t", "probe", tmp=tmp_path)
    assert "pyiceberg" in loaded
