"""`lake drop --purge`: asks on a terminal, needs --yes without one, warns about tags and branches,
and its dry run says what it would do (issue 14)."""

from pathlib import Path

from conftest import cli_json, events, one_line_error, write_jsonl

from lakehouse.testing import LakeEnv


def _table(env: LakeEnv, tmp_path: Path) -> None:
    env.lake.create("s.t", "id long, ts timestamptz, country string, amount double, user_id long",
                    partition_by="country")  # fmt: skip
    env.lake.ingest("s.t", str(write_jsonl(tmp_path / "a.jsonl", events(40))))


def test_purge_needs_yes_without_a_terminal(local_lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    _table(local_lake, tmp_path)
    files = sorted(
        p for p in Path(local_lake.lake.table("s.t").location().removeprefix("file://")).rglob("*")
    )
    line = one_line_error(run_cli(local_lake, "drop", "s.t", "--purge"))
    assert (
        line == "Error: not a terminal: pass --yes to drop s.t and delete its files (or --dry-run to preview)"
    )
    assert local_lake.lake.tables() == ["s.t"]
    assert sorted(Path(local_lake.lake.table("s.t").location().removeprefix("file://")).rglob("*")) == files
    # without --purge nothing is deleted, so no question
    assert run_cli(local_lake, "drop", "s.t").exit_code == 0 and local_lake.lake.tables() == []


def test_dry_run_reads_in_the_conditional_and_warns_about_tags(
    local_lake: LakeEnv, run_cli, tmp_path
) -> None:
    _table(local_lake, tmp_path)
    assert run_cli(local_lake, "tag", "s.t", "v1").exit_code == 0
    assert run_cli(local_lake, "tag", "s.t", "exp", "--branch").exit_code == 0
    res = run_cli(local_lake, "drop", "s.t", "--purge", "--dry-run")
    assert res.exit_code == 0, res.output
    dry = cli_json(run_cli(local_lake, "drop", "s.t", "--purge", "--dry-run", "--json"))
    assert res.stdout.startswith(f"would drop s.t and delete {dry['files']} files (")
    assert "Warning: s.t has 2 tags or branches that keep snapshots: branch exp, tag v1" in res.stderr
    assert [r["name"] for r in dry["refs"]] == ["exp", "v1"] and dry["bytes"] > 0
    assert dry["warnings"] == ["s.t has 2 tags or branches that keep snapshots: branch exp, tag v1"]
    assert local_lake.lake.tables() == ["s.t"]
    done = cli_json(run_cli(local_lake, "drop", "s.t", "--purge", "--yes", "--json"))
    assert done["deleted_files"] == dry["files"] and done["warnings"] == dry["warnings"]
    assert local_lake.lake.tables() == []


def test_confirm_sees_the_plan_and_a_no_changes_nothing(local_lake: LakeEnv, tmp_path: Path) -> None:
    _table(local_lake, tmp_path)
    seen = []
    out = local_lake.lake.drop("s.t", purge=True, confirm=lambda p: seen.append(p) is not None)
    assert out["dropped"] is False and seen[0]["files"] == out["files"]
    assert local_lake.lake.tables() == ["s.t"]
    out = local_lake.lake.drop("s.t", purge=True, confirm=lambda p: True)
    assert out["deleted_files"] == seen[0]["files"] and local_lake.lake.tables() == []


def _on_a_terminal(env: LakeEnv, answer: str, *args: str) -> str:
    """Run `lake` in a real pseudo-terminal, answer its question, return what it printed."""
    import os
    import pty
    import sys

    pid, fd = pty.fork()
    if pid == 0:  # the child: lake, with the terminal as stdin, stdout and stderr
        os.execv(sys.executable, [sys.executable, "-m", "lakehouse.cli", *env.cli_args(), *args])
    os.write(fd, answer.encode())
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode()


def test_on_a_terminal_purge_shows_the_plan_and_asks(local_lake: LakeEnv, tmp_path: Path) -> None:
    _table(local_lake, tmp_path)
    said = _on_a_terminal(local_lake, "n\n", "drop", "s.t", "--purge")
    assert "would drop s.t and delete" in said and "Drop s.t and delete these files? [y/N]" in said
    assert local_lake.lake.tables() == ["s.t"]
    local_lake.lake.tag("s.t", "v1")
    said = _on_a_terminal(local_lake, "y\n", "drop", "s.t", "--purge")
    assert "dropped s.t and deleted" in said and local_lake.lake.tables() == []
    assert (
        said.count("Warning: s.t has a tag or branch that keeps snapshots: tag v1") == 1
    )  # with the question, not again after


def test_pin_files_beside_the_caller_are_named(local_lake: LakeEnv, run_cli, tmp_path, monkeypatch) -> None:
    _table(local_lake, tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    (work / "poetry.lock").write_text("not a pin file")
    monkeypatch.chdir(work)
    assert run_cli(local_lake, "pin", "s.t", "--output", "training.lock").exit_code == 0
    dry = cli_json(run_cli(local_lake, "drop", "s.t", "--dry-run", "--json"))
    assert dry["pin_files"] == [str(work / "training.lock")] and dry["refs"] == []
    res = run_cli(local_lake, "drop", "s.t", "--purge", "--yes")
    assert res.exit_code == 0 and local_lake.lake.tables() == []
    assert f"Warning: s.t is pinned by {work / 'training.lock'}: reading those pins will fail" in res.stderr
