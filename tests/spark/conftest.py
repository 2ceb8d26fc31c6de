"""One local Spark session (Spark 3.5 + Iceberg 1.10, built by `make spark`) on a lake both engines share.

pyspark comes from the Spark environment's venv: it is pure Python, so its site-packages is appended to
this interpreter's path (both venvs are made by the same Python; `make spark` uses the main venv's). The
Spark catalog is opened with exactly what `lake spark-conf --local` prints. Without a Spark environment
the tests are skipped with the reason, unless LAKE_SPARK_REQUIRED=1 (then they fail).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lakehouse.errors import SparkUnavailableError
from lakehouse.io.spark.conf import env_conf, spark_conf
from lakehouse.io.spark.env import SparkEnv, find_spark_env
from lakehouse.testing import LakeEnv, local_properties, make_lake_env

CATALOG = "interop"  # the lake profile's name, and so the Spark catalog's


def _unavailable(reason: str) -> None:
    if os.environ.get("LAKE_SPARK_REQUIRED") == "1":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def spark_env() -> SparkEnv:
    try:
        env = find_spark_env(Path(__file__).resolve().parents[2])
    except SparkUnavailableError as exc:
        _unavailable(str(exc))
        raise
    probe = "import sys, os, pyspark; print(json.dumps([list(sys.version_info[:2]), os.path.dirname(os.path.dirname(pyspark.__file__))]))"
    out = subprocess.run(
        [str(env.python), "-c", "import json; " + probe], capture_output=True, text=True, timeout=60
    )
    if out.returncode != 0:
        _unavailable(f"pyspark does not import in {env.python}: {out.stderr.strip().splitlines()[-1:]}")
    version, site = json.loads(out.stdout)
    if tuple(version) != sys.version_info[:2]:
        _unavailable(
            f"{env.python} is Python {version}, this is {sys.version_info[:2]}: rebuild with `make spark`"
        )
    if site not in sys.path:
        sys.path.append(site)
    return env


@pytest.fixture(scope="session")
def shared(tmp_path_factory: pytest.TempPathFactory) -> LakeEnv:
    """The lake both engines use: a SQLite catalog and a local warehouse."""
    root = tmp_path_factory.mktemp("interop")
    env = make_lake_env(root, local_properties(root), name=CATALOG)
    env.lake.catalog.list_namespaces()  # opening the catalog creates its tables; Spark is told not to
    return env


@pytest.fixture(scope="session")
def spark(spark_env: SparkEnv, shared: LakeEnv) -> Iterator[Any]:
    os.environ.update(spark_env.environ())
    from pyspark.sql import SparkSession

    settings = {
        **env_conf(spark_env),
        **spark_conf(shared.profile),
        "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "2",
        "spark.driver.memory": "1g",
        "spark.sql.session.timeZone": "UTC",
    }
    builder = SparkSession.builder.master("local[2]").appName("lake-interop")
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path
