"""Where the local Spark environment is (`make spark` builds it), and what a Spark driver process needs from it.

The environment is a directory (normally `<lake checkout>/.spark/`): a venv with pyspark, the Iceberg runtime
jar plus its relocated Jackson, the JDBC drivers, and the Debian tree the SQLite driver's native library came
from. This module only finds and describes it; lakehouse.dev.sparkenv builds it.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from lakehouse.errors import SparkUnavailableError

HOME_VARIABLE = "LAKE_SPARK_HOME"
DIRNAME = ".spark"
STAMP = ".stamp"  # written last by `make spark`: its presence means the environment is complete
VENV = "venv"
JARS = "jars"
DEBROOT = "debroot"  # the extracted Debian packages (sqlite-jdbc's native library lives here)


@dataclass(frozen=True)
class SparkEnv:
    home: Path  # the .spark/ directory
    python: Path  # .spark/venv/bin/python (has pyspark)
    jars: tuple[Path, ...]  # iceberg runtime (relocated) + JDBC drivers
    java_library_path: str  # for sqlite-jdbc's native library
    java_home: Path | None

    def environ(self) -> dict[str, str]:
        """The environment variables a Spark driver process needs (add them to os.environ's copy)."""
        env = {"PYSPARK_PYTHON": str(self.python), "PYSPARK_DRIVER_PYTHON": str(self.python)}
        if self.java_home is not None:
            env["JAVA_HOME"] = str(self.java_home)
        return env

    @property
    def classpath(self) -> str:
        return os.pathsep.join(str(jar) for jar in self.jars)


def find_spark_env(base_dir: Path | None = None) -> SparkEnv:
    """The Spark environment: $LAKE_SPARK_HOME, else `<project root>/.spark`, else the lake checkout's `.spark`.

    The project root is `base_dir` (default: the working directory) or the nearest parent holding a `.spark/`.
    """
    explicit = os.environ.get(HOME_VARIABLE)
    if explicit:
        home = Path(explicit).expanduser()
        if not _complete(home):
            raise SparkUnavailableError(
                f"${HOME_VARIABLE}={explicit} is not a complete Spark environment: build it with "
                f"`python -m lakehouse.dev.sparkenv --dir {explicit}` (or `make spark` in the lake checkout)"
            )
        return describe(home)
    candidates = [parent / DIRNAME for parent in _parents(base_dir or Path.cwd())]
    candidates.append(Path(__file__).resolve().parents[3] / DIRNAME)  # the lake source checkout
    for home in candidates:
        if _complete(home):
            return describe(home)
    raise SparkUnavailableError(
        "no local Spark environment found (looked for .spark/ here, in parent directories and in the lake "
        f"checkout): run `make spark` in the lake checkout, or set ${HOME_VARIABLE}"
    )


def describe(home: Path) -> SparkEnv:
    """The SparkEnv of a complete environment directory."""
    home = home.resolve()
    jni = sorted((home / DEBROOT).glob("usr/lib/*/jni"))
    return SparkEnv(
        home=home,
        python=home / VENV / "bin" / "python",
        jars=tuple(sorted((home / JARS).glob("*.jar"))),
        java_library_path=os.pathsep.join(str(path) for path in jni),
        java_home=java_home(),
    )


def java_home() -> Path | None:
    """$JAVA_HOME, else the installation of the `java` on PATH, else None."""
    if os.environ.get("JAVA_HOME"):
        return Path(os.environ["JAVA_HOME"])
    java = shutil.which("java")
    if java is None:
        return None
    return Path(java).resolve().parent.parent  # <home>/bin/java


def _complete(home: Path) -> bool:
    return (home / STAMP).is_file() and (home / VENV / "bin" / "python").exists()


def _parents(start: Path) -> list[Path]:
    start = start.resolve()
    return [start, *start.parents]
