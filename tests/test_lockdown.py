"""The query engine is locked down: user SQL reaches only the lake's own locations, installs nothing,
changes no setting, and table names / --as-of values never reach SQL unquoted."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import events, module_lake, one_line_error, write_jsonl

from lakehouse.errors import LakehouseError
from lakehouse.io.storage import ensure_bucket
from lakehouse.testing import LakeEnv


@pytest.fixture(scope="module", params=["local", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> LakeEnv:
    """One lake per kind for the whole module: every test using it is refused and must leave it as it
    was (each asserts so), so a fresh lake and ingest per test bought nothing."""
    env = module_lake(request, tmp_path_factory, request.param)
    env.lake.ingest("bronze.events", str(write_jsonl(env.root / "e.jsonl", events(10))), create=True)
    return env


def refused(env: LakeEnv, run_cli, sql: str, *args: str) -> str:
    return one_line_error(run_cli(env, "query", sql, *args))


ESCAPES = {
    "read-passwd": "SELECT * FROM read_csv('/etc/passwd')",
    "read-text": "SELECT * FROM read_text('/etc/passwd')",
    "read-blob": "SELECT content FROM read_blob('/etc/hostname')",
    "glob": "SELECT * FROM glob('/etc/*')",
    "copy-to": "COPY (SELECT 1) TO '/tmp/lake-escape.csv'",
    "install": "INSTALL spatial",
    "load": "LOAD '/tmp/evil.duckdb_extension'",
    "set": "SET enable_external_access = true",
    "set-lock": "SET lock_configuration = false",
    "reset": "RESET allowed_directories",
    "attach": "ATTACH '/tmp/lake-escape.db' AS x",
    "pragma": "PRAGMA enable_profiling",
    "create-secret": "CREATE SECRET s2 (TYPE s3, KEY_ID 'a', SECRET 'b')",
    "export": "EXPORT DATABASE '/tmp/lake-escape-dir'",
    "write-cte": "WITH x AS (SELECT 1) SELECT * FROM read_parquet('/etc/shadow')",
    "stacked": "SELECT 1; COPY (SELECT 1) TO '/tmp/lake-escape2.csv'",
    "secrets": "SELECT * FROM duckdb_secrets()",
    "which-secret": "SELECT * FROM which_secret('s3://x/y', 's3')",
    "current-setting": "SELECT current_setting('s3_access_key_id')",
    "settings": "SELECT * FROM duckdb_settings()",
    "getenv": "SELECT getenv('HOME')",
    "query-fn": "SELECT * FROM query('SELECT * FROM duckdb_secrets()')",
    "replacement-scan": "SELECT * FROM '/etc/passwd'",
    "quoted-file": 'SELECT * FROM "/etc/hostname"',
    "iceberg-scan": "SELECT * FROM iceberg_scan('/etc/x.metadata.json')",
    "sniff": "SELECT * FROM sniff_csv('/etc/passwd')",
    "scalar-in-where": "SELECT 1 WHERE current_setting('s3_secret_access_key') IS NOT NULL",
}


@pytest.mark.parametrize("name", sorted(ESCAPES))
def test_query_cannot_escape(lake: LakeEnv, run_cli, name: str) -> None:
    refused(lake, run_cli, ESCAPES[name])
    for p in ("/tmp/lake-escape.csv", "/tmp/lake-escape2.csv", "/tmp/lake-escape.db", "/tmp/lake-escape-dir"):
        assert not Path(p).exists()


def test_library_engine_refuses_files_and_settings_after_lock(lake: LakeEnv, tmp_path: Path) -> None:
    """Even through DuckDB directly (no SQL rewriting in the way), the locked engine holds."""
    outside = tmp_path.parent / "outside.csv"
    outside.write_text("a\n1\n")
    engine = lake.lake.engine(locked=True)
    try:
        for sql in (
            f"SELECT * FROM read_csv('{outside}')",
            "SELECT * FROM read_csv('/etc/passwd')",
            f"COPY (SELECT 1) TO '{tmp_path.parent / 'out.csv'}'",
            "SET enable_external_access = true",
            "SET memory_limit = '100GB'",
            "SET threads = 64",
            "INSTALL spatial",
            "SET allowed_directories = ['/']",
        ):
            with pytest.raises(Exception):  # noqa: B017 - DuckDB raises several kinds; all must refuse
                engine.con.execute(sql).fetchall()
        assert not (tmp_path.parent / "out.csv").exists()
    finally:
        engine.close()


def test_memory_and_thread_limits_come_from_the_profile(tmp_path: Path) -> None:
    from lakehouse.testing import local_properties, make_lake_env

    props = {**local_properties(tmp_path), "lake.duckdb.memory-limit": "300MB", "lake.duckdb.threads": "1"}
    env = make_lake_env(tmp_path, props)
    engine = env.lake.engine(locked=True)
    try:
        threads = engine.con.execute("SELECT current_setting('threads')").fetchone()[0]
        memory = engine.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        locked = engine.con.execute("SELECT current_setting('lock_configuration')").fetchone()[0]
        external = engine.con.execute("SELECT current_setting('enable_external_access')").fetchone()[0]
    finally:
        engine.close()
    assert int(threads) == 1 and memory.replace(" ", "").upper().startswith(("286", "300"))
    assert locked is True and external is False


def test_query_cannot_reach_another_bucket(s3_lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    """Paths never reach DuckDB from user SQL: `..` (normalised by DuckDB after its own allowed-path
    check), path-style and virtual-host URLs, and even the lake's own files are refused."""
    from lakehouse.io.storage import s3_client

    src = write_jsonl(tmp_path / "e.jsonl", events(5))
    s3_lake.lake.ingest("bronze.events", str(src), create=True)
    ensure_bucket(s3_lake.profile, "other-bucket-secret")
    s3_client(s3_lake.profile).put_object(Bucket="other-bucket-secret", Key="secret.txt", Body=b"canary-xyz")
    table = s3_lake.lake.table("bronze.events")
    own = [f["path"] for f in s3_lake.lake.files("bronze.events")][0]
    warehouse = s3_lake.profile.warehouse.rstrip("/")
    endpoint = s3_lake.profile.get("s3.endpoint")
    bucket = warehouse.split("/")[2]
    sibling = table.location().split("/warehouse")[0] + "/outside/x.csv"
    for sql in (
        f"SELECT content FROM read_text('{warehouse}/../../other-bucket-secret/secret.txt')",
        f"SELECT content FROM read_text('{warehouse}/%2e%2e/%2e%2e/other-bucket-secret/secret.txt')",
        "SELECT * FROM read_text('s3://other-bucket-secret/secret.txt')",
        f"SELECT * FROM read_text('{endpoint}/other-bucket-secret/secret.txt')",
        "SELECT * FROM read_text('https://other-bucket-secret.s3.amazonaws.com/secret.txt')",
        f"SELECT * FROM '{endpoint}/{bucket}/../other-bucket-secret/secret.txt'",
        f"SELECT count(*) AS n FROM read_parquet('{own}')",
        f"SELECT * FROM read_csv('{sibling}')",
    ):
        line = refused(s3_lake, run_cli, sql)
        assert "canary-xyz" not in line


