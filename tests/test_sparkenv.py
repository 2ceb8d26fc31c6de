"""`make spark`'s Jackson relocation and the environment lookup, without a JVM or a download."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from lakehouse.dev import sparkenv
from lakehouse.errors import SparkUnavailableError
from lakehouse.io.spark.env import find_spark_env

SHADED = "org/apache/iceberg/shaded/com/fasterxml/jackson/"


def _utf8(text: str) -> bytes:
    data = text.encode()
    return b"\x01" + len(data).to_bytes(2, "big") + data


def _class_file(strings: list[str]) -> bytes:
    """A class file whose constant pool mixes Utf8 entries with a Long (two slots) and Class refs."""
    pool = [_utf8(strings[0]), b"\x05" + (42).to_bytes(8, "big"), b"\x07\x00\x01"]
    pool += [_utf8(s) for s in strings[1:]]
    count = 1 + 1 + 2 + 1 + (len(strings) - 1)  # slot 0 unused, Utf8, Long (2 slots), Class, the rest
    body = b"\x00\x21\x00\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00TAIL"
    return b"\xca\xfe\xba\xbe\x00\x00\x00\x34" + count.to_bytes(2, "big") + b"".join(pool) + body


def _pool_strings(data: bytes) -> list[str]:
    count, pos, index, out = int.from_bytes(data[8:10], "big"), 10, 1, []
    while index < count:
        tag = data[pos]
        if tag == 1:
            length = int.from_bytes(data[pos + 1 : pos + 3], "big")
            out.append(data[pos + 3 : pos + 3 + length].decode())
            pos += 3 + length
        else:
            pos += 1 + {5: 8, 7: 2}[tag]
        index += 2 if tag == 5 else 1
    return out


def test_relocate_class_rewrites_every_jackson_name_and_keeps_the_rest() -> None:
    strings = [
        "com/fasterxml/jackson/core/JsonFactory",
        "(Lcom/fasterxml/jackson/core/JsonParser;)V",
        "com.fasterxml.jackson.databind.ObjectMapper",
        "java/lang/Object",
        SHADED + "core/Already",
    ]
    out = sparkenv.relocate_class(_class_file(strings))
    assert _pool_strings(out) == [
        SHADED + "core/JsonFactory",
        f"(L{SHADED}core/JsonParser;)V",
        "org.apache.iceberg.shaded.com.fasterxml.jackson.databind.ObjectMapper",
        "java/lang/Object",
        SHADED + "core/Already",
    ]
    assert out.endswith(b"TAIL")  # everything after the pool is kept byte for byte
    assert sparkenv.relocate_class(out) == out  # idempotent


def test_relocate_class_refuses_what_is_not_a_class_file() -> None:
    with pytest.raises(ValueError, match="not a class file"):
        sparkenv.relocate_class(b"PK\x03\x04")


def test_relocate_jackson_moves_classes_and_service_files(tmp_path: Path) -> None:
    source = tmp_path / "jackson-core-2.15.2.jar"
    with zipfile.ZipFile(source, "w") as jar:
        jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        jar.writestr("META-INF/versions/9/module-info.class", b"\xca\xfe\xba\xbe")
        jar.writestr(
            "com/fasterxml/jackson/core/JsonFactory.class", _class_file(["com/fasterxml/jackson/x/Y"])
        )
        jar.writestr(
            "META-INF/services/com.fasterxml.jackson.core.JsonFactory",
            "com.fasterxml.jackson.core.JsonFactory\n",
        )
    target = tmp_path / "out.jar"
    assert sparkenv.relocate_jackson([source], target) == 2
    with zipfile.ZipFile(target) as jar:
        names = sorted(jar.namelist())
        assert names == [
            "META-INF/services/org.apache.iceberg.shaded.com.fasterxml.jackson.core.JsonFactory",
            SHADED + "core/JsonFactory.class",
        ]
        assert jar.read(names[0]) == b"org.apache.iceberg.shaded.com.fasterxml.jackson.core.JsonFactory\n"
        assert _pool_strings(jar.read(names[1])) == [SHADED + "x/Y"]


def test_a_built_environment_is_found_and_described(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / ".spark"
    (home / "venv/bin").mkdir(parents=True)
    (home / "venv/bin/python").touch()
    (home / "jars").mkdir()
    (home / "jars/b.jar").touch()
    (home / "jars/a.jar").touch()
    (home / "debroot/usr/lib/x86_64-linux-gnu/jni").mkdir(parents=True)
    monkeypatch.delenv("LAKE_SPARK_HOME", raising=False)
    (tmp_path / "project/sub").mkdir(parents=True)
    try:  # no stamp: not complete, so not this one (the lake checkout's own .spark may be found)
        found: Path | None = find_spark_env(tmp_path / "project/sub").home
    except SparkUnavailableError:
        found = None
    assert found != home.resolve()
    (home / ".stamp").write_text(sparkenv.RECIPE)
    env = find_spark_env(tmp_path / "project/sub")
    assert env.home == home.resolve()
    assert [j.name for j in env.jars] == ["a.jar", "b.jar"]
    assert env.java_library_path.endswith("debroot/usr/lib/x86_64-linux-gnu/jni")
    assert env.environ()["PYSPARK_PYTHON"] == str(home.resolve() / "venv/bin/python")


def test_lake_spark_home_must_be_complete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKE_SPARK_HOME", str(tmp_path))
    with pytest.raises(SparkUnavailableError, match="make spark"):
        find_spark_env(tmp_path)
