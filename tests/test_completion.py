"""Shell completion: `lake completion bash|zsh|fish` prints Click's script, and the completion protocol
that script speaks (`_LAKE_COMPLETE=bash_complete COMP_WORDS=... COMP_CWORD=N lake`) answers with the
lake's own table, profile and model names. Every case runs the real `lake` entry point in a fresh
process, as a shell does, and completion never fails loudly: no traceback, no stray output.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.shell_completion import get_completion_class

from lakehouse.cli import cli
from lakehouse.cli.candidates import TIMEOUT
from lakehouse.testing import local_properties

ROOT = Path(__file__).resolve().parent.parent
REPO_SQL = ROOT / "sql"
TABLES = ["bronze.events", "bronze.labels", "silver.events"]


@pytest.fixture
def lake_bin(tmp_path: Path) -> Path:
    """A `lake` on PATH that runs this checkout's entry point (as the installed script does)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "lake"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m lakehouse.cli "$@"\n')
    shim.chmod(0o755)
    return bin_dir


@pytest.fixture
def lake_with_tables(local_lake):
    for name in TABLES:
        local_lake.lake.create(name, "id long not null, ts timestamptz")
    return local_lake


def environment(lake_bin: Path, **extra: str) -> dict[str, str]:
    """The environment a shell gives `lake`; catalogs may take 60 s (not 2) on a busy test machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKE_", "_LAKE_", "COMP_"))}
    env["LAKE_COMPLETION_TIMEOUT"] = "60"
    env["PATH"] = f"{lake_bin}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return {**env, **extra}


def complete(lake_bin: Path, words: str, cwd: Path, shell: str = "bash", **env: str) -> list[str]:
    """The candidates `lake` answers for the command line `words`, completing its last word (an empty
    one when `words` ends with a space), by Click's protocol for `shell` (fish passes the word itself)."""
    last = "" if words.endswith(" ") else words.split()[-1]
    cword = last if shell == "fish" else str(len(words.split()) - (0 if words.endswith(" ") else 1))
    done = subprocess.run(
        ["lake"], cwd=cwd, capture_output=True, text=True, timeout=60,
        env=environment(lake_bin, _LAKE_COMPLETE=f"{shell}_complete", COMP_WORDS=words,
                        COMP_CWORD=cword, **env),
    )  # fmt: skip
    assert done.returncode == 0 and done.stderr == "", done.stderr
    lines = done.stdout.splitlines()
    if shell == "zsh":  # type, value and help: three lines each
        return [lines[i + 1] for i in range(0, len(lines), 3) if lines[i] == "plain"]
    return [line.split(",", 1)[1] for line in lines if line.startswith("plain,")]  # bash and fish


# ---------------------------------------------------------------- table names


def test_table_arguments_complete_from_the_catalog(lake_with_tables, lake_bin, tmp_path):
    env, cwd = lake_with_tables, tmp_path / "elsewhere"
    cwd.mkdir()
    config = {"LAKE_CONFIG": str(env.config_path)}
    assert complete(lake_bin, "lake describe br", cwd, **config) == ["bronze.events", "bronze.labels"]
    assert complete(lake_bin, "lake describe ", cwd, **config) == TABLES
    assert complete(lake_bin, "lake describe SIL", cwd, **config) == ["silver.events"]  # names ignore case
    assert complete(lake_bin, "lake describe gold", cwd, **config) == []
    # Other commands' TABLE arguments: a plain command, a group (alter), a list (pin), ELT (provenance).
    for words in ("lake snapshots s", "lake compact s", "lake delete s", "lake alter s",
                  "lake pin bronze.events s", "lake provenance s", "lake ingest s", "lake drop s"):  # fmt: skip
        assert complete(lake_bin, words, cwd, **config) == ["silver.events"], words
    # The profile and config can come from the command line too, as for any command.
    words = f"lake --config {env.config_path} --profile {env.profile.name} describe bronze.e"
    assert complete(lake_bin, words, cwd) == ["bronze.events"]
    for shell in ("zsh", "fish"):
        assert complete(lake_bin, "lake describe br", cwd, shell, **config) == [
            "bronze.events",
            "bronze.labels",
        ]
    # Completing changed nothing: the same tables, and no catalog created where it ran.
    assert env.lake.tables() == TABLES
    assert list(cwd.iterdir()) == []


def test_models_complete_from_the_project(lake_bin, tmp_path):
    words = f"lake lineage --project {REPO_SQL} gold."
    assert sorted(complete(lake_bin, words, tmp_path)) == ["gold.training_set", "gold.user_features"]
    words = f"lake run --project {REPO_SQL} --select +silver."
    assert sorted(complete(lake_bin, words, tmp_path)) == ["+silver.events", "+silver.labels"]
    assert complete(lake_bin, "lake test --select silver.e", REPO_SQL.parent) == ["silver.events"]  # sql/


