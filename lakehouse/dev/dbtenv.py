"""Build the local dbt environment from the package registries alone (`make dbt`), and find it.

    python -m lakehouse.dev.dbtenv [--dir D]        # default: <lake checkout>/.dbt

It is a venv (`.dbt/venv/`) holding dbt-core and dbt-duckdb, used only by tests/dbt to run the same project
under dbt-duckdb and under lake. dbt-core is pinned below 1.11, whose install downloads from the internet.
A stamp file, written last, makes a second run a no-op. $LAKE_DBT_HOME points at another built environment.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HOME_VARIABLE = "LAKE_DBT_HOME"
DIRNAME = ".dbt"
STAMP = ".stamp"
VENV = "venv"
PACKAGES = ("dbt-core>=1.8,<1.11", "dbt-duckdb")
RECIPE = "; ".join(PACKAGES) + "; v1"


class BuildError(Exception):
    """A step of the build failed; main() prints it as one line."""


def default_home() -> Path:
    return Path(__file__).resolve().parents[2] / DIRNAME


def find_dbt(home: Path | None = None) -> Path | None:
    """The `dbt` executable of a built environment: $LAKE_DBT_HOME, else the lake checkout's `.dbt/`."""
    explicit = os.environ.get(HOME_VARIABLE)
    root = Path(explicit).expanduser() if explicit else (home or default_home())
    dbt = root / VENV / "bin" / "dbt"
    return dbt if (root / STAMP).is_file() and dbt.exists() else None


def build(home: Path, *, python: str = sys.executable) -> bool:
    """Build the environment in `home` unless its stamp says it is built. Returns whether anything was done."""
    stamp = home / STAMP
    if stamp.is_file() and stamp.read_text().strip() == RECIPE:
        return False
    home.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    venv_python = home / VENV / "bin" / "python"
    if not venv_python.exists():
        _run([python, "-m", "venv", str(home / VENV)])
    pip = [str(venv_python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    _run([*pip, "--upgrade", "pip"])  # a fresh venv's pip may not resolve today's dependency sets
    _run([*pip, *PACKAGES])
    _run([str(home / VENV / "bin" / "dbt"), "--version"])
    stamp.write_text(RECIPE + "\n")
    return True


def _run(cmd: list[str]) -> None:
    """Run quietly; on failure, raise with the command and the tail of its output."""
    result = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise BuildError(f"`{' '.join(cmd)}` failed (exit {result.returncode}): {' | '.join(tail)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lakehouse.dev.dbtenv", description=__doc__.split("\n")[0]
    )
    default = default_home()
    parser.add_argument("--dir", type=Path, default=default, help=f"where to build it (default: {default})")
    args = parser.parse_args(argv)
    try:
        built = build(args.dir)
    except (BuildError, OSError, subprocess.SubprocessError) as exc:
        print(f"Error: make dbt: {exc}", file=sys.stderr)
        return 1
    print(f"dbt environment {'built' if built else 'up to date'} in {args.dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
