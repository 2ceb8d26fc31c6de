"""Every shell and Python block of README.md runs as written, in order, after `make demo`.

The demo runs first on a copy of the project (`catalog/`, `sql/`, `examples/`, and `.venv` linked),
with its dev server on a free port. Then the README's blocks become one bash script, as a reader
would type them into one terminal: shell blocks inline, Python blocks run with the venv's python.
A block meant as illustration only has `<!-- not-run -->` (optionally with a reason) on the line
before its fence.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
RUNNABLE = {"sh": "sh", "bash": "sh", "python": "python"}
FENCE = re.compile(r"^```(\w*)\s*$")


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence, 1-based
    kind: str  # "sh" or "python"
    text: str


def readme_blocks(text: str) -> tuple[list[Block], list[int]]:
    """The runnable blocks in order, and the lines of those marked not-run."""
    lines = text.splitlines()
    blocks: list[Block] = []
    skipped: list[int] = []
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        kind = RUNNABLE.get(match.group(1))
        previous = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        if kind is not None:
            if previous.strip().startswith("<!-- not-run"):
                skipped.append(i + 1)
            else:
                blocks.append(Block(i + 1, kind, "\n".join(lines[i + 1 : end])))
        i = end + 1
    return blocks, skipped


def script_of(blocks: list[Block], scratch: Path) -> str:
    """One bash script: a marker line before each block so a failure names its README line."""
    parts = ["set -euo pipefail"]
    for n, block in enumerate(blocks):
        parts.append(f"echo '::README line {block.line}' >&2")
        if block.kind == "sh":
            parts.append(block.text)
        else:
            path = scratch / f"block_{n}_line_{block.line}.py"
            path.write_text(block.text + "\n")
            parts.append(f"python {shlex.quote(str(path))}")
    return "\n".join(parts) + "\n"


def test_blocks_are_found_and_markers_respected() -> None:
    text = "a\n```sh\necho 1\n```\n<!-- not-run -->\n```python\nx\n```\n```yaml\nk: v\n```\n```python\ny = 2\n```\n"
    blocks, skipped = readme_blocks(text)
    assert [(b.line, b.kind, b.text) for b in blocks] == [(2, "sh", "echo 1"), (12, "python", "y = 2")]
    assert skipped == [6]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def demo_project(tmp_path: Path):
    """A copy of the project after `make demo` (small feed), its dev server stopped afterwards."""
    project = tmp_path / "lake"
    project.mkdir()
    for name in ("catalog", "sql", "examples"):
        shutil.copytree(REPO / name, project / name)
    venv = Path(sys.executable).parent.parent
    (project / ".venv").symlink_to(venv)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LAKE_")},
        "LAKE_DEV_PORT": str(_free_port()),
        "LAKE_DEMO_ROWS": "3000",
        "LAKE_CACHE_DIR": str(tmp_path / "cache"),
        "HOME": str(tmp_path / "home"),
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "COLUMNS": "200",
    }
    (tmp_path / "home").mkdir()
    demo = subprocess.run(
        [sys.executable, "-m", "lakehouse.demo"], cwd=project, env=env, capture_output=True, text=True
    )
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    try:
        yield project, env
    finally:
        subprocess.run(
            [sys.executable, "-m", "lakehouse.cli", "--profile", "dev", "dev", "down"],
            cwd=project,
            env=env,
            capture_output=True,
        )


def test_every_readme_block_runs_in_order_after_the_demo(demo_project, tmp_path: Path) -> None:
    project, env = demo_project
    blocks, skipped = readme_blocks(README.read_text())
    assert len(blocks) >= 10 and len(skipped) <= 6, "most of the README's examples must run"
    scratch = tmp_path / "blocks"
    scratch.mkdir()
    done = subprocess.run(
        ["bash", "-c", script_of(blocks, scratch)], cwd=project, env=env, capture_output=True, text=True
    )
    markers = re.findall(r"::README line (\d+)", done.stderr)
    where = f"README.md line {markers[-1]}" if markers else "before the first block"
    assert done.returncode == 0, f"{where} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert len(markers) == len(blocks)