# ---------------------------------------------------------------- profiles


def test_profiles_complete_from_the_config_found(lake_bin, tmp_path):
    project = tmp_path / "project"
    (project / "catalog").mkdir(parents=True)
    (project / "sub").mkdir()
    profiles = {"local": local_properties(project / ".lake"), "dev": {"warehouse": "s3://b/w"}, "team": {}}
    (project / "catalog" / "lake.yaml").write_text(yaml.safe_dump({"profiles": profiles}))
    # Found upwards from the working directory, as every command finds it.
    assert complete(lake_bin, "lake --profile ", project / "sub") == ["dev", "local", "team"]
    assert complete(lake_bin, "lake --profile t", project) == ["team"]
    assert complete(lake_bin, "lake --profile ", tmp_path) == ["local"]  # no config: the built-in one
    assert sorted(os.listdir(project)) == ["catalog", "sub"]  # nothing created


# ---------------------------------------------------------------- never loud, never slow


def write_profile(root: Path, properties: dict[str, str]) -> Path:
    path = root / "catalog" / "lake.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump({"profiles": {"p": {"warehouse": f"file://{root}/wh", **properties}}}))
    return path


def test_an_unreachable_catalog_gives_no_candidates_quietly(lake_bin, tmp_path):
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()  # nothing listens there: connections are refused
    for kind, props in {
        "postgres": {"type": "sql", "uri": f"postgresql://u:secret@127.0.0.1:{port}/db"},
        "rest": {"type": "rest", "uri": f"http://127.0.0.1:{port}"},
    }.items():
        config = write_profile(tmp_path / kind, props)
        assert complete(lake_bin, "lake describe ", tmp_path, LAKE_CONFIG=str(config)) == [], kind
    broken = tmp_path / "broken" / "catalog" / "lake.yaml"
    broken.parent.mkdir(parents=True)
    broken.write_text("profiles: [unclosed\n")
    assert complete(lake_bin, "lake --profile ", tmp_path, LAKE_CONFIG=str(broken)) == []
    assert complete(lake_bin, "lake describe ", tmp_path, LAKE_CONFIG=str(broken)) == []
    assert complete(lake_bin, "lake --config /nowhere.yaml describe ", tmp_path) == []


def test_a_catalog_that_never_answers_is_given_up_on(lake_bin, tmp_path):
    silent = socket.socket()  # accepts connections (the kernel does) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    try:
        uri = f"http://127.0.0.1:{silent.getsockname()[1]}"
        config = write_profile(tmp_path, {"type": "rest", "uri": uri})
        start = time.monotonic()
        assert complete(lake_bin, "lake describe ", tmp_path, LAKE_CONFIG=str(config),
                        LAKE_COMPLETION_TIMEOUT=str(TIMEOUT)) == []  # fmt: skip
        assert time.monotonic() - start < TIMEOUT + 10  # the start-up of Python, then the timeout
    finally:
        silent.close()


# ---------------------------------------------------------------- the scripts


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_clicks_script(run_cli, local_lake, shell):
    result = run_cli(local_lake, "completion", shell)
    assert result.exit_code == 0, result.output
    assert "_LAKE_COMPLETE" in result.stdout and f"{shell}_complete" in result.stdout
    # Click's own script, registered for `lake` (the shell runs `lake` with the variable set).
    assert result.stdout == get_completion_class(shell)(cli, {}, "lake", "_LAKE_COMPLETE").source() + "\n"
    registers = {"bash": "complete -o nosort -F _lake_completion lake", "zsh": "compdef _lake_completion lake",
                 "fish": "complete --no-files --command lake"}  # fmt: skip
    assert registers[shell] in result.stdout


def test_completion_refuses_other_shells(run_cli, local_lake):
    result = run_cli(local_lake, "completion", "tcsh")
    assert result.exit_code == 2 and "'tcsh' is not one of 'bash', 'zsh', 'fish'" in result.stderr


def test_bash_sources_the_script_and_completes_a_table(lake_with_tables, lake_bin, tmp_path):
    script = """
        source <(lake completion bash)
        complete -p lake
        COMP_WORDS=(lake describe bronze.)
        COMP_CWORD=2
        _lake_completion lake bronze. describe
        printf 'reply:%s\\n' "${COMPREPLY[@]}"
    """
    done = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env=environment(lake_bin, LAKE_CONFIG=str(lake_with_tables.config_path)),
    )  # fmt: skip
    assert done.returncode == 0 and done.stderr == "", done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "complete -o nosort -F _lake_completion lake"
    assert lines[1:] == ["reply:bronze.events", "reply:bronze.labels"]
