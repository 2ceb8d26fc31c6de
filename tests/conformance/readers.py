"""The independent readers of oracle (a) and (e): pyiceberg, standalone DuckDB, polars, a spec-strict
reader of our own (manifests by DuckDB read_avro, Parquet by pyarrow, by field id, positional deletes
applied only when their data sequence number allows), and, for comparison, `lake query` through
both of its scans (read_parquet where it plans it, and iceberg_scan only).
"""

from __future__ import annotations

import dataclasses
import weakref
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pyarrow as pa
from pyiceberg.schema import Schema
from pyiceberg.table import Table

from conformance.canon import Row, canon, table_rows
from conformance.manifests import DATA, POSITION_DELETES, live_entries
from conformance.storage import duck, read_parquet
from lakehouse.lake import Lakehouse
from lakehouse.testing import LakeEnv

FIELD_ID = b"PARQUET:field_id"


def pyiceberg_rows(env: LakeEnv, name: str, table: Table) -> pa.Table:
    return table.scan().to_arrow()


def duckdb_rows(env: LakeEnv, name: str, table: Table) -> pa.Table:
    con = duck(env.profile)
    try:
        return con.execute(f"SELECT * FROM iceberg_scan('{table.metadata_location}')").fetch_arrow_table()
    finally:
        con.close()


def polars_rows(env: LakeEnv, name: str, table: Table) -> pa.Table:
    import warnings

    import polars as pl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "install polars_iceberg": planning through pyiceberg is fine here
        return pl.scan_iceberg(table, storage_options=_polars_storage(env)).collect().to_arrow()


def _polars_storage(env: LakeEnv) -> dict[str, str] | None:
    props = env.profile.properties
    if not env.profile.is_s3:
        return None
    return {
        "aws_endpoint_url": props["s3.endpoint"],
        "aws_access_key_id": props["s3.access-key-id"],
        "aws_secret_access_key": props["s3.secret-access-key"],
        "aws_region": props.get("s3.region", "us-east-1"),
        "aws_allow_http": "true",
    }


def lake_rows(env: LakeEnv, name: str, table: Table) -> pa.Table:
    """`lake query` as it plans: read_parquet over the file plan where provably equal, else iceberg_scan."""
    return env.lake.query(f"SELECT * FROM {name}")


def lake_iceberg_rows(env: LakeEnv, name: str, table: Table) -> pa.Table:
    """`lake query` with `lake.read.parquet: false`: every scan through iceberg_scan."""
    return iceberg_only(env.lake).query(f"SELECT * FROM {name}")


# Keyed by the lake itself, weakly: an id() is reused once a test's lake is freed, and a later test
# would then read the earlier test's table through the stale entry (equal counts, different rows).
_iceberg_only: weakref.WeakKeyDictionary[Lakehouse, Lakehouse] = weakref.WeakKeyDictionary()


def iceberg_only(lake: Lakehouse) -> Lakehouse:
    """The same lake with lake's read_parquet path switched off."""
    if lake not in _iceberg_only:
        props = {**lake.profile.properties, "lake.read.parquet": "false"}
        _iceberg_only[lake] = Lakehouse(dataclasses.replace(lake.profile, properties=props))
    return _iceberg_only[lake]


def strict_rows(env: LakeEnv, name: str, table: Table) -> list[Row]:
    """Rows as the spec defines them, read without any Iceberg library."""
    snapshot = table.current_snapshot()
    if snapshot is None:
        return []
    schema = table.schema()
    entries = live_entries(env.profile, snapshot.manifest_list)
    deletes: dict[str, list[tuple[int, set[int]]]] = defaultdict(list)
    for e in entries:
        if e.content == POSITION_DELETES:
            for path, group in _group_positions(read_parquet(env.profile, e.path)).items():
                deletes[path].append((e.data_sequence_number, group))
        elif e.content != DATA:
            raise AssertionError(f"equality delete file {e.path}: the strict reader does not apply them")
    rows: list[Row] = []
    for e in entries:
        if e.content != DATA:
            continue
        data = read_parquet(env.profile, e.path)
        gone = set().union(*(pos for seq, pos in deletes.get(e.path, []) if seq >= e.data_sequence_number))
        by_id = columns_by_field_id(data, schema)
        columns = []
        for f in schema.fields:
            if f.field_id in by_id:
                columns.append([canon(v, f.field_type) for v in data.column(by_id[f.field_id]).to_pylist()])
            else:  # a column added later reads as NULL (or its initial default)
                columns.append([None] * data.num_rows)
        rows.extend(r for i, r in enumerate(zip(*columns, strict=False)) if i not in gone)
    return rows


def columns_by_field_id(data: pa.Table, schema: Schema) -> dict[int, int]:
    """Column index per Iceberg field id; a file without field ids (pyiceberg add_files, a name-mapped
    table) is matched by the current names, as the spec's name mapping does for unrenamed columns."""
    by_id = {
        int(f.metadata[FIELD_ID]): i
        for i, f in enumerate(data.schema)
        if f.metadata and FIELD_ID in f.metadata
    }
    if by_id:
        return by_id
    names = {f.name: i for i, f in enumerate(data.schema)}
    return {f.field_id: names[f.name] for f in schema.fields if f.name in names}


def _group_positions(deletes: pa.Table) -> dict[str, set[int]]:
    out: dict[str, set[int]] = defaultdict(set)
    for path, pos in zip(
        deletes.column("file_path").to_pylist(), deletes.column("pos").to_pylist(), strict=False
    ):
        out[path].add(pos)
    return out


Reader = Callable[[LakeEnv, str, Table], Any]
READERS: dict[str, Reader] = {
    "pyiceberg": pyiceberg_rows,
    "duckdb": duckdb_rows,
    "polars": polars_rows,
    "strict": strict_rows,
    "lake": lake_rows,
    "lake-iceberg": lake_iceberg_rows,
}


def read_rows(reader: str, env: LakeEnv, name: str, table: Table, schema: Schema) -> list[Row]:
    out = READERS[reader](env, name, table)
    return out if isinstance(out, list) else table_rows(out, schema)
