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
    """A `delete` snapshot that adds positional delete files in a delete manifest (merge-on-read)."""

    def _manifests(self) -> list[ManifestFile]:
        spec = self._transaction.table_metadata.spec()
        writer = _DeleteManifest(
            spec, self.schema(), self.new_manifest_output(), self._snapshot_id, self._compression
        )
        with writer:
            for f in self._added_data_files:
                writer.add_entry(
                    ManifestEntry.from_args(
                        status=ManifestEntryStatus.ADDED, snapshot_id=self._snapshot_id, data_file=f
                    )
                )
        return [writer.to_manifest_file(), *self._existing_manifests()]


def commit_positional_deletes(table: Table, targets: dict[str, list[int]]) -> Table:
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
    path = f"{table.location().rstrip('/')}/data/{uuid.uuid4().hex}-deletes.parquet"
    with table.io.new_output(path).create() as out:
        pq.write_table(arrow, out)
    data_file = DataFile.from_args(
        content=DataFileContent.POSITION_DELETES,
        file_path=path,
        file_format=FileFormat.PARQUET,
        partition=Record(),
        record_count=len(rows),
        file_size_in_bytes=len(table.io.new_input(path)),
        spec_id=table.metadata.default_spec_id,
        sort_order_id=None,
        equality_ids=None,
        key_metadata=None,
    )
    tx = table.transaction()
    with _AddDeletes(Operation.DELETE, tx, table.io) as add:
        add.append_data_file(data_file)
    return tx.commit_transaction()


# ---------------------------------------------------------------- a spec-strict reader


def strict_ids(table: Table, snapshot: Snapshot | None = None) -> list[int]:
    """The `id`s a reader that follows the spec to the letter sees: a positional delete applies to a
    data file of that path whose data sequence number is <= the delete's own."""
    snapshot = snapshot or table.current_snapshot()
    assert snapshot is not None
    entries = [e for m in snapshot.manifests(table.io) for e in m.fetch_manifest_entry(table.io)]
    deletes = [e for e in entries if e.data_file.content == DataFileContent.POSITION_DELETES]
    assert all(e.data_file.content != DataFileContent.EQUALITY_DELETES for e in entries)
    ids = []
    for entry in entries:
        if entry.data_file.content != DataFileContent.DATA:
            continue
        assert entry.sequence_number is not None
        dropped: set[int] = set()
        for delete in deletes:
            assert delete.sequence_number is not None
            if delete.sequence_number < entry.sequence_number:
                continue
            with table.io.new_input(delete.data_file.file_path).open() as stream:
                positions = pq.read_table(stream).to_pylist()
            dropped |= {r["pos"] for r in positions if r["file_path"] == entry.data_file.file_path}
        with table.io.new_input(entry.data_file.file_path).open() as stream:
            rows = pq.read_table(stream, columns=["id"]).column("id").to_pylist()
        ids += [v for i, v in enumerate(rows) if i not in dropped]
    return sorted(ids)


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
    """lake query applies the deletes; compaction leaves files with deletes alone; rewrite-manifests,
    expire and gc keep the delete files and their sequence numbers."""
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
