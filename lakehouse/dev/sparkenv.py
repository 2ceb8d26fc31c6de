"""Build the local Spark environment from the package registries alone (`make spark`).

    python -m lakehouse.dev.sparkenv [--dir D]        # default: <lake checkout>/.spark

What it holds (lakehouse.io.spark.env finds and describes it):
- `venv/`: pyspark 3.5.x from PyPI (PIP_FIND_LINKS is honoured, so a wheel cache can stand in);
- `jars/`: the Iceberg Spark runtime out of the PyPI wheel `snowpark-connect-deps-iceberg`, which strips the
  Jackson that Iceberg shades, so pyspark's own Jackson jars are relocated into
  `org.apache.iceberg.shaded.com.fasterxml.jackson` (relocate_jackson); and the SQLite and PostgreSQL JDBC
  drivers from Debian's packages;
- `debroot/`: those Debian packages extracted (sqlite-jdbc's native library is there).
Java is the `java` on PATH; without one, root installs Debian's openjdk-17-jre-headless. A stamp file makes a
second run a no-op. Set LAKE_SPARK_DEBS to a directory of already downloaded .debs to skip `apt-get download`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

from lakehouse.io.spark.env import DEBROOT, DIRNAME, JARS, STAMP, VENV

RECIPE = "pyspark>=3.5,<3.6; snowpark-connect-deps-iceberg==1.0.3; sqlite-jdbc+pgjdbc from Debian; v1"
PYSPARK = "pyspark>=3.5,<3.6"
ICEBERG_WHEEL = "snowpark-connect-deps-iceberg==1.0.3"
ICEBERG_JAR = re.compile(r"iceberg-spark-runtime-3\.5_2\.12-[0-9.]+\.jar$")
JACKSON_JARS = ("jackson-core-", "jackson-databind-", "jackson-annotations-")
DEBS = ("libxerial-sqlite-jdbc-java", "libxerial-sqlite-jdbc-jni", "libpostgresql-jdbc-java")
DEB_JARS = ("xerial-sqlite-jdbc", "postgresql")  # /usr/share/java/<name>-<version>.jar in those packages
RELOCATED_JAR = "iceberg-shaded-jackson.jar"

SHADE = "org/apache/iceberg/shaded/"
# Jackson's names in both spellings: internal (class files, paths) and dotted (strings, service files).
_SLASHED = re.compile(rb"(?<!shaded/)com/fasterxml/jackson/")
_DOTTED = re.compile(rb"(?<!shaded\.)com\.fasterxml\.jackson\.")


class BuildError(Exception):
    """A step of the build failed; main() prints it as one line."""


def relocate_bytes(data: bytes) -> bytes:
    """Jackson's package names in `data` moved under Iceberg's shaded prefix (already moved ones stay)."""
    data = _SLASHED.sub(SHADE.encode() + b"com/fasterxml/jackson/", data)
    return _DOTTED.sub(SHADE.replace("/", ".").encode() + b"com.fasterxml.jackson.", data)


def relocate_class(data: bytes) -> bytes:
    """A class file with every Jackson name in its constant pool relocated.

    Only CONSTANT_Utf8 entries hold names, and each carries its own length, so the pool is walked entry by
    entry and the rest of the file (which refers to entries by index) is kept byte for byte.
    """
    if data[:4] != b"\xca\xfe\xba\xbe":
        raise ValueError("not a class file")
    count = int.from_bytes(data[8:10], "big")
    out = bytearray(data[:10])
    pos, index = 10, 1
    while index < count:
        tag = data[pos]
        if tag == 1:  # Utf8: u2 length, then the (modified UTF-8) bytes
            length = int.from_bytes(data[pos + 1 : pos + 3], "big")
            text = relocate_bytes(data[pos + 3 : pos + 3 + length])
            out += b"\x01" + len(text).to_bytes(2, "big") + text
            pos += 3 + length
        else:
            size = _CONSTANT_SIZES.get(tag)
            if size is None:
                raise ValueError(f"unknown constant pool tag {tag} at byte {pos}")
            out += data[pos : pos + 1 + size]
            pos += 1 + size
        index += 2 if tag in (5, 6) else 1  # Long and Double take two slots
    out += data[pos:]
    return bytes(out)


# Payload sizes of the fixed-size constant pool entries (JVM spec 4.4), by tag.
_CONSTANT_SIZES = {3: 4, 4: 4, 5: 8, 6: 8, 7: 2, 8: 2, 9: 4, 10: 4, 11: 4, 12: 4, 15: 3, 16: 2, 17: 4, 18: 4}
_CONSTANT_SIZES |= {19: 2, 20: 2}


def relocate_jackson(sources: Iterable[Path], target: Path) -> int:
    """Write `target`: the classes and service files of the Jackson jars `sources`, relocated. Returns the count.

    Left out: manifests, signatures, module-info and the multi-release `META-INF/versions/` copies (the base
    classes are enough, and a module descriptor of the old names would be wrong).
    """
    written = 0
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        seen: set[str] = set()
        for source in sources:
            with zipfile.ZipFile(source) as jar:
                for info in jar.infolist():
                    name = info.filename
                    if info.is_dir() or not _kept(name):
                        continue
                    new_name = relocate_bytes(name.encode()).decode()
                    if new_name in seen:
                        continue
                    data = jar.read(info)
                    if name.endswith(".class"):
                        data = relocate_class(data)
                    elif name.startswith("META-INF/services/"):
                        data = relocate_bytes(data)
                    out.writestr(new_name, data)
                    seen.add(new_name)
                    written += 1
    return written


def _kept(name: str) -> bool:
    if name.startswith("META-INF/services/"):
        return True
    return name.endswith(".class") and "module-info" not in name and not name.startswith("META-INF/")


def build(home: Path, *, python: str = sys.executable) -> bool:
    """Build the environment in `home` unless its stamp says it is built. Returns whether anything was done."""
    stamp = home / STAMP
    if stamp.is_file() and stamp.read_text().strip() == RECIPE:
        return False
    ensure_java()
    home.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    venv_python = _venv(home, python)
    jars = home / JARS
    shutil.rmtree(jars, ignore_errors=True)
    jars.mkdir()
    with tempfile.TemporaryDirectory(prefix="lake-spark-") as tmp:
        _iceberg(venv_python, Path(tmp), jars)
    _jackson(venv_python, jars)
    _drivers(home, jars)
    stamp.write_text(RECIPE + "\n")
    return True


def ensure_java() -> None:
    if shutil.which("java"):
        return
    if os.geteuid() != 0:
        raise BuildError("no `java` on PATH: install a Java 17 runtime (Debian: openjdk-17-jre-headless)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    _run(["apt-get", "update", "-qq"], env=env)
    _run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "openjdk-17-jre-headless"], env=env)
    if not shutil.which("java"):
        raise BuildError("installed openjdk-17-jre-headless, but `java` is still not on PATH")


def _venv(home: Path, python: str) -> Path:
    venv_python = home / VENV / "bin" / "python"
    if not venv_python.exists():
        _run([python, "-m", "venv", str(home / VENV)])
    _run([str(venv_python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", PYSPARK])
    return venv_python


def _iceberg(venv_python: Path, tmp: Path, jars: Path) -> None:
    pip = [str(venv_python), "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps"]
    _run([*pip, "--dest", str(tmp), ICEBERG_WHEEL])
    wheels = sorted(tmp.glob("snowpark_connect_deps_iceberg-*.whl"))
    if not wheels:
        raise BuildError(f"pip downloaded no wheel for {ICEBERG_WHEEL}")
    with zipfile.ZipFile(wheels[-1]) as wheel:
        members = [n for n in wheel.namelist() if ICEBERG_JAR.search(n)]
        if not members:
            raise BuildError(f"{wheels[-1].name} holds no iceberg-spark-runtime-3.5_2.12 jar")
        with wheel.open(members[0]) as src, (jars / Path(members[0]).name).open("wb") as dst:
            shutil.copyfileobj(src, dst)


def _jackson(venv_python: Path, jars: Path) -> None:
    out = subprocess.run(
        [str(venv_python), "-c", "import pyspark, os; print(os.path.dirname(pyspark.__file__))"],
        check=True,
        capture_output=True,
        text=True,
    )
    pyspark_jars = Path(out.stdout.strip()) / "jars"
    sources = [jar for prefix in JACKSON_JARS for jar in sorted(pyspark_jars.glob(f"{prefix}[0-9]*.jar"))]
    if len(sources) != len(JACKSON_JARS):
        raise BuildError(f"expected {', '.join(JACKSON_JARS)} jars in {pyspark_jars}, found {len(sources)}")
    relocate_jackson(sources, jars / RELOCATED_JAR)


def _drivers(home: Path, jars: Path) -> None:
    debroot = home / DEBROOT
    shutil.rmtree(debroot, ignore_errors=True)
    debroot.mkdir()
    cached = os.environ.get("LAKE_SPARK_DEBS")
    with tempfile.TemporaryDirectory(prefix="lake-spark-debs-") as tmp:
        debs = [_deb(name, Path(cached)) for name in DEBS] if cached else None
        if not debs or None in debs:
            _run(["apt-get", "download", *DEBS], cwd=tmp)
            debs = [_deb(name, Path(tmp)) for name in DEBS]
        for deb in debs:
            if deb is None:
                raise BuildError(f"apt-get download did not produce all of {', '.join(DEBS)}")
            _run(["dpkg-deb", "-x", str(deb), str(debroot)])
    for name in DEB_JARS:
        found = sorted((debroot / "usr/share/java").glob(f"{name}-[0-9]*.jar"))
        if not found:
            raise BuildError(f"no {name} jar in {debroot}/usr/share/java")
        shutil.copy2(found[-1], jars / found[-1].name)


def _deb(package: str, directory: Path) -> Path | None:
    found = sorted(directory.glob(f"{package}_*.deb"))
    return found[-1] if found else None


def _run(cmd: list[str], cwd: str | Path | None = None, env: dict[str, str] | None = None) -> None:
    """Run quietly; on failure, raise with the command and the tail of its output."""
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise BuildError(f"`{' '.join(cmd)}` failed (exit {result.returncode}): {' | '.join(tail)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lakehouse.dev.sparkenv", description=__doc__.split("\n")[0]
    )
    default = Path(__file__).resolve().parents[2] / DIRNAME
    parser.add_argument("--dir", type=Path, default=default, help=f"where to build it (default: {default})")
    args = parser.parse_args(argv)
    try:
        built = build(args.dir)
    except (BuildError, OSError, subprocess.SubprocessError) as exc:
        print(f"Error: make spark: {exc}", file=sys.stderr)
        return 1
    print(f"Spark environment {'built' if built else 'up to date'} in {args.dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
