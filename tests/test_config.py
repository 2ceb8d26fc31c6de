from pathlib import Path

import pytest

from lakehouse.config import load_profile, redact_uri
from lakehouse.errors import ConfigError


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
