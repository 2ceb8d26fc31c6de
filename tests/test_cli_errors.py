"""The CLI's one error path: `lake run` and `lake test` failures print one `Error:` line, exit 1, and
mask the profile's credentials like every other command (they used to print through their own path,
which skipped the masking)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import Result
from conftest import events, write_jsonl, write_project

from lakehouse.testing import LakeEnv, local_properties, make_lake_env

SECRET = "canary-secret-KEY-98765"


def secret_env(tmp_path: Path) -> LakeEnv:
    """A local lake whose profile carries an S3 secret key (unused by a file:// warehouse)."""
    props = local_properties(tmp_path)
    props["s3.secret-access-key"] = SECRET
    return make_lake_env(tmp_path, props)


def error_line(result: Result) -> str:
    """Exit 1 and one `Error: ...` line, last on stderr (after the per-model or per-check lines)."""
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert [line for line in lines if line.startswith("Error")] == lines[-1:], result.stderr
    assert "Traceback" not in result.stderr
    return lines[-1]


def test_failing_run_masks_a_secret_the_error_quotes(tmp_path: Path, run_cli) -> None:
    """A model holding the key by mistake fails; DuckDB's message quotes the value, the CLI masks it."""
    env = secret_env(tmp_path)
    project = write_project(tmp_path, {"silver.leak": f"SELECT CAST('{SECRET}' AS INTEGER) AS x"})
    for json_flag in ((), ("--json",)):
        result = run_cli(env, "run", "--project", str(project), *json_flag)
        line = error_line(result)
        assert "silver.leak" in line and "***" in line, line
        assert SECRET not in result.stdout + result.stderr
        assert "Could not convert string '***'" in result.stderr  # the model's own line too
        if json_flag:
            assert json.loads(result.stdout)["ok"] is False


def test_failing_check_masks_a_secret_the_error_quotes(tmp_path: Path, run_cli) -> None:
    env = secret_env(tmp_path)
    env.lake.ingest("bronze.events", [str(write_jsonl(tmp_path / "e.jsonl", events(5)))], create=True)
    check = f"SELECT * FROM {{{{ this }}}} WHERE id = CAST('{SECRET}' AS INTEGER)"
    sources = "sources:\n  bronze.events:\n    checks:\n      - sql: " + json.dumps(check) + "\n"
    project = tmp_path / "project"
    project.mkdir()
    (project / "sources.yml").write_text(sources)
    for json_flag in ((), ("--json",)):
        result = run_cli(env, "test", "--project", str(project), *json_flag)
        line = error_line(result)
        assert "could not run" in line and "***" in line, line
        assert SECRET not in result.stdout + result.stderr
        if json_flag:
            assert "'***'" in json.loads(result.stdout)[0]["error"]
