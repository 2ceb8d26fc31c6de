"""The Spark driver process that `lakehouse.io.spark.session` talks to: run by the Spark environment's own
Python (`make spark`), which has pyspark and nothing of lake's. It imports only pyspark and the standard
library, so it runs as a plain script, outside the `lakehouse` package.

Protocol: one JSON request per line on stdin, one JSON reply per line on the protocol descriptor (the
process's original stdout; fd 1 is pointed at stderr so nothing Spark or py4j prints can corrupt it).
Requests: {"op": "start", "master", "conf"} first, then "sql", "cache", "uncache", "write", "rewrite"
and "stop". A reply is
{"ok": true, ...} or {"ok": false, "error": "<one line>", "kind": "<Java or Python class>"}.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any

_PROTOCOL = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
sys.stdout = sys.stderr

_spark: Any = None


def _jvm() -> Any:
    return _spark.sparkContext._jvm  # noqa: SLF001


def _java_map(values: dict[str, str]) -> Any:
    out = _jvm().java.util.HashMap()
    for key, value in values.items():
        out.put(key, value)
    return out


def _commit_properties(values: dict[str, str] | None) -> Any:
    """Iceberg's thread-local commit properties (`CommitMetadata.withCommitProperties` takes a Java
    Callable, which py4j cannot pass). Spark SQL writes commit on the calling thread, and pyspark pins
    each Python thread to one JVM thread, so setting the thread-local before `spark.sql` reaches the
    commit: the snapshot summary gets `values`. Returns the ThreadLocal, to be cleared after."""
    # py4j finds the class through Spark's class loader (`spark.jars`); Class.forName would not.
    cls = _jvm().org.apache.iceberg.spark.CommitMetadata._java_lang_class  # noqa: SLF001
    field = cls.getDeclaredField("COMMIT_PROPERTIES")
    field.setAccessible(True)
    local = field.get(None)
    local.set(_java_map(values or {}))
    return local


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def start(request: dict[str, Any]) -> dict[str, Any]:
    global _spark
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(request.get("master") or "local[*]").appName("lake")
    for key, value in request.get("conf", {}).items():
        builder = builder.config(key, value)
    _spark = builder.getOrCreate()
    _spark.sparkContext.setLogLevel("ERROR")
    return {"version": _spark.version, "master": _spark.sparkContext.master}


def sql(request: dict[str, Any]) -> dict[str, Any]:
    local = _commit_properties(request.get("properties")) if request.get("properties") else None
    try:
        frame = _spark.sql(request["sql"])
        if not request.get("collect"):
            return {}
        rows = frame.collect()
        return {"columns": frame.columns, "rows": [[_plain(v) for v in row] for row in rows]}
    finally:
        if local is not None:
            local.remove()


_cached: dict[str, Any] = {}


def cache(request: dict[str, Any]) -> dict[str, Any]:
    """Compute a query once, keep it (memory, spilling to disk) as a temp view, and count its rows."""
    frame = _spark.sql(request["sql"]).persist()
    rows = frame.count()
    frame.createOrReplaceTempView(request["view"])
    _cached[request["view"]] = frame
    return {"rows": rows}


def appended(request: dict[str, Any]) -> dict[str, Any]:
    """Temp view `view`: the rows the `append` snapshots after `start` up to `end` added to `table`
    (Iceberg's incremental append scan; lake checked that only appends and replaces lie between)."""
    frame = (
        _spark.read.format("iceberg")
        .option("start-snapshot-id", str(request["start"]))
        .option("end-snapshot-id", str(request["end"]))
        .load(request["table"])
    )
    frame.createOrReplaceTempView(request["view"])
    return {}


def uncache(request: dict[str, Any]) -> dict[str, Any]:
    frame = _cached.pop(request["view"], None)
    _spark.catalog.dropTempView(request["view"])
    if frame is not None:
        frame.unpersist()
    return {}


def write(request: dict[str, Any]) -> dict[str, Any]:
    """A view into an Iceberg table with DataFrameWriterV2 (columns matched by name): replace every row
    (`overwrite`) or append, with snapshot properties."""
    from pyspark.sql.functions import lit

    writer = _spark.table(request["view"]).writeTo(request["table"])
    for key, value in request.get("properties", {}).items():
        writer = writer.option(f"snapshot-property.{key}", value)
    if request.get("overwrite"):
        writer.overwrite(lit(True))
    else:
        writer.append()
    return {}


def rewrite(request: dict[str, Any]) -> dict[str, Any]:
    """`rewrite_data_files` through Iceberg's action API, which (unlike the procedure) takes snapshot
    properties: the compaction's snapshot carries the same `lake.*` keys as one lake made itself."""
    jvm = _jvm()
    jspark = _spark._jsparkSession  # noqa: SLF001
    table = jvm.org.apache.iceberg.spark.Spark3Util.loadIcebergTable(jspark, request["table"])
    action = jvm.org.apache.iceberg.spark.actions.SparkActions.get(jspark).rewriteDataFiles(table)
    action = action.options(_java_map(request.get("options", {})))
    for key, value in request.get("properties", {}).items():
        action = action.snapshotProperty(key, value)
    if request.get("where"):
        converter = jvm.org.apache.spark.sql.execution.datasources.SparkExpressionConverter
        resolved = converter.collectResolvedSparkExpression(jspark, request["table"], request["where"])
        action = action.filter(converter.convertToIcebergExpression(resolved))
    if request.get("zorder"):
        gateway = _spark.sparkContext._gateway  # noqa: SLF001
        columns = gateway.new_array(gateway.jvm.java.lang.String, len(request["zorder"]))
        for i, column in enumerate(request["zorder"]):
            columns[i] = column
        action = action.zOrder(columns)
    elif request.get("sort"):
        order = jvm.org.apache.iceberg.SortOrder.builderFor(table.schema())
        for column, descending in request["sort"]:
            order = order.desc(column) if descending else order.asc(column)
        action = action.sort(order.build())
    else:
        action = action.binPack()
    result = action.execute()
    return {
        "rewritten_files": result.rewrittenDataFilesCount(),
        "added_files": result.addedDataFilesCount(),
        "rewritten_bytes": result.rewrittenBytesCount(),
    }


def _error(exc: BaseException) -> dict[str, Any]:
    # A Java exception reaches Python as Py4JJavaError (or pyspark's AnalysisException etc.):
    # keep the Java class and its first message line.
    java = getattr(exc, "java_exception", None)
    if java is not None:
        message, kind = str(java.getMessage() or java.toString()), str(java.getClass().getName())
    else:
        message, kind = str(getattr(exc, "desc", None) or exc), type(exc).__name__
    line = next((part.strip() for part in message.splitlines() if part.strip()), kind)
    traceback.print_exc(file=sys.stderr)
    return {"ok": False, "error": line, "kind": kind}


OPS = {
    "start": start, "sql": sql, "cache": cache, "appended": appended, "uncache": uncache, "write": write,
    "rewrite": rewrite,
}  # fmt: skip


def main() -> None:
    for raw in sys.stdin:
        request = json.loads(raw)
        if request["op"] == "stop":
            break
        try:
            reply = {"ok": True, **OPS[request["op"]](request)}
        except Exception as exc:  # every failure goes back as one reply; the driver lives on
            reply = _error(exc)
        _PROTOCOL.write(json.dumps(reply) + "\n")
    if _spark is not None:
        _spark.stop()


if __name__ == "__main__":
    main()
