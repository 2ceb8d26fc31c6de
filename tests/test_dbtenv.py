"""`make dbt`'s environment: found by $LAKE_DBT_HOME only when complete, a built one is left alone, and a
pip that cannot install gives one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse.dev import dbtenv


def _built(home: Path, recipe: str = dbtenv.RECIPE) -> Path:
    dbt = home / "venv" / "bin" / "dbt"
    dbt.parent.mkdir(parents=True)
    dbt.write_text("#!/bin/sh\n")
    (home / dbtenv.STAMP).write_text(recipe + "\n")
    return dbt


def test_found_only_when_the_stamp_says_it_is_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(dbtenv.HOME_VARIABLE, str(tmp_path / "dbt"))
    assert dbtenv.find_dbt() is None
    dbt = _built(tmp_path / "dbt")
    assert dbtenv.find_dbt() == dbt
    (tmp_path / "dbt" / dbtenv.STAMP).unlink()  # a build that stopped half way
    assert dbtenv.find_dbt() is None


def test_a_built_environment_is_up_to_date(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _built(tmp_path)
    assert dbtenv.build(tmp_path) is False
    assert dbtenv.main(["--dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == f"dbt environment up to date in {tmp_path}"


def test_pip_failing_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _built(tmp_path, recipe="an older recipe")  # a stale stamp is rebuilt, and removed first
    (tmp_path / "venv" / "bin" / "python").symlink_to("/bin/false")  # its pip fails at once
    assert dbtenv.main(["--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: make dbt: `") and err.count("\n") == 1 and "failed (exit 1)" in err
    assert not (tmp_path / dbtenv.STAMP).exists()
