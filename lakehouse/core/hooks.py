"""Named checkpoints in writes, so crash and conflict tests can stop a real process at an exact phase.

Inert unless LAKE_TEST_HOOK names the phase (comma-separated for several) and LAKE_TEST_HOOK_DIR a
directory. At the first pass through a named phase the process writes `<dir>/<phase>.reached` and
waits until `<dir>/<phase>.go` exists; a test either kills it there (`kill -9`) or lets it go on.

Phases: `before-write` (sources planned, no file written), `after-write` (data files written,
nothing committed), `before-commit` (a commit staged, the catalog not yet asked), `after-commit`
(the catalog has the new snapshot, the command has not finished), `after-publish` (`lake run`: a
model's audited snapshot is on `main`, later models not yet built).

`lake run` passes each phase at its first model: `before-commit`/`after-commit` around staging the
snapshot on the audit branch, before `main` moves (for a table that has a snapshot; a new table's
first commit is its empty snapshot). `lake compact` passes `after-write` once its
first file group is written, so with several groups the kill lands while it is still writing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

_ENV_PHASES = "LAKE_TEST_HOOK"
_ENV_DIR = "LAKE_TEST_HOOK_DIR"
_passed: set[str] = set()
# What this process has made visible on `main` so far (a `lake run` publishes model by model), so an
# interrupted command can say what it committed.
_committed: list[str] = []


def committed(what: str) -> None:
    """Note a commit that readers now see, e.g. `silver.events (snapshot 123)`."""
    _committed.append(what)


def commits() -> list[str]:
    return list(_committed)


def checkpoint(phase: str) -> None:
    wanted = os.environ.get(_ENV_PHASES)
    if not wanted or phase in _passed or phase not in wanted.split(","):
        return
    _passed.add(phase)
    directory = Path(os.environ.get(_ENV_DIR) or ".")
    (directory / f"{phase}.reached").write_text(str(os.getpid()))
    go = directory / f"{phase}.go"
    while not go.exists():
        time.sleep(0.01)
