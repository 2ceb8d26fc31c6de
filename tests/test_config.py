from pathlib import Path

import pytest
from conftest import events, fails_unchanged, write_jsonl

from lakehouse.core.config import load_profile, redact_uri
from lakehouse.errors import ConfigError
from lakehouse.testing import LakeEnv, write_config


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_builtin_default_needs_no_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LAKE_CONFIG", raising=False)
    profile = load_profile(start=tmp_path)
    assert profile.name == "local"
    assert profile.properties["uri"] == f"sqlite:///{tmp_path / '.lake' / 'catalog.db'}"
    assert profile.warehouse == f"file://{tmp_path / '.lake' / 'warehouse'}"


def test_config_found_upwards_with_relative_paths_and_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        tmp_path / "catalog" / "lake.yaml",
        "default: a\nprofiles:\n  a:\n    uri: sqlite:///.lake/c.db\n    warehouse: file://.lake/wh\n"
        "  b:\n    warehouse: s3://bucket/wh\n    s3.endpoint: http://127.0.0.1:${PORT_X:-1234}\n",
    )
    nested = tmp_path / "sql" / "deep"
    nested.mkdir(parents=True)
    monkeypatch.delenv("LAKE_CONFIG", raising=False)
    monkeypatch.delenv("LAKE_PROFILE", raising=False)
    assert load_profile(start=nested).properties["uri"] == f"sqlite:///{tmp_path / '.lake' / 'c.db'}"
    assert load_profile("b", start=nested).properties["s3.endpoint"] == "http://127.0.0.1:1234"
    monkeypatch.setenv("PORT_X", "9999")
    monkeypatch.setenv("LAKE_PROFILE", "b")
    assert load_profile(start=nested).properties["s3.endpoint"] == "http://127.0.0.1:9999"


def test_unknown_profile_lists_known(tmp_path: Path) -> None:
    path = write(tmp_path / "x.yaml", "profiles:\n  one:\n    warehouse: file:///tmp/x\n")
    with pytest.raises(ConfigError, match="profile 'two' is not in .*it has: one"):
        load_profile("two", path)


def test_secrets_are_masked(tmp_path: Path) -> None:
    path = write(
        tmp_path / "x.yaml",
        "profiles:\n  p:\n    type: postgres\n    uri: postgresql://u:hunter2@db/lake\n"
        "    warehouse: s3://b/w\n    s3.secret-access-key: sekrit\n",
    )
    public = load_profile("p", path).public_properties()
    assert "hunter2" not in str(public) and "sekrit" not in str(public)
    assert redact_uri("postgresql://u:pw@h:5432/db") == "postgresql://u:***@h:5432/db"


# ---------------------------------------------------------------- settings and properties lake reads

TABLE = "s.events"


def _seeded(env: LakeEnv, tmp_path: Path) -> Path:
    env.lake.ingest(TABLE, str(write_jsonl(tmp_path / "a.jsonl", events(20))), create=True)
    env.lake.ingest(TABLE, str(write_jsonl(tmp_path / "b.jsonl", events(5, start=20))))
    return write_jsonl(tmp_path / "c.jsonl", events(5, start=50))


@pytest.mark.parametrize(
    ("key", "value", "form"),
    [
        ("lake.duckdb.threads", "four", "must be a whole number of threads from 1 to 4096"),
        ("lake.duckdb.threads", "0", "must be a whole number of threads from 1 to 4096"),
        ("lake.duckdb.memory-limit", "lots", "must be a size with KB, MB, GB or TB"),
        ("lake.duckdb.memory-limit", "80%", "must be a size with KB, MB, GB or TB"),
        ("lake.commit.attempts", "abc", "must be a whole number from 1 to 10000"),
        ("lake.commit.attempts", "1e308", "must be a whole number from 1 to 10000"),
        ("lake.commit.base-delay-ms", "nan", "must be a number of ms from 0 to 600000"),
        ("lake.commit.max-delay-ms", "inf", "must be a number of ms from 0 to 600000"),
    ],
)
def test_bad_profile_setting_is_one_line_before_any_write(
    local_lake: LakeEnv, run_cli, tmp_path: Path, key: str, value: str, form: str
) -> None:
    """A raw ValueError/OverflowError (or DuckDB's own parser error) before; now the profile is refused
    when it loads, naming the key, the value and the expected form."""
    more = _seeded(local_lake, tmp_path)
    bad = write_config(
        tmp_path / "bad", local_lake.profile.name, {**local_lake.profile.properties, key: value}
    )
    env = LakeEnv(local_lake.lake, local_lake.profile, bad, local_lake.root)
    line = fails_unchanged(
        run_cli, env, TABLE, ["ingest", TABLE, str(more)], key, form, repr(value), str(bad)
    )
    assert line.startswith(f"Error: profile {local_lake.profile.name!r} in {bad}: {key} ")
    fails_unchanged(run_cli, env, TABLE, ["query", f"SELECT count(*) FROM {TABLE}"], key, form)


@pytest.mark.parametrize(
    ("key", "command", "form"),
    [
        ("write.target-file-size-bytes", ["ingest", TABLE, "MORE"], "must be a whole number of bytes"),
        (
            "commit.manifest.target-size-bytes",
            ["rewrite-manifests", TABLE],
            "must be a whole number of bytes",
        ),
        (
            "history.expire.max-ref-age-ms",
            ["expire", TABLE, "--older-than", "0s"],
            "must be a whole number of ms",
        ),
    ],
)
def test_bad_table_property_is_one_line_before_any_write(
    local_lake: LakeEnv, run_cli, tmp_path: Path, key: str, command: list[str], form: str
) -> None:
    more = _seeded(local_lake, tmp_path)
    table = local_lake.lake.table(TABLE)
    first = min(table.snapshots(), key=lambda s: s.timestamp_ms).snapshot_id
    with table.transaction() as tx:
        tx.set_properties({key: "abc"})
    args = [{"MORE": str(more), "FIRST": str(first)}.get(a, a) for a in command]
    line = fails_unchanged(run_cli, local_lake, TABLE, args, key, form, "'abc'")
    assert line.startswith(f"Error: table property of {TABLE}: {key} ")
    assert local_lake.lake.query(f"SELECT count(*) AS n FROM {TABLE}").to_pylist() == [{"n": 25}]
