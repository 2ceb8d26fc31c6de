"""Identity partitions on double columns keep their exact values through every manifest rewrite.

pyiceberg 0.12 reads Avro doubles as float32 (https://github.com/apache/iceberg-python/pull/3808);
lakehouse.table.upstream works around it. The stored values are judged with DuckDB's own `read_avro` of the
raw manifests, and the rows with pyiceberg's scan and DuckDB's standalone `iceberg_scan`.
"""

from __future__ import annotations

import struct
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from conftest import write_jsonl
from pyiceberg.avro.decoder import new_decoder
from pyiceberg.expressions import EqualTo
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import IdentityTransform
from pyiceberg.types import DoubleType, FloatType, LongType, NestedField

from lakehouse.io.engine import extension_path
from lakehouse.table import upstream
from lakehouse.testing import LakeEnv

# none of these survives a trip through float32; 0.3 and 0.30000000000000004 must stay two partitions
VALUES = [0.30000000000000004, 0.3, 1e-300, -1.79e308, 5e-324, 1.0000000000000002, 2.5]
SMALL = {"lake.compact.allow-any-target": "true"}


def _bits(values: list[float]) -> list[bytes]:
    return sorted(struct.pack("<d", v) for v in values)


def _duckdb() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for extension in ("avro", "iceberg"):  # avro first: iceberg would try to download it
        con.execute(f"LOAD '{extension_path(extension)}'")
    return con


def _stored_partition_values(table) -> list[float]:  # type: ignore[no-untyped-def]
    """Every live entry's partition value, read from the raw manifests by DuckDB's avro extension."""
    con = _duckdb()
    out = []
    for manifest in table.current_snapshot().manifests(table.io):
        path = manifest.manifest_path.removeprefix("file://")
        out += [
            r[0]
            for r in con.execute(
                f"SELECT data_file.partition.x FROM read_avro('{path}') WHERE status < 2"
            ).fetchall()
        ]
    return out


def _check(env: LakeEnv, name: str, rows: list[tuple[float, int]]) -> None:
    table = env.lake.table(name)
    stored = _stored_partition_values(table)
    assert _bits(list(set(stored))) == _bits(VALUES), sorted(set(stored))
    got = table.scan().to_arrow()
    assert sorted(zip(got.column("x").to_pylist(), got.column("v").to_pylist(), strict=True)) == sorted(rows)
    expected = sum(1 for x, _ in rows if x == 0.30000000000000004)
    assert table.scan(row_filter=EqualTo("x", 0.30000000000000004)).to_arrow().num_rows == expected
    con = _duckdb()
    scan = f"iceberg_scan('{table.metadata_location}')"
    assert con.execute(f"SELECT count(*) FROM {scan} WHERE x = 0.30000000000000004").fetchone() == (expected,)
    assert con.execute(f"SELECT count(*) FROM {scan} WHERE x = 1e-300").fetchone() == (expected,)
    query = env.lake.query(f"SELECT count(*) AS n FROM {name} WHERE x = 0.30000000000000004").to_pylist()
    assert query == [{"n": expected}]


def _pyiceberg_table(env: LakeEnv, name: str, appends: int) -> list[tuple[float, int]]:
    schema = Schema(
        NestedField(1, "x", DoubleType(), required=False), NestedField(2, "v", LongType(), required=False)
    )
    spec = PartitionSpec(PartitionField(1, 1000, IdentityTransform(), "x"))
    env.lake.catalog.create_namespace_if_not_exists("s")
    table = env.lake.catalog.create_table(name, schema, partition_spec=spec, properties=SMALL)
    rows = []
    for i in range(appends):
        batch = [(x, i * 100 + j) for j, x in enumerate(VALUES)]
        table.append(
            pa.table({"x": pa.array([r[0] for r in batch], pa.float64()), "v": [r[1] for r in batch]})
        )
        rows += batch
    return rows


def _lake_table(env: LakeEnv, tmp_path: Path, name: str, appends: int) -> list[tuple[float, int]]:
    env.lake.create(name, "x double, v long", partition_by="x", properties=SMALL)  # manifest merging is on
    rows = []
    for i in range(appends):
        batch = [(x, i * 100 + j) for j, x in enumerate(VALUES)]
        env.lake.ingest(name, str(write_jsonl(tmp_path / f"{i}.jsonl", [{"x": x, "v": v} for x, v in batch])))
        rows += batch
    return rows


