"""S3 faults between lake and moto, injected by our own proxy (tests/faultproxy.py).

Transient faults (a few 500s, 503 SlowDowns or dropped connections) are retried and the command
succeeds; persistent ones fail the command with one clear line, commit nothing, and leave neither
data files nor incomplete multipart uploads behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import events, one_line_error, snapshot_count, write_jsonl
from faultproxy import Fault, FaultProxy

from lakehouse.core.config import Profile
from lakehouse.io.storage import abort_multipart_uploads, list_files, s3_client, split_s3
from lakehouse.testing import LakeEnv, MotoS3, make_lake_env, s3_properties


@pytest.fixture
def proxy(moto_s3: MotoS3) -> Iterator[FaultProxy]:
    with FaultProxy(moto_s3.endpoint) as running:
        yield running


@pytest.fixture
def lake(proxy: FaultProxy, moto_s3: MotoS3, tmp_path: Path) -> LakeEnv:
    """A lake whose every S3 request (boto3, pyarrow, DuckDB) goes through the proxy; one snapshot in."""
    props = s3_properties(proxy.endpoint, tmp_path)
    # Patient but quick retries, so persistent faults fail in seconds.
    env = make_lake_env(tmp_path, props)
    src = write_jsonl(tmp_path / "seed.jsonl", events(20))
    env.lake.ingest("bronze.events", str(src), create=True, partition_by="day(ts)")
    return env


def direct(env: LakeEnv, moto_s3: MotoS3) -> Profile:
    """The same lake seen straight on moto, bypassing the proxy: for checking what was left behind."""
    return Profile("direct", {**env.profile.properties, "s3.endpoint": moto_s3.endpoint})


def leftovers(env: LakeEnv, moto_s3: MotoS3) -> tuple[set[str], list[str]]:
    """Data files not in the current snapshot, and incomplete multipart uploads in the bucket."""
    profile = direct(env, moto_s3)
    table = env.lake.table("bronze.events")
    committed = {f["path"] for f in env.lake.files("bronze.events")}
    on_store = {f.path for f in list_files(profile, table.location() + "/data")}
    bucket, _ = split_s3(table.location())
    uploads = s3_client(profile).list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return on_store - committed, [u["Key"] for u in uploads]


def ingest(env: LakeEnv, run_cli, tmp_path: Path, n: int = 30):  # type: ignore[no-untyped-def]
    src = write_jsonl(tmp_path / f"more{n}.jsonl", events(n, start=1000))
    return run_cli(env, "ingest", "bronze.events", str(src), "-q")


def assert_rows(env: LakeEnv, expected: int) -> None:
    assert env.lake.query("SELECT count(*) AS n FROM bronze.events")["n"][0].as_py() == expected


@pytest.mark.parametrize(
    "fault",
    [
        Fault("PUT", r"/data/", action="503", times=2),  # DuckDB's data file PUTs: SlowDown
        Fault("PUT", r"/data/", action="500", times=1),
        Fault("PUT", r"/metadata/.*\.avro", query="partNumber", action="503", times=1),  # a manifest part
        Fault("PUT", r"\.metadata\.json", query="partNumber", action="drop", times=1),  # metadata.json part
        Fault("GET", r"\.metadata\.json", action="500", times=1),
        Fault("GET", r"\.parquet", action="drop", times=1),  # reading back a footer
    ],
    ids=["data-put-503x2", "data-put-500", "manifest-part-503", "metadata-part-drop", "metadata-get-500",
         "parquet-get-drop"],
)  # fmt: skip
def test_transient_faults_are_retried(
    lake: LakeEnv, proxy: FaultProxy, run_cli, tmp_path: Path, fault
) -> None:
    proxy.add(fault)
    result = ingest(lake, run_cli, tmp_path)
    assert result.exit_code == 0, result.stderr
    assert fault.hits == fault.times, "the fault was never hit: the test does not test anything"
    assert snapshot_count(lake, "bronze.events") == 2
    assert_rows(lake, 50)


def test_slow_responses_still_succeed(lake: LakeEnv, proxy: FaultProxy, run_cli, tmp_path: Path) -> None:
    proxy.add(Fault("PUT", r"", action="slow", delay=0.3, times=5))
    proxy.add(Fault("GET", r"", action="slow", delay=0.3, times=5))
    result = ingest(lake, run_cli, tmp_path)
    assert result.exit_code == 0, result.stderr
    assert len([r for r in proxy.requests if r.fault == "slow"]) == 10
    assert_rows(lake, 50)


def test_transient_fault_on_query_read_is_retried(lake: LakeEnv, proxy: FaultProxy) -> None:
    proxy.add(Fault("GET", r"\.parquet", action="503", times=1))
    got = lake.lake.query("SELECT sum(id) AS s FROM bronze.events")["s"][0].as_py()
    assert got == sum(range(20))
    assert proxy.faulted()


@pytest.mark.parametrize(
    "fault",
    [
        Fault("PUT", r"/data/", action="503", times=None),
        Fault("PUT", r"/data/", action="drop", times=None),
        Fault("PUT", r"/metadata/.*\.avro", query="partNumber", action="500", times=None),
        Fault("PUT", r"\.metadata\.json", query="partNumber", action="503", times=None),
    ],
    ids=["data-put-503", "data-put-drop", "manifest-part-500", "metadata-part-503"],
)
def test_persistent_faults_fail_cleanly(
    lake: LakeEnv, proxy: FaultProxy, moto_s3: MotoS3, run_cli, tmp_path: Path, fault
) -> None:
    before = lake.lake.table("bronze.events").current_snapshot().snapshot_id
    proxy.add(fault)
    result = ingest(lake, run_cli, tmp_path)
    proxy.clear()
    line = one_line_error(result)
    assert "OSError" not in line  # a StorageError that says what failed, not a stray exception
    words = ("s3", "503", "500", "slowdown", "internal", "connection", "http", "metadata")
    assert any(word in line.lower() for word in words), line
    assert lake.lake.table("bronze.events").current_snapshot().snapshot_id == before
    assert_rows(lake, 20)
    orphans, uploads = leftovers(lake, moto_s3)
    assert orphans == set()
    if fault.path == r"\.metadata\.json":
        # pyiceberg names a new metadata.json with a random UUID, so the failed writer cannot tell its
        # own upload from a concurrent writer's in-flight one; `lake gc` aborts it once it is old.
        assert all(u.endswith(".metadata.json") for u in uploads)
        later = datetime.now(UTC) + timedelta(minutes=1)
        abort_multipart_uploads(direct(lake, moto_s3), lake.lake.table("bronze.events").location(),
                                initiated_before=later)  # fmt: skip
        uploads = leftovers(lake, moto_s3)[1]
    assert uploads == []
