"""Canary credentials (S3 keys, the PostgreSQL password inside the catalog URI) never appear in
stdout, stderr, logs, error messages, tracebacks (--debug), snapshot summaries or table properties."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import events, write_jsonl

from lakehouse.testing import LakeEnv, make_lake_env, s3_properties

KEY_ID = "AKIACANARYKEYID12345"
SECRET_KEY = "canary-secret-KEY-98765"
PG_PASSWORD = "canary-pg-PASS-4242"
CANARIES = (KEY_ID, SECRET_KEY, PG_PASSWORD)


@pytest.fixture
def secret_lake(pg_server, pg_uri: str, moto_s3, tmp_path: Path) -> LakeEnv:
    """S3 keys and a PostgreSQL role whose password is a canary, in a postgres:// catalog URI."""
    from pg import _admin

    database = urlsplit(pg_uri).path.lstrip("/")
    role = f"canary_{database[-8:]}"
    _admin(pg_server.admin_uri, f"CREATE ROLE {role} LOGIN PASSWORD '{PG_PASSWORD}'")
    _admin(pg_server.admin_uri, f'ALTER DATABASE "{database}" OWNER TO {role}')
    _admin(pg_server.with_database(database), f"ALTER SCHEMA public OWNER TO {role}")
    parts = urlsplit(pg_uri)
    uri = f"postgresql://{role}:{PG_PASSWORD}@{parts.hostname}:{parts.port}/{database}"
    props = s3_properties(moto_s3.endpoint, tmp_path)
    props.update(
        {"type": "postgres", "uri": uri, "s3.access-key-id": KEY_ID, "s3.secret-access-key": SECRET_KEY}
    )
    return make_lake_env(tmp_path, props)


def clean(text: str, where: str) -> None:
    for canary in CANARIES:
        assert canary not in text, f"{where} leaks a credential"


def test_no_command_leaks_a_credential(secret_lake: LakeEnv, run_cli, tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    env = secret_lake
    src = write_jsonl(tmp_path / "e.jsonl", events(30))
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name\n1,a,b\n")
    runs = [
        ("ingest", "bronze.events", str(src), "--create", "--partition-by", "day(ts)", "--json"),
        ("ingest", "bronze.events", str(src)),
        ("tables", "--json"),
        ("describe", "bronze.events", "--json"),
        ("describe", "bronze.events"),
        ("files", "bronze.events", "--json"),
        ("snapshots", "bronze.events", "--json"),
        ("query", "SELECT count(*) AS n FROM bronze.events", "--json"),
        ("query", "SELECT * FROM duckdb_secrets()"),
        ("query", "SELECT current_setting('s3_secret_access_key')"),
        ("compact", "bronze.events", "--dry-run", "--json"),
        ("expire", "bronze.events", "--dry-run", "--json"),
        ("gc", "bronze.events", "--dry-run", "--json"),
        ("tag", "bronze.events", "v1"),
        # failing runs
        ("ingest", "bronze.events", str(bad)),
        ("ingest", "bronze.missing", str(src)),
        ("query", "SELECT * FROM bronze.nope"),
        ("query", "SELEC nonsense"),
        ("describe", "bronze.events", "--as-of", "not-a-ref"),
        ("ingest", "bronze.events", "s3://no-such-bucket-canary/x.csv"),
    ]
    failures = 0
    for args in runs:
        for debug in ((), ("--debug",)):
            result = run_cli(env, *debug, *args)
            failures += result.exit_code != 0
            clean(result.stdout, f"stdout of lake {' '.join(debug + args)}")
            clean(result.stderr, f"stderr of lake {' '.join(debug + args)}")
    assert failures >= 12  # the failing runs did fail (each twice)
    # No log record at any level, ours or a dependency's, holds a credential: with --debug the
    # wire-level loggers (botocore signs requests with the key id) stay at WARNING.
    clean("\n".join(r.getMessage() for r in caplog.records), "the logs")
    clean(caplog.text, "the logs")
    table = env.lake.table("bronze.events")
    clean(repr(dict(table.properties)), "table properties")
    for snapshot in table.snapshots():
        clean(repr(snapshot.summary), "a snapshot summary")
    clean(Path(table.metadata_location.removeprefix("file://")).name, "metadata path")


def test_wrong_pg_password_and_bad_s3_keys_do_not_echo_them(
    pg_uri: str, moto_s3, run_cli, tmp_path: Path
) -> None:
    parts = urlsplit(pg_uri)
    uri = f"postgresql://{parts.username}:{PG_PASSWORD}@{parts.hostname}:{parts.port}{parts.path}"
    props = s3_properties(moto_s3.endpoint, tmp_path)
    props.update(
        {"type": "postgres", "uri": uri, "s3.access-key-id": KEY_ID, "s3.secret-access-key": SECRET_KEY}
    )
    env = make_lake_env(tmp_path, props)
    for debug in ((), ("--debug",)):
        result = run_cli(env, *debug, "tables")
        assert result.exit_code == 1
        clean(result.stdout + result.stderr, "a failed catalog login")


AWKWARD_PASSWORD = "Canary@Leak:PwXYZ"


def pieces(secret: str, size: int = 4) -> list[str]:
    return [secret[i : i + size] for i in range(len(secret) - size + 1)]


def test_password_with_at_and_colon_connects_and_never_leaks(
    pg_server, pg_uri: str, tmp_path: Path, run_cli
) -> None:
    """`user:Canary@Leak:PwXYZ@host` is read up to the last `@` (RFC 3986), so it connects; and a
    failing connection names no 4-character piece of the password."""
    from pg import _admin

    from lakehouse.testing import local_properties

    database = urlsplit(pg_uri).path.lstrip("/")
    role = f"awk_{database[-8:]}"
    _admin(pg_server.admin_uri, f"CREATE ROLE {role} LOGIN PASSWORD '{AWKWARD_PASSWORD}'")
    _admin(pg_server.admin_uri, f'ALTER DATABASE "{database}" OWNER TO {role}')
    _admin(pg_server.with_database(database), f"ALTER SCHEMA public OWNER TO {role}")
    parts = urlsplit(pg_uri)
    props = local_properties(tmp_path)
    props.update(
        {
            "type": "postgres",
            "uri": f"postgresql://{role}:{AWKWARD_PASSWORD}@{parts.hostname}:{parts.port}/{database}",
        }
    )
    env = make_lake_env(tmp_path, props)
    src = write_jsonl(tmp_path / "e.jsonl", events(5))
    ok = run_cli(env, "ingest", "bronze.events", str(src), "--create")
    assert ok.exit_code == 0, ok.stderr
    assert env.lake.read("bronze.events").num_rows == 5

    props["uri"] = f"postgresql://{role}:{AWKWARD_PASSWORD}@127.0.0.1:1/{database}"
    broken = make_lake_env(tmp_path / "broken", props)
    for debug in ((), ("--debug",)):
        result = run_cli(broken, *debug, "tables")
        assert result.exit_code == 1
        for piece in pieces(AWKWARD_PASSWORD):
            assert piece not in result.stdout + result.stderr, piece
