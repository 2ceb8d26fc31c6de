from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import events, fails_unchanged, one_line_error, write_jsonl

from lakehouse.cli import cli
from lakehouse.core.config import load_profile, redact_uri
from lakehouse.core.settings import Settings
from lakehouse.core.sizes import format_duration, parse_duration
from lakehouse.errors import ConfigError, LakehouseError
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


def test_settings_are_typed_once_when_the_profile_loads(tmp_path: Path) -> None:
    path = write(
        tmp_path / "x.yaml",
        "profiles:\n  p:\n    warehouse: file:///tmp/x\n    lake.duckdb.threads: 8\n"
        "    lake.duckdb.memory-limit: ' 2GiB '\n    lake.commit.attempts: '5'\n"
        "    lake.commit.base-delay-ms: 10.5\n    lake.commit.max-delay-ms: 300\n",
    )
    profile = load_profile("p", path)
    assert profile.settings == Settings(
        duckdb_threads=8,
        duckdb_memory_limit="2GiB",
        commit_attempts=5,
        commit_base_delay_ms=10.5,
        commit_max_delay_ms=300.0,
    )
    assert profile.get("lake.duckdb.threads") == "8"  # the raw properties stay as they were
    defaults = load_profile(start=tmp_path).settings
    assert defaults == Settings() and defaults.duckdb_threads is None and defaults.commit_attempts == 40


@pytest.mark.parametrize(
    ("key", "value", "form"),
    [
        ("lake.duckdb.threads", "four", "must be a whole number of threads from 1 to 4096, e.g. 4"),
        ("lake.commit.attempts", "abc", "must be a whole number from 1 to 10000, e.g. 40"),
    ],
)
def test_cli_refuses_a_bad_setting_when_the_profile_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str, value: str, form: str
) -> None:
    """`lake tables` in a project whose lake.yaml has a bad `lake.*` value: exit 1, one line naming the
    key, the profile and file, the expected type and the value; nothing created."""
    config = write(
        tmp_path / "catalog" / "lake.yaml",
        f"default: dev\nprofiles:\n  dev:\n    uri: sqlite:///.lake/c.db\n    warehouse: file://.lake/wh\n"
        f"    {key}: {value}\n",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LAKE_CONFIG", raising=False)
    monkeypatch.delenv("LAKE_PROFILE", raising=False)
    result = CliRunner().invoke(cli, ["tables"], catch_exceptions=False)
    line = one_line_error(result)
    assert line == f"Error: profile 'dev' in {config.resolve()}: {key} {form}; got {value!r}"
    assert result.stdout == "" and not (tmp_path / ".lake").exists()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5d", 5 * 86400),
        ("12h", 12 * 3600),
        ("30m", 1800),
        ("0s", 0),
        ("1w", 7 * 86400),
        ("2 days", 2 * 86400),
        ("1 day", 86400),
        ("12 hours", 12 * 3600),
        ("1 hour", 3600),
        ("30 minutes", 1800),
        ("1 minute", 60),
        ("45 seconds", 45),
        ("1 week", 7 * 86400),
        ("3 weeks", 21 * 86400),
        ("1.5 days", 36 * 3600),
        (" 2 Days ", 2 * 86400),
        ("10 min", 600),
        ("90 sec", 90),
        ("2 hrs", 7200),
    ],
)
def test_one_duration_syntax_takes_short_and_long_units(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["soon", "5", "d", "5 fortnights", "-1d", "2 days ago", "1e3s", "5dd"])
def test_bad_duration_is_one_line_naming_both_spellings(text: str) -> None:
    with pytest.raises(
        LakehouseError, match=r"use a number with s, m, h, d or w, e\.g\. 5d, 12h or '2 days'"
    ):
        parse_duration(text)
    with pytest.raises(LakehouseError, match="at most 100 years"):
        parse_duration("40000 days")


def test_durations_format_short() -> None:
    assert [format_duration(parse_duration(t)) for t in ("2 days", "36 hours", "90 seconds")] == [
        "2d",
        "36h",
        "90s",
    ]


def test_the_nearest_project_root_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`catalog/lake.yaml` or an existing `.lake/`, whichever is nearer upwards; never the subdirectory."""
    from lakehouse.core.project import enclosing_root, find_root

    monkeypatch.delenv("LAKE_CONFIG", raising=False)
    monkeypatch.delenv("LAKE_PROFILE", raising=False)
    write(tmp_path / "catalog" / "lake.yaml", "profiles:\n  a:\n    warehouse: file://.lake/wh\n")
    inner = tmp_path / "apps" / "inner"
    (inner / ".lake").mkdir(parents=True)
    deep = inner / "src" / "x"
    deep.mkdir(parents=True)
    assert load_profile(start=tmp_path / "apps").warehouse == f"file://{tmp_path / '.lake' / 'wh'}"
    nested = load_profile(start=deep)  # the inner `.lake/` is nearer: its built-in default
    assert (nested.name, nested.base_dir, nested.config_path) == ("local", inner, None)
    root = find_root(deep)
    assert root is not None and (root.path, root.marker) == (inner, ".lake/")
    outer = enclosing_root(inner)
    assert outer is not None and (outer.path, outer.marker) == (tmp_path, "catalog/lake.yaml")
    assert not (deep / ".lake").exists()
