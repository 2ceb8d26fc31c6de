"""Tables with row-level delete files written by another engine (Spark, Trino, Flink with
merge-on-read). pyiceberg 0.12 cannot write them (`write.delete.mode=merge-on-read` falls back to
copy-on-write), so `commit_positional_deletes` writes a positional-delete Parquet file with pyarrow
and commits it with pyiceberg's own snapshot producer, as such an engine would.

Every operation either handles them (rows come back as a spec-strict reader computes them) or
refuses in one line and changes nothing.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import cli_json, events, write_jsonl
from pyiceberg.manifest import (
    DataFile,
    DataFileContent,
    FileFormat,
    ManifestContent,
    ManifestEntry,
    ManifestEntryStatus,
    ManifestFile,
    ManifestWriterV2,
)
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Operation, Snapshot
from pyiceberg.table.update.snapshot import _FastAppendFiles
from pyiceberg.typedef import Record

from lakehouse.testing import LakeEnv

TABLE = "s.t"
PATH_FIELD = {b"PARQUET:field_id": b"2147483546"}
POS_FIELD = {b"PARQUET:field_id": b"2147483545"}


# ---------------------------------------------------------------- another engine's writes


class _DeleteManifest(ManifestWriterV2):
    def content(self) -> ManifestContent:
        return ManifestContent.DELETES

    @property
    def _meta(self) -> dict[str, str]:
        return {**super()._meta, "content": "deletes"}


class _AddDeletes(_FastAppendFiles):
    """A snapshot that adds positional or equality delete files in a delete manifest (merge-on-read),
    and data files, if any, in a data manifest of its own (Flink's upserts add both at once)."""

    def _manifests(self) -> list[ManifestFile]:
        spec = self._transaction.table_metadata.spec()
        manifests = []
        for content in (ManifestContent.DELETES, ManifestContent.DATA):
            files = [
                f
                for f in self._added_data_files
                if (f.content == DataFileContent.DATA) == (content == ManifestContent.DATA)
            ]
            if not files:
                continue
            kind = _DeleteManifest if content == ManifestContent.DELETES else ManifestWriterV2
            writer = kind(
                spec, self.schema(), self.new_manifest_output(), self._snapshot_id, self._compression
            )
            with writer:
                for f in files:
                    writer.add_entry(
                        ManifestEntry.from_args(
                            status=ManifestEntryStatus.ADDED, snapshot_id=self._snapshot_id, data_file=f
                        )
                    )
            manifests.append(writer.to_manifest_file())
        return [*manifests, *self._existing_manifests()]


def _delete_file(
    table: Table, arrow: pa.Table, content: DataFileContent, *,
    partition: Record | None = None, equality_ids: list[int] | None = None,
) -> DataFile:  # fmt: skip
    path = f"{table.location().rstrip('/')}/data/{uuid.uuid4().hex}-deletes.parquet"
    with table.io.new_output(path).create() as out:
        pq.write_table(arrow, out)
    return DataFile.from_args(
        content=content,
        file_path=path,
        file_format=FileFormat.PARQUET,
        partition=partition if partition is not None else Record(),
        record_count=len(arrow),
        file_size_in_bytes=len(table.io.new_input(path)),
        spec_id=table.metadata.default_spec_id,
        sort_order_id=None,
        equality_ids=equality_ids,
        key_metadata=None,
    )


def _commit(table: Table, files: list[DataFile], operation: Operation = Operation.DELETE) -> Table:
    tx = table.transaction()
    with _AddDeletes(operation, tx, table.io) as add:
        for f in files:
            add.append_data_file(f)
    return tx.commit_transaction()


def _commit_delete_file(
    table: Table, arrow: pa.Table, content: DataFileContent, *,
    partition: Record | None = None, equality_ids: list[int] | None = None,
) -> Table:  # fmt: skip
    return _commit(
        table, [_delete_file(table, arrow, content, partition=partition, equality_ids=equality_ids)]
    )


def _equality_arrow(table: Table, rows: list[dict[str, Any]]) -> tuple[pa.Table, list[int]]:
    from pyiceberg.io.pyarrow import schema_to_pyarrow

    names = list(rows[0])
    arrow = pa.Table.from_pylist(rows, schema=schema_to_pyarrow(table.schema().select(*names)))
    return arrow, [table.schema().find_field(n).field_id for n in names]


def commit_upsert(
    table: Table, rows: list[dict[str, Any]], key: str = "id", drop: list[int] | None = None
) -> Table:
    """Flink's upsert: one snapshot adds the new rows in a data file and an equality delete of their
    keys, which (same sequence number) removes the old rows but not the new ones. Rows at positions
    `drop` of the new file were deleted within the same checkpoint: a positional delete of the same
    snapshot removes them."""
    from pyiceberg.io.pyarrow import _dataframe_to_data_files, schema_to_pyarrow

    arrow = pa.Table.from_pylist(rows, schema=schema_to_pyarrow(table.schema()))
    data = list(_dataframe_to_data_files(table.metadata, arrow, table.io))
    keys, ids = _equality_arrow(table, [{key: r[key]} for r in rows])
    deletes = [_delete_file(table, keys, DataFileContent.EQUALITY_DELETES, equality_ids=ids)]
    if drop:
        positions = {"file_path": [data[0].file_path] * len(drop), "pos": drop}
        arrow = pa.table(positions, schema=pa.schema(
            [pa.field("file_path", pa.string(), False, PATH_FIELD), pa.field("pos", pa.int64(), False, POS_FIELD)]
        ))  # fmt: skip
        deletes.append(_delete_file(table, arrow, DataFileContent.POSITION_DELETES))
    return _commit(table, [*data, *deletes], Operation.OVERWRITE)


def commit_positional_deletes(
    table: Table, targets: dict[str, list[int]], partition: Record | None = None
) -> Table:
    """One positional delete file removing `targets` (data file path -> row positions), committed."""
    rows = sorted((path, pos) for path, positions in targets.items() for pos in positions)
    arrow = pa.table(
        [pa.array([r[0] for r in rows], pa.string()), pa.array([r[1] for r in rows], pa.int64())],
        schema=pa.schema(
            [
                pa.field("file_path", pa.string(), nullable=False, metadata=PATH_FIELD),
                pa.field("pos", pa.int64(), nullable=False, metadata=POS_FIELD),
            ]
        ),
    )
    return _commit_delete_file(table, arrow, DataFileContent.POSITION_DELETES, partition=partition)


def commit_equality_deletes(
    table: Table, rows: list[dict[str, Any]], partition: Record | None = None
) -> Table:
    """One equality delete file (as Flink writes them): a row for each deleted key, its columns the
    table's own, with their field ids; its `equality_ids` are those columns'."""
    arrow, ids = _equality_arrow(table, rows)
    return _commit_delete_file(
        table, arrow, DataFileContent.EQUALITY_DELETES, partition=partition, equality_ids=ids
    )


# ---------------------------------------------------------------- a spec-strict reader


def strict_rows(table: Table, snapshot: Snapshot | None = None) -> list[dict[str, Any]]:
    """The rows a reader that follows the spec to the letter sees, sorted by `id`:
    - a positional delete applies to a data file of that path whose data sequence number is <= its own;
    - an equality delete applies to data files with a strictly lower data sequence number, in its
      partition (or anywhere when its spec is unpartitioned); NULL equals NULL."""
    snapshot = snapshot or table.current_snapshot()
    assert snapshot is not None
    entries = [
        e
        for m in snapshot.manifests(table.io)
        for e in m.fetch_manifest_entry(table.io, discard_deleted=True)
    ]

    def read(path: str) -> list[dict[str, Any]]:
        with table.io.new_input(path).open() as stream:
            return pq.read_table(stream).to_pylist()

    def same_partition(delete: DataFile, data: DataFile) -> bool:
        if table.specs()[delete.spec_id].is_unpartitioned():
            return True
        return delete.spec_id == data.spec_id and delete.partition == data.partition

    names = {f.field_id: f.name for f in table.schema().fields}
    out = []
    for entry in entries:
        if entry.data_file.content != DataFileContent.DATA:
            continue
        assert entry.sequence_number is not None
        dropped: set[int] = set()
        equality: list[tuple[list[str], set[tuple[Any, ...]]]] = []
        for delete in entries:
            f = delete.data_file
            assert delete.sequence_number is not None
            if (
                f.content == DataFileContent.POSITION_DELETES
                and delete.sequence_number >= entry.sequence_number
            ):
                dropped |= {
                    r["pos"] for r in read(f.file_path) if r["file_path"] == entry.data_file.file_path
                }
            if (
                f.content == DataFileContent.EQUALITY_DELETES
                and delete.sequence_number > entry.sequence_number
                and same_partition(f, entry.data_file)
            ):
                cols = [names[i] for i in f.equality_ids or []]
                equality.append((cols, {tuple(r[c] for c in cols) for r in read(f.file_path)}))
        rows = read(entry.data_file.file_path)
        out += [
            r
            for i, r in enumerate(rows)
            if i not in dropped and not any(tuple(r[c] for c in cols) in keys for cols, keys in equality)
        ]
    return sorted(out, key=lambda r: r["id"])


def strict_ids(table: Table, snapshot: Snapshot | None = None) -> list[int]:
    return [r["id"] for r in strict_rows(table, snapshot)]


def sequence_numbers(table: Table, snapshot_id: int | None = None) -> dict[str, int | None]:
    snapshot = table.snapshot_by_id(snapshot_id) if snapshot_id else table.current_snapshot()
    assert snapshot is not None
    return {
        e.data_file.file_path: e.sequence_number
        for m in snapshot.manifests(table.io)
        for e in m.fetch_manifest_entry(table.io)
    }


def pyiceberg_ids(table: Table, snapshot_id: int | None = None) -> list[int]:
    return sorted(table.scan(snapshot_id=snapshot_id).to_arrow().column("id").to_pylist())


def data_paths(table: Table) -> list[str]:
    snapshot = table.current_snapshot()
    assert snapshot is not None
    return sorted(
        e.data_file.file_path
        for m in snapshot.manifests(table.io)
        for e in m.fetch_manifest_entry(table.io)
        if e.data_file.content == DataFileContent.DATA
    )


@pytest.fixture
def deleted(local_lake: LakeEnv, tmp_path: Path) -> dict[str, Any]:
    """`s.t`: four ingests of 50 rows (one data file each, 200 rows), then another engine deletes 12
    rows of the first file and 8 of the second in two positional delete files: 180 live rows."""
    lk = local_lake.lake
    for n in range(4):
        lk.ingest(TABLE, str(write_jsonl(tmp_path / f"{n}.jsonl", events(50, start=n * 50))), create=n == 0)
    table = lk.table(TABLE)
    paths = data_paths(table)
    assert len(paths) == 4
    first = pq.read_table(paths[0].removeprefix("file://"), columns=["id"]).column("id").to_pylist()
    second = pq.read_table(paths[1].removeprefix("file://"), columns=["id"]).column("id").to_pylist()
    table = commit_positional_deletes(table, {paths[0]: list(range(0, 24, 2))})
    table = commit_positional_deletes(table, {paths[1]: list(range(40, 48))})
    gone = {first[p] for p in range(0, 24, 2)} | {second[p] for p in range(40, 48)}
    live = sorted(set(range(200)) - gone)
    assert pyiceberg_ids(table) == live == strict_ids(table)
    return {"env": local_lake, "live": live, "paths": paths, "first": first}


def duckdb_ids(table: Table) -> list[int]:
    """Standalone DuckDB (not our engine): iceberg_scan on the metadata file the catalog reports."""
    import duckdb

    from lakehouse.io.engine import extension_path

    con = duckdb.connect()
    for name in ("avro", "iceberg"):
        con.execute(f"LOAD '{extension_path(name)}'")
    rows = con.execute(f"SELECT id FROM iceberg_scan('{table.metadata_location}') ORDER BY id").fetchall()
    return [r[0] for r in rows]


def test_describe_files_and_pin_show_delete_files_and_live_rows(deleted, run_cli) -> None:
    """They used to count the two delete files as data: "6 files, 220 rows" for 180 live rows."""
    env = deleted["env"]
    info = cli_json(run_cli(env, "describe", TABLE, "--json"))
    assert (info["data_files"], info["delete_files"], info["rows"], info["data_rows"]) == (4, 2, 180, 200)
    assert info["rows"] == len(pyiceberg_ids(env.lake.table(TABLE))) and info["rows_exact"] is True
    text = run_cli(env, "describe", TABLE).stdout
    assert "4 files" in text and "180 rows" in text and "2 delete files" in text and "20 rows deleted" in text

    files = cli_json(run_cli(env, "files", TABLE, "--json"))
    assert [f["content"] for f in files] == ["data"] * 4 + ["position-deletes"] * 2
    removed = {f["path"]: f.get("deleted_rows", 0) for f in files if f["content"] == "data"}
    assert removed == {
        deleted["paths"][0]: 12,
        deleted["paths"][1]: 8,
        **{p: 0 for p in deleted["paths"][2:]},
    }
    assert sorted(f["rows"] for f in files if f["content"] != "data") == [8, 12]

    last = cli_json(run_cli(env, "snapshots", TABLE, "--json"))[-1]
    assert (last["total_rows"], last["total_delete_files"], last["total_position_deletes"]) == (200, 2, 20)

    lock = env.root / "train.lock"
    assert run_cli(env, "pin", TABLE, "-o", str(lock)).exit_code == 0
    pin = json.loads(lock.read_text())["tables"][0]
    assert (pin["rows"], pin["data_files"], pin["delete_files"], pin["rows_exact"]) == (180, 4, 2, True)
    assert run_cli(env, "pin", "--verify", str(lock)).exit_code == 0


def test_overwrite_replaces_data_and_delete_files(deleted, run_cli, tmp_path) -> None:
    """It failed with "conflicts with a concurrent change: Missing required files to delete"."""
    env = deleted["env"]
    source = write_jsonl(tmp_path / "new.jsonl", events(30, start=1000))
    result = run_cli(env, "ingest", TABLE, str(source), "--mode", "overwrite")
    assert result.exit_code == 0, result.output
    table = env.lake.table(TABLE)
    expected = list(range(1000, 1030))
    assert pyiceberg_ids(table) == strict_ids(table) == duckdb_ids(table) == expected
    info = cli_json(run_cli(env, "describe", TABLE, "--json"))
    assert (info["data_files"], info["delete_files"], info["rows"]) == (1, 0, 30)
    summary = table.current_snapshot().summary  # type: ignore[union-attr]
    assert summary["removed-position-delete-files"] == "2" and summary["total-position-deletes"] == "0"


def test_rollback_across_a_copy_on_write_rewrite_keeps_deleted_rows_deleted(deleted, run_cli) -> None:
    """pyiceberg's copy-on-write delete rewrites the first data file but leaves the positional deletes
    naming it live. Rolling back re-added that file with a new, higher data sequence number, so a
    spec-strict reader no longer applied those deletes and 12 deleted rows came back."""
    env = deleted["env"]
    live = deleted["live"]
    table = env.lake.table(TABLE)
    before = table.current_snapshot().snapshot_id  # type: ignore[union-attr]
    victim = deleted["first"][1]  # a live row of the file the first delete file names
    table.delete(f"id = {victim}")  # copy-on-write: one rewritten file, the delete files stay
    table = env.lake.table(TABLE)
    assert pyiceberg_ids(table) == strict_ids(table) == [i for i in live if i != victim]

    result = run_cli(env, "rollback", TABLE, "--to", str(before), "--json")
    assert result.exit_code == 0, result.output
    table = env.lake.table(TABLE)
    assert strict_ids(table) == live
    assert pyiceberg_ids(table) == live
    assert duckdb_ids(table) == live
    assert cli_json(run_cli(env, "describe", TABLE, "--json"))["rows"] == len(live)
    # the restored file carries its original data sequence number, lower than its deletes'
    assert (
        sequence_numbers(table)[deleted["paths"][0]] == sequence_numbers(table, before)[deleted["paths"][0]]
    )


def test_rollback_past_the_delete_files_and_forward_again(deleted, run_cli) -> None:
    """Rolling back to before another engine's deletes removes the delete files; rolling forward
    restores them with their own sequence numbers."""
    env = deleted["env"]
    table = env.lake.table(TABLE)
    ids = [s.snapshot_id for s in table.snapshots()]
    plain, with_deletes = ids[3], ids[-1]  # after the fourth ingest; after both deletes
    assert cli_json(run_cli(env, "rollback", TABLE, "--to", str(plain), "--json"))["rows_after"] == 200
    table = env.lake.table(TABLE)
    assert pyiceberg_ids(table) == strict_ids(table) == duckdb_ids(table) == list(range(200))
    assert cli_json(run_cli(env, "rollback", TABLE, "--to", str(with_deletes), "--json"))["rows_after"] == 180
    table = env.lake.table(TABLE)
    assert pyiceberg_ids(table) == strict_ids(table) == duckdb_ids(table) == deleted["live"]


def test_query_and_maintenance_keep_the_live_rows(deleted, run_cli) -> None:
    """lake query applies the deletes; compaction applies them; rewrite-manifests, expire and gc keep
    the live rows."""
    env = deleted["env"]
    live = deleted["live"]
    got = env.lake.query(f"SELECT id FROM {TABLE} ORDER BY id").column("id").to_pylist()
    assert got == live
    env.lake.table(TABLE).transaction().set_properties(
        {"lake.compact.allow-any-target": "true"}
    ).commit_transaction()
    for args in (
        ["compact", TABLE, "--target-size", "1MB"],
        ["rewrite-manifests", TABLE],
        ["expire", TABLE, "--older-than", "0s"],
        ["gc", TABLE, "--older-than", "0s", "--force"],
    ):
        result = run_cli(env, *args)
        assert result.exit_code == 0 or result.stderr.count("\n") == 1, (args, result.output)
        table = env.lake.table(TABLE)
        assert strict_ids(table) == pyiceberg_ids(table) == duckdb_ids(table) == live, args


# ---------------------------------------------------------------- read_live: every delete kind


@pytest.fixture
def mixed(deleted: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """`deleted`, then another engine's equality deletes and more appends: `user_id = 3` everywhere
    before it (not in the rows appended after), NULL-country rows of user 5 and DE rows of user 6 by
    (country, user_id), and a positional delete in an appended file."""
    env = deleted["env"]
    lk = env.lake
    table = commit_equality_deletes(lk.table(TABLE), [{"user_id": 3}])
    lk.ingest(TABLE, str(write_jsonl(tmp_path / "after.jsonl", events(50, start=200))))
    nulls = [{**r, "country": None} for r in events(20, start=300)]
    lk.ingest(TABLE, str(write_jsonl(tmp_path / "nulls.jsonl", nulls)))
    table = commit_equality_deletes(
        lk.table(TABLE), [{"country": None, "user_id": 5}, {"country": "DE", "user_id": 6}]
    )
    appended = [p for p in data_paths(table) if p not in deleted["paths"]]
    after = next(p for p in appended if 200 in _ids_of(p))
    table = commit_positional_deletes(table, {after: [0, 1]})
    upserted = [{**r, "amount": 999.0} for r in events(3, start=210)]
    for r in upserted:
        r["ts"] = datetime.fromisoformat(r["ts"])
    table = commit_upsert(table, upserted, drop=[2])  # 212 upserted, then deleted in the same commit
    rows = strict_rows(table)
    ids = [r["id"] for r in rows]
    assert 3 not in ids and 20 not in ids  # user 3 before the delete; id 20 is user 3
    assert any(r["user_id"] == 3 for r in rows if r["id"] >= 200)  # appended after: kept
    assert not any(r["user_id"] == 5 and r["country"] is None for r in rows)
    assert any(r["user_id"] == 5 and r["country"] is not None for r in rows)  # NULL matches NULL only
    assert not any(r["user_id"] == 6 and r["country"] == "DE" for r in rows)
    assert 200 not in ids and 201 not in ids and 202 in ids
    assert [r["amount"] for r in rows if r["id"] in (210, 211)] == [999.0, 999.0]  # new kept, old gone
    assert 212 not in ids
    return {**deleted, "rows": rows}


def _ids_of(path: str) -> list[int]:
    return pq.read_table(path.removeprefix("file://"), columns=["id"]).column("id").to_pylist()


def _read_live_rows(env: LakeEnv, table: Table, **options: bool) -> list[dict[str, Any]]:
    from lakehouse.io.fieldids import read_live
    from lakehouse.table.snapshots import live_entries

    sql = read_live(table, live_entries(table.io, table.current_snapshot()), **options)
    with env.lake.engine() as engine:
        got = engine.arrow(f"SELECT * FROM ({sql}) ORDER BY id").to_pylist()
    return got


def _comparable(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(r["id"], str(r["ts"]), r["country"], r["amount"], r["user_id"]) for r in rows]


def test_read_live_applies_positional_and_equality_deletes_as_the_spec_says(mixed) -> None:
    env = mixed["env"]
    table = env.lake.table(TABLE)
    got = _read_live_rows(env, table)
    assert list(got[0]) == ["id", "ts", "country", "amount", "user_id"]
    assert _comparable(got) == _comparable(mixed["rows"])

    located = _read_live_rows(env, table, with_filename=True, with_position=True)
    assert _comparable(located) == _comparable(mixed["rows"])
    live_paths = set(data_paths(table))
    for row in located:  # the manifest's path, and the row's position in that file
        assert row["lake_filename"] in live_paths
        assert _ids_of(row["lake_filename"])[row["lake_pos"]] == row["id"]


def test_read_live_of_a_subset_and_of_no_data_files(mixed) -> None:
    from lakehouse.io.fieldids import read_live
    from lakehouse.table.snapshots import live_entries

    env = mixed["env"]
    table = env.lake.table(TABLE)
    entries = live_entries(table.io, table.current_snapshot())
    first = mixed["paths"][0]
    subset = [
        e for e in entries if e.data_file.content != DataFileContent.DATA or e.data_file.file_path == first
    ]
    with env.lake.engine() as engine:
        got = (
            engine.arrow(f"SELECT id FROM ({read_live(table, subset)}) ORDER BY id").column("id").to_pylist()
        )
        deletes_only = [e for e in entries if e.data_file.content != DataFileContent.DATA]
        empty = engine.arrow(f"SELECT * FROM ({read_live(table, deletes_only, with_position=True)})")
    assert got == [i for i in _ids_of(first) if i in {r["id"] for r in mixed["rows"]}]
    assert empty.num_rows == 0 and empty.column_names[-1] == "lake_pos"


# ---------------------------------------------------------------- compaction applies delete files


def _delete_files(table: Table) -> list[str]:
    snapshot = table.current_snapshot()
    assert snapshot is not None
    return [
        e.data_file.file_path
        for m in snapshot.manifests(table.io)
        for e in m.fetch_manifest_entry(table.io)
        if e.data_file.content != DataFileContent.DATA
    ]


def polars_ids(table: Table) -> list[int]:
    import polars as pl

    return sorted(pl.scan_iceberg(table).select("id").collect()["id"].to_list())


def test_compact_applies_positional_and_equality_deletes_and_removes_them(mixed, run_cli) -> None:
    """It skipped every partition with delete files ("compaction would not apply them")."""
    env = mixed["env"]
    table = env.lake.table(TABLE)
    table.transaction().set_properties({"lake.compact.allow-any-target": "true"}).commit_transaction()
    table = env.lake.table(TABLE)
    deletes, data_rows = _delete_files(table), sum(len(_ids_of(p)) for p in data_paths(table))
    assert len(deletes) == 7
    plan = cli_json(run_cli(env, "compact", TABLE, "--target-size", "1MB", "--dry-run", "--json"))["plan"]
    assert plan["delete_files_applied"] == 7 and plan["delete_files_removed"] == 7
    out = cli_json(run_cli(env, "compact", TABLE, "--target-size", "1MB", "--json"))
    assert (out["rows_before"], out["rows_after"], out["delete_files_removed"]) == (
        data_rows,
        len(mixed["rows"]),
        7,
    )
    table = env.lake.table(TABLE)
    summary = table.current_snapshot().summary  # type: ignore[union-attr]
    assert summary.operation == Operation.REPLACE
    assert summary["lake.rows-before"] == str(data_rows) and summary["lake.rows-after"] == str(
        len(mixed["rows"])
    )
    assert summary["removed-position-delete-files"] == "4" and summary["removed-equality-delete-files"] == "3"
    assert summary["total-delete-files"] == "0" and _delete_files(table) == []
    live = [r["id"] for r in mixed["rows"]]
    assert strict_ids(table) == pyiceberg_ids(table) == duckdb_ids(table) == polars_ids(table) == live
    assert _comparable(strict_rows(table)) == _comparable(mixed["rows"])
    info = cli_json(run_cli(env, "describe", TABLE, "--json"))
    assert (info["delete_files"], info["rows"], info["rows_exact"]) == (0, len(live), True)


def test_compact_where_applies_one_partitions_deletes_and_keeps_the_others(
    local_lake, run_cli, tmp_path
) -> None:
    """An equality delete in partition DE applies there only; compacting DE applies and removes it, and
    the positional delete of partition US stays and still applies."""
    lk = local_lake.lake
    lk.create(TABLE, "id long, ts timestamptz, country string, amount double, user_id long",
              partition_by="country", properties={"lake.compact.allow-any-target": "true"})  # fmt: skip
    for n in range(2):
        lk.ingest(TABLE, str(write_jsonl(tmp_path / f"{n}.jsonl", events(80, start=n * 80))))
    table = commit_equality_deletes(lk.table(TABLE), [{"user_id": 6}], partition=Record("DE"))
    us = next(p for p in data_paths(table) if "country=US" in p)
    table = commit_positional_deletes(table, {us: [0, 3]}, partition=Record("US"))
    rows = strict_rows(table)
    assert any(r["user_id"] == 6 and r["country"] != "DE" for r in rows)  # the DE delete stays in DE
    assert not any(r["user_id"] == 6 and r["country"] == "DE" for r in rows)
    assert _comparable(_read_live_rows(local_lake, table)) == _comparable(rows)

    out = cli_json(
        run_cli(local_lake, "compact", TABLE, "--target-size", "1MB", "--where", "country = 'DE'", "--json")
    )
    assert out["delete_files_removed"] == 1 and out["rows_after"] == sum(
        1 for r in rows if r["country"] == "DE"
    )
    table = lk.table(TABLE)
    assert len(_delete_files(table)) == 1 and _delete_files(table)[0] != us
    ids = [r["id"] for r in rows]
    assert strict_ids(table) == pyiceberg_ids(table) == duckdb_ids(table) == polars_ids(table) == ids


def test_compaction_racing_a_new_delete_file_fails_cleanly(deleted, tmp_path) -> None:
    """Delete files present when planned are applied; one added to a compacted partition meanwhile
    makes the commit fail, the table keeps it, and the compaction's files are removed."""
    from lakehouse.errors import CommitError
    from lakehouse.io.engine import Engine
    from lakehouse.ops import compaction

    env = deleted["env"]
    table = env.lake.table(TABLE)
    table.transaction().set_properties({"lake.compact.allow-any-target": "true"}).commit_transaction()
    table = env.lake.table(TABLE)
    plan = compaction.plan_compaction(table, TABLE, target_size="1MB")
    assert len(plan.removed_deletes) == 2
    with Engine(env.profile) as engine:
        write = compaction.write_compaction(env.profile, engine, table, plan)
    assert write.rows == len(deleted["live"])
    table = commit_positional_deletes(table, {deleted["paths"][3]: [5]})
    head = table.current_snapshot().snapshot_id  # type: ignore[union-attr]
    expected = strict_ids(table)
    with pytest.raises(CommitError) as caught:
        compaction.commit_compaction(env.profile, lambda: env.lake.table(TABLE), plan, write)
    assert "1 delete files were added to the partitions it rewrites" in str(caught.value)
    table = env.lake.table(TABLE)
    assert table.current_snapshot().snapshot_id == head  # type: ignore[union-attr]
    assert pyiceberg_ids(table) == duckdb_ids(table) == expected
    assert not any(Path(p.removeprefix("file://")).exists() for p in write.paths)


# ---------------------------------------------------------------- readers


def test_readers_apply_equality_deletes_duckdb_iceberg_scan_gets_wrong(mixed, run_cli) -> None:
    """DuckDB 1.5.5's iceberg_scan drops every row with a NULL in an equality column (three-valued
    logic: `NOT (NULL = 'DE' AND 6 = 6)` is NULL); lake query/read/batches read such a snapshot through
    read_live and agree with the spec-strict reader. pyiceberg and polars refuse equality deletes."""
    env = mixed["env"]
    lk = env.lake
    table = lk.table(TABLE)
    live = [r["id"] for r in mixed["rows"]]
    standalone = duckdb_ids(table)
    assert standalone != live and sorted(set(live) - set(standalone)) == [312]  # id 312: (NULL, 6)
    assert lk.query(f"SELECT id FROM {TABLE} ORDER BY id").column("id").to_pylist() == live
    nulls = lk.query(f"SELECT t.id FROM {TABLE} AS t WHERE t.country IS NULL ORDER BY 1").column("id")
    assert nulls.to_pylist() == [r["id"] for r in mixed["rows"] if r["country"] is None]
    assert sorted(lk.read(TABLE, ["id"]).column("id").to_pylist()) == live
    assert (
        sorted(i for b in lk.batches(TABLE, ["id"], batch_size=7) for i in b.column("id").to_pylist()) == live
    )
    out = cli_json(run_cli(env, "query", f"SELECT count(*) AS n FROM {TABLE}", "--json"))
    assert out["rows"] == [{"n": len(live)}]
    info = cli_json(run_cli(env, "describe", TABLE, "--json"))
    # exact: the equality keys are matched against the key columns of the files they apply to
    assert (info["delete_files"], info["rows"], info["rows_exact"]) == (7, len(live), True)
    files = cli_json(run_cli(env, "files", TABLE, "--json"))
    assert (
        sorted(f["content"] for f in files if f["content"] != "data")
        == ["equality-deletes"] * 3 + ["position-deletes"] * 4
    )
    # time travel to the snapshot of the first equality delete (before the appends), and a pin
    first_eq = next(s for s in table.snapshots() if s.summary.get("added-equality-delete-files") == "1")  # type: ignore[union-attr]
    old = lk.read(TABLE, ["id"], snapshot_id=first_eq.snapshot_id).column("id").to_pylist()
    assert sorted(old) == strict_ids(table, first_eq) != live
    lock = env.root / "eq.lock"
    assert run_cli(env, "pin", TABLE, "-o", str(lock)).exit_code == 0
    assert run_cli(env, "pin", "--verify", str(lock)).exit_code == 0
    pinned = lk.query(f"SELECT count(*) AS n FROM {TABLE}", as_of=f"@{lock}").to_pylist()
    assert pinned == [{"n": len(live)}]


def test_run_reads_live_rows_and_merges_into_a_table_with_deletes(deleted, tmp_path) -> None:
    """A model reads its source's live rows; an incremental merge into a table that another engine
    deleted from rewrote the affected file with every row, so deleted rows came back."""
    from conftest import write_project

    env = deleted["env"]
    lk = env.lake
    project = write_project(
        tmp_path,
        {
            "gold.m": "{{ config(materialized='incremental', incremental_strategy='merge', unique_key='id') }}\n"
            "SELECT id, user_id, amount FROM s.u\n"
        },
        sources="sources: {s.u: {}, s.t: {}}",
    )
    lk.ingest(
        "s.u",
        str(
            write_jsonl(
                tmp_path / "u.jsonl", [{"id": i, "user_id": i % 17, "amount": 1.0} for i in range(50)]
            )
        ),
        create=True,
    )
    assert lk.run(project).ok
    gold = lk.table("gold.m")
    (path,) = data_paths(gold)
    order = _ids_of(path)
    gold = commit_positional_deletes(gold, {path: [order.index(10), order.index(11)]})
    gold = commit_equality_deletes(gold, [{"user_id": 5}])  # ids 5, 22, 39
    lk.ingest(
        "s.u",
        str(
            write_jsonl(
                tmp_path / "u2.jsonl", [{"id": i, "user_id": i % 17, "amount": 2.0} for i in range(5)]
            )
        ),
        mode="overwrite",
    )
    result = lk.run(project)
    assert result.ok, result.failure_message()
    gold = lk.table("gold.m")
    expected = sorted(set(range(50)) - {5, 10, 11, 22, 39})
    assert strict_ids(gold) == expected
    got = lk.query("SELECT id, amount FROM gold.m ORDER BY id").to_pylist()
    assert [r["id"] for r in got] == expected
    assert {r["id"] for r in got if r["amount"] == 2.0} == set(range(5))