def test_pyiceberg_0_12_narrows_doubles_and_our_reader_does_not() -> None:
    # the upstream bug, recorded here: once pyiceberg is fixed, upstream.install() does nothing
    if not upstream.decoder_narrows_doubles():
        pytest.skip("this pyiceberg reads Avro doubles exactly; the workaround is not installed")
    assert new_decoder(struct.pack("<d", 0.30000000000000004)).read_double() == 0.30000001192092896
    upstream.install()
    from pyiceberg.avro.reader import DoubleReader

    for value in VALUES:
        assert DoubleReader().read(new_decoder(struct.pack("<d", value))) == value


@pytest.mark.parametrize("writer", ["pyiceberg", "lake"])
def test_double_identity_partitions_survive_rewrites_compaction_and_rollback(
    local_lake: LakeEnv, run_cli, tmp_path: Path, writer: str
) -> None:
    name = "s.f"
    rows = (
        _pyiceberg_table(local_lake, name, 3)
        if writer == "pyiceberg"
        else _lake_table(local_lake, tmp_path, name, 3)
    )
    _check(local_lake, name, rows)
    before_compaction = local_lake.lake.table(name).current_snapshot().snapshot_id
    if writer == "pyiceberg":  # fast appends: three manifests to merge
        assert run_cli(local_lake, "rewrite-manifests", name).exit_code == 0
        assert (
            len(local_lake.lake.table(name).current_snapshot().manifests(local_lake.lake.table(name).io)) == 1
        )
        _check(local_lake, name, rows)
    result = local_lake.lake.compact(name, target_size="64KB", min_input_files=2)
    assert result.snapshot_id is not None and result.files_before == 3 * len(VALUES)
    assert len(local_lake.lake.files(name)) == len(VALUES)  # one file per partition: none merged
    _check(local_lake, name, rows)
    more = [(x, 900 + j) for j, x in enumerate(VALUES)]  # a merging append on top of rewritten manifests
    local_lake.lake.ingest(
        name, str(write_jsonl(tmp_path / "more.jsonl", [{"x": x, "v": v} for x, v in more]))
    )
    _check(local_lake, name, rows + more)
    assert run_cli(local_lake, "rollback", name, "--to", str(before_compaction)).exit_code == 0
    _check(local_lake, name, rows)
    local_lake.lake.expire(name, older_than="0s")  # deletes the files only older snapshots reached
    _check(local_lake, name, rows)


def test_float_identity_partitions_survive_rewrites_and_compaction(local_lake: LakeEnv, run_cli) -> None:
    values = [struct.unpack("<f", struct.pack("<f", v))[0] for v in (0.1, 1e-40, -3.4e38, 2.5)]  # float32s
    schema = Schema(
        NestedField(1, "x", FloatType(), required=False), NestedField(2, "v", LongType(), required=False)
    )
    spec = PartitionSpec(PartitionField(1, 1000, IdentityTransform(), "x"))
    local_lake.lake.catalog.create_namespace_if_not_exists("s")
    table = local_lake.lake.catalog.create_table("s.g", schema, partition_spec=spec, properties=SMALL)
    rows = []
    for i in range(3):
        batch = [(x, i * 10 + j) for j, x in enumerate(values)]
        table.append(
            pa.table({"x": pa.array([x for x, _ in batch], pa.float32()), "v": [v for _, v in batch]})
        )
        rows += batch

    def check() -> None:
        current = local_lake.lake.table("s.g")
        stored = set()
        con = _duckdb()
        for manifest in current.current_snapshot().manifests(current.io):
            path = manifest.manifest_path.removeprefix("file://")
            query = f"SELECT data_file.partition.x FROM read_avro('{path}') WHERE status < 2"
            stored |= {r[0] for r in con.execute(query).fetchall()}
        assert stored == set(values)
        got = current.scan().to_arrow()
        assert sorted(zip(got.column("x").to_pylist(), got.column("v").to_pylist(), strict=True)) == sorted(
            rows
        )

    assert run_cli(local_lake, "rewrite-manifests", "s.g").exit_code == 0
    check()
    assert local_lake.lake.compact("s.g", target_size="64KB", min_input_files=2).files_after == len(values)
    check()
