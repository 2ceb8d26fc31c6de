"""Catalog-level behaviour, the same on the embedded SQLite catalog and on a team PostgreSQL catalog."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from conftest import catalog_props, cli_json, events, snapshot_count, write_jsonl

from lakehouse.core.config import Profile
from lakehouse.errors import ConfigError, NoSuchTableError, TableExistsError
from lakehouse.table.catalog import catalog_properties
from lakehouse.testing import LakeEnv, make_lake_env, s3_properties


@pytest.fixture
def cat_lake(catalog_kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> LakeEnv:
    props = {**catalog_props(catalog_kind, request, tmp_path), "warehouse": f"file://{tmp_path / 'wh'}"}
    return make_lake_env(tmp_path, props)


def test_table_lifecycle(cat_lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    lake = cat_lake.lake
    lake.create("bronze.a", "id long not null, name string")
    lake.create("silver.b", "id long")
    assert lake.tables() == ["bronze.a", "silver.b"]
    assert lake.tables("bronze") == ["bronze.a"]
    with pytest.raises(TableExistsError):
        lake.create("bronze.a", "id long")
    assert cli_json(run_cli(cat_lake, "tables", "--json")) is not None
    described = cli_json(run_cli(cat_lake, "describe", "bronze.a", "--json"))
    assert described["snapshot"] is None and described["rows"] == 0
    lake.drop("silver.b", purge=True)
    assert lake.tables() == ["bronze.a"]
    with pytest.raises(NoSuchTableError, match="does not exist"):
        lake.table("silver.b")


def test_ingest_query_and_history(cat_lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "e.jsonl", events(120))
    first = cli_json(run_cli(cat_lake, "ingest", "bronze.events", str(src), "--create", "--json"))
    second = cli_json(run_cli(cat_lake, "ingest", "bronze.events", str(src), "--json"))
    assert snapshot_count(cat_lake, "bronze.events") == 2
    table = cat_lake.lake.table("bronze.events")
    assert table.current_snapshot().parent_snapshot_id == int(first["snapshot_id"])
    assert table.current_snapshot().snapshot_id == int(second["snapshot_id"])
    now = cli_json(run_cli(cat_lake, "query", "SELECT count(*) AS n FROM bronze.events", "--json"))
    assert now["rows"] == [{"n": 240}]
    then = cli_json(
        run_cli(
            cat_lake,
            "query",
            "SELECT count(*) AS n FROM bronze.events",
            "--as-of",
            str(first["snapshot_id"]),
            "--json",
        )
    )
    assert then["rows"] == [{"n": 120}]


def test_two_lake_objects_see_each_others_commits(cat_lake: LakeEnv, tmp_path: Path) -> None:
    """A team catalog is shared: a second client (another profile load) sees the first one's tables."""
    src = write_jsonl(tmp_path / "e.jsonl", events(10))
    cat_lake.lake.ingest("bronze.events", str(src), create=True)
    other = make_lake_env(tmp_path / "other", dict(cat_lake.profile.properties))
    other.lake.ingest("bronze.events", str(src))
    assert snapshot_count(cat_lake, "bronze.events") == 2
    assert cat_lake.lake.query("SELECT count(*) AS n FROM bronze.events")["n"][0].as_py() == 20


def test_concurrent_appends_in_threads_lose_nothing(cat_lake: LakeEnv, tmp_path: Path) -> None:
    """Four threads, each its own Lakehouse (own catalog connection), appending at once."""
    cat_lake.lake.create("bronze.t", "id long, ts timestamptz, country string, amount double, user_id long")
    sources = [write_jsonl(tmp_path / f"s{i}.jsonl", events(5, start=i * 5)) for i in range(4)]
    barrier = threading.Barrier(len(sources))
    errors: list[BaseException] = []

    def work(src: Path) -> None:
        env = make_lake_env(tmp_path / src.stem, dict(cat_lake.profile.properties))
        barrier.wait()
        try:
            env.lake.ingest("bronze.t", str(src))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in sources]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    table = cat_lake.lake.table("bronze.t")
    assert len(table.snapshots()) == 4
    ids = sorted(cat_lake.lake.read("bronze.t", ["id"])["id"].to_pylist())
    assert ids == list(range(20))


def test_catalog_on_moto_s3_warehouse(catalog_kind: str, request, moto_s3, tmp_path: Path) -> None:
    props = s3_properties(moto_s3.endpoint, tmp_path)
    props.update(catalog_props(catalog_kind, request, tmp_path))
    env = make_lake_env(tmp_path, props)
    src = write_jsonl(tmp_path / "e.jsonl", events(50))
    env.lake.ingest("bronze.events", str(src), create=True, partition_by="day(ts)")
    assert env.lake.table("bronze.events").location().startswith(props["warehouse"])
    assert env.lake.query("SELECT count(*) AS n FROM bronze.events")["n"][0].as_py() == 50


def test_postgres_profile_maps_to_sql_catalog_on_psycopg2() -> None:
    for uri in ("postgresql://u:p@h:5432/db", "postgres://u:p@h/db"):
        props = catalog_properties(Profile("team", {"type": "postgres", "uri": uri, "warehouse": "s3://b/w"}))
        assert props["type"] == "sql" and props["uri"].startswith("postgresql+psycopg2://u:p@h")
    with pytest.raises(ConfigError, match="postgres catalog needs uri"):
        catalog_properties(Profile("team", {"type": "postgres", "uri": "mysql://x", "warehouse": "s3://b/w"}))


def test_postgres_wrong_password_is_one_clean_error(pg_uri: str, run_cli, tmp_path: Path) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(pg_uri)
    bad = pg_uri.replace(f":{parts.password}@", ":Wr0ngPassw0rd@")
    assert bad != pg_uri
    env = make_lake_env(tmp_path, {"type": "postgres", "uri": bad, "warehouse": f"file://{tmp_path / 'wh'}"})
    result = run_cli(env, "tables")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: cannot open catalog") and result.stderr.count("\n") == 1
    assert "Wr0ngPassw0rd" not in result.output + result.stderr
