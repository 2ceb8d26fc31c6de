"""Query results streamed to a format (table, csv, json, jsonl, parquet), to stdout or a file."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import click

from lakehouse.cli.jsondoc import to_json, to_json_line
from lakehouse.cli.terminal import note, print_rich_table


def format_for(output: str | None) -> str:
    if output and output.endswith(".parquet"):
        return "parquet"
    if output and output.endswith(".jsonl"):
        return "jsonl"
    if output and output.endswith(".json"):
        return "json"
    return "csv"


def write_result(reader, fmt: str, output: str | None) -> None:  # type: ignore[no-untyped-def]
    """Stream record batches to the chosen format; memory stays at one batch except for `table`/`json`."""
    import pyarrow as pa

    if fmt == "table":
        shown: list[pa.RecordBatch] = []
        total = kept = 0
        for batch in reader:  # keep the first 1,000 rows, count the rest
            total += batch.num_rows
            if kept < 1000:
                shown.append(batch.slice(0, 1000 - kept))
                kept += shown[-1].num_rows
        numeric = {f.name for f in reader.schema if _is_number(f.type)}
        rows = [list(row.values()) for batch in shown for row in rows_of(batch)]
        print_rich_table(reader.schema.names, rows, numeric)
        if total > kept:
            note(f"showing {kept} of {total} rows; use --output for all")
        return
    if fmt == "parquet" and output is None:
        raise click.UsageError("--format parquet needs --output FILE")
    with _sink(output) as sink:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            with pq.ParquetWriter(sink, reader.schema, compression="zstd") as writer:
                for batch in reader:
                    writer.write_batch(batch)
        elif fmt == "csv":
            import pyarrow.csv as pacsv

            schema = pa.schema([_csv_field(f) for f in reader.schema])
            with pacsv.CSVWriter(sink, schema) as writer:
                for batch in reader:
                    writer.write_batch(_as_text(batch, schema))
        elif fmt == "jsonl":
            for batch in reader:
                for row in rows_of(batch):
                    sink.write((to_json_line(row) + "\n").encode())
        else:  # json: one array, streamed row by row
            _write_json_rows(reader, sink, "")
            sink.write(b"\n")


def _is_number(t) -> bool:  # type: ignore[no-untyped-def]
    import pyarrow as pa

    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t))


def _csv_field(field):  # type: ignore[no-untyped-def]
    """CSV is text: binary columns become hex and nested ones (list, struct, map) JSON text."""
    import pyarrow as pa

    t = field.type
    binary = pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t)
    return field.with_type(pa.string()) if binary or pa.types.is_nested(t) else field


def _as_text(batch, schema):  # type: ignore[no-untyped-def]
    """Binary values in hex, as JSON output writes them (raw bytes may not be UTF-8, which pyarrow's CSV
    writer refuses); a list, struct or map value as one JSON document, which a CSV reader keeps whole."""
    import pyarrow as pa

    if batch.schema.equals(schema):
        return batch
    columns = []
    for col, field in zip(batch.columns, schema, strict=True):
        if col.type == field.type:
            columns.append(col)
        elif pa.types.is_nested(col.type):
            values = [None if v is None else to_json_line(v) for v in _plain_column(col)]  # type: ignore[arg-type]
            columns.append(pa.array(values, pa.string()))
        else:
            columns.append(pa.array([None if v is None else v.hex() for v in col.to_pylist()], pa.string()))
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def rows_of(batch) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """A batch's rows as dicts, maps as JSON objects (pyarrow gives a map as a list of key-value pairs)."""
    if not any(_has_map(f.type) for f in batch.schema):
        return batch.to_pylist()  # type: ignore[no-any-return]
    columns = {name: _plain_column(col) for name, col in zip(batch.schema.names, batch.columns, strict=True)}
    return [{name: values[i] for name, values in columns.items()} for i in range(batch.num_rows)]


def _plain_column(col) -> list[Any]:  # type: ignore[no-untyped-def]
    return [_plain(v, col.type) for v in col.to_pylist()]


def _has_map(t) -> bool:  # type: ignore[no-untyped-def]
    import pyarrow as pa

    if pa.types.is_map(t):
        return True
    return pa.types.is_nested(t) and any(_has_map(t.field(i).type) for i in range(t.num_fields))


def _plain(value: Any, t) -> Any:  # type: ignore[no-untyped-def]
    """`value` of Arrow type `t` with every map (at any depth) as a dict keyed by text."""
    import pyarrow as pa

    if value is None or not _has_map(t):
        return value
    if pa.types.is_map(t):
        return {_key(k): _plain(v, t.item_type) for k, v in value}
    if pa.types.is_struct(t):
        return {t.field(i).name: _plain(value[t.field(i).name], t.field(i).type) for i in range(t.num_fields)}
    return [_plain(v, t.value_type) for v in value]  # list, large list, fixed-size list


def _key(key: Any) -> str:
    """A JSON object key is text: a date key in ISO form, any other in its JSON spelling."""
    return key if isinstance(key, str) else to_json_line(key).strip('"')  # type: ignore[arg-type]


@contextmanager
def _sink(output: str | None) -> Iterator[BinaryIO]:
    """stdout, or a temporary file beside `output` renamed over it only when the result is complete,
    so a failing query never truncates or half-writes an existing file."""
    if output is None:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    target = Path(output)
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _write_json_rows(reader, sink: BinaryIO, indent: str) -> None:  # type: ignore[no-untyped-def]
    """A JSON array of the reader's rows, one batch in memory at a time."""
    sink.write(b"[")
    first = True
    for batch in reader:
        for row in rows_of(batch):
            sink.write((b"" if first else b",") + f"\n{indent}  ".encode() + to_json_line(row).encode())
            first = False
    sink.write(f"\n{indent}]".encode() if not first else b"]")


def write_json_document(reader, head: dict) -> None:  # type: ignore[no-untyped-def,type-arg]
    """`{...head, "rows": [...]}` on stdout, streamed: memory stays at one batch however big the result."""
    body = to_json(head)
    with _sink(None) as sink:
        sink.write((body[:-2] + ',\n  "rows": ' if head else '{\n  "rows": ').encode())
        _write_json_rows(reader, sink, "  ")
        sink.write(b"\n}\n")
