"""Data commands: ingest and query."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import click

from lakehouse.cli.base import Context, cli
from lakehouse.cli.output import Progress, emit_json, human_bytes, json_option, note
from lakehouse.cli.tables import parse_properties

pass_ctx = click.make_pass_decorator(Context)


@cli.command()
@click.argument("table")
@click.argument("sources", nargs=-1, required=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "csv", "jsonl", "parquet"]),
    default="auto",
    show_default=True,
    help="Source format; auto goes by file extension.",
)
@click.option("--mode", type=click.Choice(["append", "overwrite"]), default="append", show_default=True)
@click.option(
    "--create", is_flag=True, help="Create the table from the sources' schema if it does not exist."
)
@click.option("--partition-by", help='Partition spec for --create, e.g. "day(ts), country".')
@click.option("--evolve", is_flag=True, help="Add source columns the table lacks (union by name).")
@click.option("--property", "properties", multiple=True, metavar="K=V", help="Table property for --create.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@json_option
@pass_ctx
def ingest(
    ctx: Context,
    table: str,
    sources: tuple[str, ...],
    fmt: str,
    mode: str,
    create: bool,
    partition_by: str | None,
    evolve: bool,
    properties: tuple[str, ...],
    quiet: bool,
    as_json: bool,
) -> None:
    """Load CSV, JSON Lines or Parquet files into TABLE as one snapshot.

    SOURCES are files, directories or globs, local or s3://. Directories named key=value
    (Hive partitioning) add their keys as columns.

    \b
    Examples:
      lake ingest bronze.events raw/events.jsonl --create --partition-by "day(ts)"
      lake ingest bronze.events "s3://landing/events/year=2026/*/*.parquet"
      lake ingest bronze.events new.csv --mode overwrite
    """
    with Progress(f"ingest {table}", enabled=not quiet and not as_json) as progress:
        result = ctx.lake.ingest(
            table, list(sources), format=fmt, mode=mode, create=create, partition_by=partition_by,
            evolve=evolve, properties=parse_properties(properties), on_progress=progress.callback,
        )  # fmt: skip
    if as_json:
        emit_json(result.to_dict())
        return
    extra = f"; added columns {', '.join(result.evolved_columns)}" if result.evolved_columns else ""
    click.echo(
        f"{result.mode} {result.rows} rows into {table}: {result.files} files, {human_bytes(result.bytes)}, "
        f"snapshot {result.snapshot_id} ({result.seconds:.2f}s){extra}"
    )


@cli.command()
@click.argument("sql", required=False)
@click.option(
    "--file", "sql_file", type=click.Path(exists=True, dir_okay=False), help="Read the SQL from a file."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json", "jsonl", "parquet"]),
    default=None,
    help="Output format (default: table on a terminal, csv when piped).",
)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the result to a file.")
@click.option(
    "--as-of",
    "as_of",
    multiple=True,
    metavar="REF|TABLE=REF",
    help="Read at a snapshot id, ISO-8601 time or tag; TABLE=REF for one table (repeatable).",
)
@click.option(
    "--pins",
    type=click.Path(exists=True, dir_okay=False),
    metavar="LOCKFILE",
    help="Read every table at the snapshot a `lake pin` lock file records.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print rows and the snapshots read as one JSON document."
)
@pass_ctx
def query(
    ctx: Context,
    sql: str | None,
    sql_file: str | None,
    fmt: str | None,
    output: str | None,
    as_of: tuple[str, ...],
    pins: str | None,
    as_json: bool,
) -> None:
    """Run read-only DuckDB SQL; `namespace.table` names read lake tables.

    Spark/Trino time travel works inside SQL: `FROM t FOR TIMESTAMP AS OF '2026-01-15'`,
    `FOR VERSION AS OF 8744736658442914487` or `FOR VERSION AS OF 'v1'`.

    \b
    Examples:
      lake query "SELECT country, sum(amount) FROM silver.events GROUP BY 1 ORDER BY 2 DESC"
      lake query --file report.sql --format parquet -o report.parquet
      lake query "SELECT count(*) FROM silver.events" --as-of 2026-01-15T00:00:00Z
      lake query "SELECT * FROM gold.training_set" --pins training.lock -o train.parquet
    """
    from lakehouse.errors import LakehouseError

    if (sql is None) == (sql_file is None):
        raise click.UsageError("give the SQL as an argument or with --file, not both")
    from lakehouse.core.textfiles import read_text_file

    text = read_text_file(sql_file, "SQL file") if sql_file else (sql or "")
    result = ctx.lake.query_reader(text, list(as_of) or None, pins=pins)
    try:
        snapshots = result.snapshots()
        if as_json:
            write_json_document(result.reader, {"snapshots": snapshots})
            return
        for name, snapshot_id in snapshots.items():
            note(f"read {name} at snapshot {snapshot_id}")
        fmt = fmt or ("table" if output is None and sys.stdout.isatty() else _format_for(output))
        write_result(result.reader, fmt, output)
    except (LakehouseError, click.UsageError):
        raise
    except Exception as exc:
        from lakehouse.errors import QueryError
        from lakehouse.io.engine import short_error

        raise QueryError(short_error(exc)) from None
    finally:
        result.close()


def _format_for(output: str | None) -> str:
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
        from rich.table import Table

        from lakehouse.cli.output import console

        shown: list[pa.RecordBatch] = []
        total = kept = 0
        for batch in reader:  # keep the first 1,000 rows, count the rest
            total += batch.num_rows
            if kept < 1000:
                shown.append(batch.slice(0, 1000 - kept))
                kept += shown[-1].num_rows
        table = Table(show_lines=False)
        for name in reader.schema.names:
            table.add_column(name, overflow="fold")
        for batch in shown:
            for row in batch.to_pylist():
                table.add_row(
                    *("" if v is None else v.hex() if isinstance(v, bytes) else str(v) for v in row.values())
                )
        console().print(table)
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

            schema = pa.schema([_hex_field(f) for f in reader.schema])
            with pacsv.CSVWriter(sink, schema) as writer:
                for batch in reader:
                    writer.write_batch(_binary_as_hex(batch, schema))
        elif fmt == "jsonl":
            for batch in reader:
                for row in batch.to_pylist():
                    sink.write((to_json_line(row) + "\n").encode())
        else:  # json: one array, streamed row by row
            _write_json_rows(reader, sink, "")
            sink.write(b"\n")


def _hex_field(field):  # type: ignore[no-untyped-def]
    import pyarrow as pa

    binary = pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type)
    return field.with_type(pa.string()) if binary or pa.types.is_fixed_size_binary(field.type) else field


def _binary_as_hex(batch, schema):  # type: ignore[no-untyped-def]
    """CSV is text: binary values are written in hex, as JSON output writes them (raw bytes may not be
    UTF-8, which pyarrow's CSV writer refuses)."""
    import pyarrow as pa

    if batch.schema.equals(schema):
        return batch
    columns = [
        col
        if col.type == field.type
        else pa.array([None if v is None else v.hex() for v in col.to_pylist()], pa.string())
        for col, field in zip(batch.columns, schema, strict=True)
    ]
    return pa.RecordBatch.from_arrays(columns, schema=schema)


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
        for row in batch.to_pylist():
            sink.write((b"" if first else b",") + f"\n{indent}  ".encode() + to_json_line(row).encode())
            first = False
    sink.write(f"\n{indent}]".encode() if not first else b"]")


def write_json_document(reader, head: dict) -> None:  # type: ignore[no-untyped-def,type-arg]
    """`{...head, "rows": [...]}` on stdout, streamed: memory stays at one batch however big the result."""
    from lakehouse.cli.output import to_json

    body = to_json(head)
    with _sink(None) as sink:
        sink.write((body[:-2] + ',\n  "rows": ' if head else '{\n  "rows": ').encode())
        _write_json_rows(reader, sink, "  ")
        sink.write(b"\n}\n")


def to_json_line(row: dict) -> str:  # type: ignore[type-arg]
    import json

    from lakehouse.cli.output import _default, json_safe

    return json.dumps(json_safe(row), default=_default, allow_nan=False)
