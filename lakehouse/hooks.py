"""Named checkpoints in writes, so crash and conflict tests can stop a real process at an exact phase.

Inert unless LAKE_TEST_HOOK names the phase (comma-separated for several) and LAKE_TEST_HOOK_DIR a
directory. At the first pass through a named phase the process writes `<dir>/<phase>.reached` and
waits until `<dir>/<phase>.go` exists; a test either kills it there (`kill -9`) or lets it go on.

Phases: `before-write` (sources planned, no file written), `after-write` (data files written,
nothing committed), `before-commit` (a commit staged, the catalog not yet asked), `after-commit`
(the catalog has the new snapshot, the command has not finished).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

_ENV_PHASES = "LAKE_TEST_HOOK"
_ENV_DIR = "LAKE_TEST_HOOK_DIR"
_passed: set[str] = set()


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
