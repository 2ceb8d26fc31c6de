"""Shell-completion candidates from the lake itself: table names, profile names and model names.

Click calls these `shell_complete` callbacks while the shell waits (`lake completion` prints the
script that asks). They never fail loudly: a missing config, an unreachable catalog or one slower
than `TIMEOUT` gives no candidates, with nothing on stdout (which the shell reads) or stderr. The
group's callback does not run while completing, so the profile and config come from the parsed root
parameters (`lake --profile dev describe <TAB>`), environment variables included.

This module imports nothing of lake's at load time: `base` (the group's `--profile`) uses it too.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import logging
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterable

import click

TIMEOUT = 2.0  # seconds a shell waits for names at most (env: LAKE_COMPLETION_TIMEOUT)


def complete_tables(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """TABLE: the chosen profile's tables that start with what was typed (ignoring case)."""
    root = ctx.find_root().params

    def names() -> list[str]:
        from lakehouse.lake import connect

        return connect(root.get("profile"), root.get("config")).tables()

    return _matching(quietly(names), incomplete)


def complete_profiles(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """--profile: the profiles of the config file a command would read (`local` without one)."""
    config = ctx.find_root().params.get("config")

    def names() -> list[str]:
        import yaml

        from lakehouse.core.config import find_config

        path = find_config(config)
        if path is None:
            return ["local"]
        profiles = (yaml.safe_load(path.read_text()) or {}).get("profiles") or {}
        return [str(name) for name in profiles]

    return _matching(quietly(names), incomplete)


def complete_models(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """MODEL and --select: the models of the project (`--project`, $LAKE_PROJECT, else `sql`); a
    selector's leading `+` (and upstream) is kept."""
    project = ctx.params.get("project") or "sql"
    plus = "+" if incomplete.startswith("+") else ""

    def names() -> list[str]:
        from lakehouse.elt.project import Project

        return list(Project.load(project).models)

    return [plus + name for name in _matching(quietly(names), incomplete[len(plus) :])]


def quietly(find: Callable[[], Iterable[str]], timeout: float | None = None) -> list[str]:
    """What `find` returns, or nothing when it fails, prints or takes longer than `timeout` seconds."""
    if timeout is None:
        with contextlib.suppress(ValueError):
            timeout = float(os.environ.get("LAKE_COMPLETION_TIMEOUT", TIMEOUT))
    found: list[str] = []

    def run() -> None:
        with contextlib.suppress(BaseException), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found.extend(sorted(find()))

    logging.disable(logging.CRITICAL)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            worker = threading.Thread(target=run, name="lake-completion", daemon=True)
            worker.start()
            worker.join(TIMEOUT if timeout is None else timeout)
    finally:
        logging.disable(logging.NOTSET)
    if worker.is_alive():  # still waiting on the catalog: give up on it
        atexit.register(_leave, worker)
        return []
    return found


def _leave(worker: threading.Thread) -> None:
    """Exit at once past a worker still blocked in a driver: the interpreter would otherwise unwind
    that thread at shutdown, which can abort the process inside native code (glibc's "FATAL:
    exception not rethrown"). Click has written the candidates already; they are flushed first."""
    if worker.is_alive():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _matching(names: list[str], incomplete: str) -> list[str]:
    prefix = incomplete.lower()
    return [name for name in names if name.lower().startswith(prefix)]
