"""Where a project is: its root directory, found the way git and dbt find theirs, and the files in it.

A project root is the nearest directory, from the working directory upwards, that holds
`catalog/lake.yaml` or an existing `.lake/` directory. Only when neither exists anywhere above is the
working directory itself used (the built-in default then creates `.lake/` there), so a command run
in `sql/` or `data/` never creates a second, empty lake inside a project. A `.lake/` directly in the
home directory, the temporary directory or `/` (left by a command once run there) does not make
everything below it one project; a `catalog/lake.yaml` there still does.

The dev server's state file also lives here, so loading a profile can aim it at the port a running
`lake dev up --port N` chose, without `LAKE_DEV_PORT`.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

CONFIG_RELPATH = Path("catalog") / "lake.yaml"
LAKE_DIR = ".lake"
DEV_DIR = Path(LAKE_DIR) / "dev"
DEV_STATE = DEV_DIR / "server.json"
# Hosts a dev server listens on; a profile whose s3.endpoint names another host is never redirected.
LOCAL_HOSTS = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class ProjectRoot:
    """A directory found to be a project: by its config file, or by an existing `.lake/`."""

    path: Path
    config: Path | None  # `catalog/lake.yaml` when the root has one

    @property
    def marker(self) -> str:
        return str(CONFIG_RELPATH) if self.config is not None else f"{LAKE_DIR}/"


def is_root(directory: Path) -> ProjectRoot | None:
    config = directory / CONFIG_RELPATH
    if config.is_file():
        return ProjectRoot(directory, config)
    if (directory / LAKE_DIR).is_dir() and directory not in _shared_dirs():
        return ProjectRoot(directory, None)
    return None


def _shared_dirs() -> set[Path]:
    """Directories that hold many unrelated projects below them."""
    return {Path(p).resolve() for p in (os.path.expanduser("~"), tempfile.gettempdir(), os.sep)}


def find_root(start: Path | None = None) -> ProjectRoot | None:
    """The nearest project root at or above `start` (default: the working directory), or None."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (root := is_root(directory)) is not None:
            return root
    return None


def enclosing_root(root: Path) -> ProjectRoot | None:
    """A project that holds `root` (a nested project, or a stray `.lake/` left inside a project)."""
    for directory in root.resolve().parents:
        if (outer := is_root(directory)) is not None:
            return outer
    return None


def base_dir_of(config: Path) -> Path:
    """The project root of a config file: the directory holding `catalog/`, else the file's own directory."""
    folder = config.resolve().parent
    return folder.parent if folder.name == CONFIG_RELPATH.parent.name else folder


@dataclass(frozen=True)
class DevServerState:
    """What `.lake/dev/server.json` records about a running `lake dev` server."""

    pid: int
    port: int
    endpoint: str
    profile: str | None  # older state files do not say which profile started the server
    path: Path


def read_dev_state(base_dir: Path) -> DevServerState | None:
    """The recorded dev server of the project at `base_dir`, if its file is readable."""
    path = base_dir / DEV_STATE
    try:
        raw = json.loads(path.read_text())
        profile = raw.get("profile")
        return DevServerState(
            int(raw["pid"]), int(raw["port"]), str(raw["endpoint"]), str(profile) if profile else None, path
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def pid_exists(pid: int) -> bool:
    """Whether a process with `pid` exists (cheap; `lakehouse.dev.process.alive` checks it is moto)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def is_local_endpoint(endpoint: str | None) -> bool:
    parsed = urlparse(endpoint or "")
    return parsed.scheme == "http" and parsed.hostname in LOCAL_HOSTS


def running_dev_endpoint(base_dir: Path, profile: str, endpoint: str | None) -> str | None:
    """The endpoint of the dev server running for `profile` in this project, when the profile's own
    `s3.endpoint` is local and a different port: `lake dev up --port N` is then found without
    `LAKE_DEV_PORT`. None when there is nothing to redirect."""
    if not is_local_endpoint(endpoint):
        return None
    state = read_dev_state(base_dir)
    if state is None or (state.profile is not None and state.profile != profile):
        return None
    if not pid_exists(state.pid) or state.endpoint == endpoint:
        return None
    return state.endpoint