def test_secrets_are_not_listable(s3_lake: LakeEnv, run_cli) -> None:
    key_id = s3_lake.profile.get("s3.access-key-id") or ""
    for sql in (
        "SELECT * FROM duckdb_secrets()",
        "SELECT current_setting('s3_access_key_id') AS k",
        "SELECT * FROM duckdb_settings() WHERE name LIKE 's3%'",
        "SELECT * FROM which_secret('s3://x/y', 's3')",
    ):
        result = run_cli(s3_lake, "query", "--json", sql)
        line = one_line_error(result)
        assert result.stdout == ""
        assert not key_id or key_id not in line


HOSTILE_NAMES = [
    "bronze.events'; COPY (SELECT 1) TO '/tmp/lake-pwn.csv'; --",
    'bronze."events"',
    "bronze.events; DROP TABLE x",
    "../../etc.passwd",
    "bronze/../../etc.passwd",
    "bronze.ev`ents",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_table_names_never_reach_sql(lake: LakeEnv, run_cli, name: str) -> None:
    for args in (("describe", name), ("files", name), ("snapshots", name), ("drop", name)):
        result = run_cli(lake, *args)
        assert result.exit_code != 0
        assert result.stderr.startswith("Error") or "Usage" in result.output + result.stderr
    with pytest.raises(LakehouseError):
        lake.lake.read(name)
    assert not Path("/tmp/lake-pwn.csv").exists()
    assert lake.lake.tables() == ["bronze.events"]


@pytest.mark.parametrize(
    "as_of",
    [
        "2026-01-01'; COPY (SELECT 1) TO '/tmp/lake-pwn.csv'; --",
        "1 OR 1=1",
        "bronze.events=1; DROP TABLE x",
        "v1') UNION SELECT * FROM read_csv('/etc/passwd') --",
        "../../etc/passwd",
        "",
        "9999999999999999999999999",
        "2026-13-45",
        "yesterday",
    ],
)
def test_hostile_as_of_values_never_reach_sql(lake: LakeEnv, run_cli, as_of: str) -> None:
    line = refused(lake, run_cli, "SELECT count(*) FROM bronze.events", "--as-of", as_of)
    assert "root:" not in line
    assert not Path("/tmp/lake-pwn.csv").exists()


def test_hostile_time_travel_inside_sql_is_a_literal(lake: LakeEnv, run_cli) -> None:
    refused(lake, run_cli, "SELECT * FROM bronze.events FOR VERSION AS OF '1; SELECT 2'")
    refused(lake, run_cli, "SELECT * FROM bronze.events FOR TIMESTAMP AS OF '2026-01-01''; --'")
