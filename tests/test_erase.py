"""Erasure that reaches history: after `lake erase`, no file reachable from the table's metadata and no
file left in its location holds an erased row, read with pyarrow and searched byte by byte."""

from __future__ import annotations

import io
import json
import tempfile
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import cli_json, write_jsonl
from pyiceberg.types import StringType

from lakehouse.errors import LakehouseError
from lakehouse.io.storage import list_files
from lakehouse.testing import LakeEnv

TABLE = "crm.people"
EMAIL = "forget.me.please@example-erasure.test"
WHERE = f"email = '{EMAIL}'"


def rows(start: int, n: int, with_victim: bool) -> list[dict]:
    out = [{"id": i, "email": f"user{i}@ok.test", "amount": i * 1.5} for i in range(start, start + n)]
    if with_victim:
        out.append({"id": 10_000 + start, "email": EMAIL, "amount": 99.0})
    return out


def ingest(env: LakeEnv, root: Path, name: str, data: list[dict]) -> None:
    env.lake.ingest(TABLE, str(write_jsonl(root / f"{name}.jsonl", data)), create=True)


def location_files(env: LakeEnv) -> dict[str, bytes]:
    """Every file under the table's location (local or S3), path -> its bytes."""
    table = env.lake.table(TABLE)
    out = {}
    for info in list_files(env.profile, table.location()):
        if info.path.endswith("/"):  # a directory marker pyarrow writes on S3
            continue
        with table.io.new_input(info.path).open() as stream:
            out[info.path] = stream.read()
    return out


def emails_in(content: bytes) -> list[str]:
    table = pq.read_table(io.BytesIO(content))
    return table.column("email").to_pylist() if "email" in table.column_names else []


def avro_text(content: bytes) -> bytes:
    """Every record of an Avro file (its blocks decompressed), as text to search."""
    from pyiceberg.avro.file import AvroFile
    from pyiceberg.io.pyarrow import PyArrowFileIO

    with tempfile.NamedTemporaryFile(suffix=".avro") as tmp:
        tmp.write(content)
        tmp.flush()
        with AvroFile(PyArrowFileIO().new_input(tmp.name)) as reader:  # type: ignore[var-annotated]
            return "\n".join(repr(record) for record in reader).encode()


def assert_no_trace(env: LakeEnv) -> None:
    """Every file left in the table's location: Parquet read with pyarrow, every byte searched."""
    needle = EMAIL.encode()
    files = location_files(env)
    assert any(p.endswith(".parquet") for p in files)
    for path, content in files.items():
        assert needle not in content, f"{path} still holds the erased value"
        if path.endswith(".parquet"):
            assert EMAIL not in emails_in(content), path
        if path.endswith(".avro"):  # manifests and manifest lists, compressed: decode every record
            assert needle[:16] not in avro_text(content), path
    # manifests: bounds of every entry (deleted ones too) of every manifest still on disk
    table = env.lake.table(TABLE)

    for snapshot in table.metadata.snapshots:
        for manifest in snapshot.manifests(table.io):
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=False):
                for bound in [*(entry.data_file.lower_bounds or {}).values(),
                              *(entry.data_file.upper_bounds or {}).values()]:  # fmt: skip
                    assert needle[:16] not in bytes(bound)  # bounds are truncated to 16 characters


def current_emails(env: LakeEnv, ref: str | None = None) -> list[str]:
    snapshot = env.lake.snapshot(TABLE, ref)
    assert snapshot is not None
    scan = env.lake.table(TABLE).scan(snapshot_id=snapshot.snapshot_id)
    return scan.to_arrow().column("email").to_pylist()


def test_erase_reaches_tags_branches_pins_and_leaves_no_byte(
    local_lake: LakeEnv, run_cli, tmp_path: Path
) -> None:
    env = local_lake
    ingest(env, tmp_path, "a", rows(0, 50, True))
    env.lake.tag(TABLE, "q1", retain_days=30)
    pin = tmp_path / "train.lock"
    env.lake.pin([TABLE], pin)
    ingest(env, tmp_path, "b", rows(100, 50, False))
    env.lake.tag(TABLE, "exp", branch=True)
    ingest(env, tmp_path, "c", rows(200, 50, True))
    before = {n: len(current_emails(env, n)) for n in ("q1", "exp")}
    assert EMAIL in current_emails(env, "q1") and EMAIL in current_emails(env, "exp")
    parquet = [emails_in(c) for p, c in location_files(env).items() if p.endswith(".parquet")]
    assert sum(e.count(EMAIL) for e in parquet) == 2  # before: two files hold it

    preview = cli_json(run_cli(env, "erase", TABLE, "--where", WHERE, "--dry-run", "--json"))
    assert preview["dry_run"] and preview["matching_rows"] == 2
    assert {r["name"] for r in preview["refs"]} == {"main", "q1", "exp"}
    assert EMAIL not in json.dumps(preview)

    done = cli_json(run_cli(env, "erase", TABLE, "--where", WHERE, "--yes", "--json"))
    assert not done["dry_run"] and len(done["rewritten"]) == 3
    assert EMAIL not in json.dumps(done)

    for ref in (None, "q1", "exp"):
        emails = current_emails(env, ref)
        assert EMAIL not in emails
    assert len(current_emails(env, "q1")) == before["q1"] - 1
    assert len(current_emails(env, "exp")) == before["exp"] - 1
    assert len(current_emails(env)) == 150
    table = env.lake.table(TABLE)
    summary = table.current_snapshot().summary  # type: ignore[union-attr]
    assert (
        summary["lake.erased"].split()[1]
        == "sha256:" + __import__("hashlib").sha256(WHERE.encode()).hexdigest()
    )
    assert "lake.erased-at" in summary
    refs = {name: table.snapshot_by_name(name) for name in ("q1", "exp", "main")}
    assert refs["main"].parent_snapshot_id == refs["exp"].snapshot_id  # type: ignore[union-attr]
    assert refs["exp"].parent_snapshot_id == refs["q1"].snapshot_id  # type: ignore[union-attr]  # lineage kept
    assert len(table.metadata.snapshots) == 3
    assert table.metadata.refs["q1"].max_ref_age_ms == 30 * 86_400_000  # the tag keeps its retention
    assert_no_trace(env)

    # the pin made before: verify fails naming the erasure, reading it gives the erased version
    verify = run_cli(env, "pin", "--verify", str(pin))
    assert verify.exit_code == 1
    assert "was rewritten by erasure " + done["erasure_id"] in verify.output
    with pytest.warns(UserWarning, match="rewritten by erasure"):
        got = env.lake.query(f"SELECT count(*) AS n FROM {TABLE}", as_of=f"@{pin}")
    assert got.column("n").to_pylist() == [50]
    read = run_cli(
        env, "query", f"SELECT count(*) AS n FROM {TABLE}", "--as-of", f"@{pin}", "--format", "csv"
    )
    assert read.exit_code == 0 and read.stdout.strip().splitlines()[-1] == "50"
    warned = [line for line in read.stderr.splitlines() if line.strip()]
    assert len(warned) == 1 and warned[0].startswith("Warning: ") and "rewritten by erasure" in warned[0]


def test_erase_bad_predicate_is_one_line_and_changes_nothing(
    local_lake: LakeEnv, run_cli, tmp_path: Path
) -> None:
    env = local_lake
    ingest(env, tmp_path, "a", rows(0, 5, True))
    before = env.lake.table(TABLE).metadata_location
    result = run_cli(env, "erase", TABLE, "--where", "no_such_column = 1", "--yes")
    assert result.exit_code == 1 and result.output.startswith("Error: ") and "no_such_column" in result.output
    assert env.lake.table(TABLE).metadata_location == before
    result = run_cli(env, "erase", TABLE, "--where", "1 = (SELECT 1)", "--yes")
    assert result.exit_code == 1


def test_erase_other_engines_files_deletes_and_expired_history(any_lake: LakeEnv, tmp_path: Path) -> None:
    """Uncompressed Parquet appended by pyiceberg (the value is plain in the bytes), positional deletes
    written as Spark does (one hides the victim's row, whose bytes stay), a snapshot outside the
    window: afterwards every reader agrees and no byte of the value is left."""
    import polars as pl
    from conformance.other_writer import delete_rows
    from conformance.readers import _polars_storage, strict_rows
    from conformance.storage import duck

    env = any_lake
    ingest(env, tmp_path, "a", rows(0, 40, True))
    table = env.lake.table(TABLE)
    with table.transaction() as tx:
        tx.set_properties({"write.parquet.compression-codec": "uncompressed"})
    table = env.lake.table(TABLE)
    appended = pa.Table.from_pylist(rows(100, 40, True), schema=table.scan().to_arrow().schema)
    table.append(appended)
    env.lake.tag(TABLE, "t2")
    assert any(EMAIL.encode() in c for c in location_files(env).values())  # plain in the bytes
    delete_rows(env.profile, env.lake.table(TABLE), {1, 2, 10_100})  # hides the second victim row
    assert current_emails(env).count(EMAIL) == 1

    result = env.lake.erase(TABLE, WHERE, older_than="0s")
    actions = {s["action"] for s in result.to_dict()["snapshots"]}
    assert actions == {"recreate", "remove"}  # the first snapshot was outside the window
    assert len(result.rewritten) == 2 and result.deleted_files > 0

    table = env.lake.table(TABLE)
    expected = 82 - 4  # two files of 41 rows; 3 hidden by positional deletes, 1 victim left live
    ids = table.scan().to_arrow().column("id").to_pylist()
    assert len(ids) == expected and not {1, 2} & set(ids)  # no deleted row comes back
    assert EMAIL not in current_emails(env)
    con = duck(env.profile)
    scanned = con.execute(f"SELECT email FROM iceberg_scan('{table.metadata_location}')").fetch_arrow_table()
    assert scanned.num_rows == expected and EMAIL not in scanned.column("email").to_pylist()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # polars plans through pyiceberg here
        polars = pl.scan_iceberg(table, storage_options=_polars_storage(env)).collect()
    assert polars.height == expected and EMAIL not in polars["email"].to_list()
    assert len(strict_rows(env, TABLE, table)) == expected
    tagged = current_emails(env, "t2")
    assert len(tagged) == 82 - 2 and EMAIL not in tagged
    summary = table.snapshot_by_name("t2").summary  # type: ignore[union-attr]
    assert summary["lake.erased"].startswith(result.plan.erasure_id)
    assert_no_trace(env)


def test_erase_refuses_a_table_that_moved_since_the_plan(local_lake: LakeEnv, tmp_path: Path) -> None:
    """A plan applied after another write fails in one line; nothing is committed or left behind."""
    env = local_lake
    ingest(env, tmp_path, "a", rows(0, 10, True))
    preview = env.lake.erase(TABLE, WHERE, dry_run=True)
    ingest(env, tmp_path, "b", rows(100, 10, True))
    before = env.lake.table(TABLE).metadata_location
    files = set(location_files(env))
    with pytest.raises(LakehouseError, match="changed since the erasure was planned"):
        env.lake.erase(TABLE, WHERE, plan=preview.plan)
    assert env.lake.table(TABLE).metadata_location == before
    assert set(location_files(env)) == files
    assert EMAIL in current_emails(env)


def test_erase_partitioned_table_text_output_and_failed_write_leftovers(
    local_lake: LakeEnv, run_cli, tmp_path: Path
) -> None:
    """Rewritten files stay in their partition; a failed write's unreferenced file holding the value is
    deleted too; the text preview names snapshots, refs and files but never the value."""
    env = local_lake
    data = [{**r, "country": "DE" if r["id"] % 2 else "FR"} for r in rows(0, 20, True)]
    env.lake.ingest(TABLE, str(write_jsonl(tmp_path / "p.jsonl", data)), create=True, partition_by="country")
    env.lake.tag(TABLE, "v1")
    ingest(env, tmp_path, "more", [{**r, "country": "US"} for r in rows(100, 5, False)])
    victim = next(
        p for p, c in location_files(env).items() if p.endswith(".parquet") and EMAIL in emails_in(c)
    )
    leftover = Path(victim.removeprefix("file://")).with_name("0123456789abcdef-leftover.parquet")
    leftover.write_bytes(location_files(env)[victim])  # as a killed write would leave it

    preview = run_cli(env, "erase", TABLE, "--where", WHERE, "--dry-run")
    assert preview.exit_code == 0, preview.output
    assert "would erase 1 matching rows" in preview.output and "[v1]" in preview.output
    assert "would be re-created" in preview.output and EMAIL not in preview.output
    refused = run_cli(env, "erase", TABLE, "--where", WHERE)  # no terminal, no --yes
    assert refused.exit_code == 1 and "pass --yes" in refused.output

    done = run_cli(env, "erase", TABLE, "--where", WHERE, "--yes")
    assert done.exit_code == 0 and "erased 1 matching rows" in done.output and EMAIL not in done.output
    assert not leftover.exists()
    table = env.lake.table(TABLE)
    for task in table.scan().plan_files():
        folder = task.file.file_path.rsplit("/", 2)[-2]
        assert folder == f"country={task.file.partition[0]}"
    assert sorted(set(table.scan().to_arrow().column("country").to_pylist())) == ["DE", "FR", "US"]
    assert len(current_emails(env)) == 25 and len(current_emails(env, "v1")) == 20
    assert_no_trace(env)


def test_erase_after_schema_evolution_keeps_each_snapshot_schema(local_lake: LakeEnv, tmp_path: Path) -> None:
    """A tag taken before a rename, a drop and an add: its re-created snapshot keeps its own schema and
    its dropped column's values; the predicate uses today's names, as the table reads now."""
    env = local_lake
    ingest(env, tmp_path, "a", rows(0, 10, True))
    env.lake.tag(TABLE, "v1")
    old_schema = env.lake.table(TABLE).schema().schema_id
    with env.lake.table(TABLE).update_schema() as update:
        update.rename_column("email", "contact")
        update.delete_column("amount")
        update.add_column("note", StringType())
    data = [{"id": 500 + i, "contact": EMAIL if i == 0 else f"n{i}@ok.test", "note": "x"} for i in range(5)]
    env.lake.ingest(TABLE, str(write_jsonl(tmp_path / "b.jsonl", data)))

    env.lake.erase(TABLE, f"contact = '{EMAIL}'")
    table = env.lake.table(TABLE)
    tagged = table.snapshot_by_name("v1")
    assert tagged is not None and tagged.schema_id == old_schema
    old = env.lake.query(f"SELECT * FROM {TABLE} ORDER BY id", as_of="v1")
    assert old.column_names == ["id", "email", "amount"]
    assert old.num_rows == 10 and EMAIL not in old.column("email").to_pylist()
    assert old.column("amount").to_pylist() == [i * 1.5 for i in range(10)]  # the dropped column's values
    now = env.lake.query(f"SELECT * FROM {TABLE} ORDER BY id")
    assert now.column_names == ["id", "contact", "note"] and now.num_rows == 14
    assert EMAIL not in now.column("contact").to_pylist()
    assert_no_trace(env)


def test_delete_with_erase_history_is_lake_erase(local_lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    """`lake delete --erase-history` takes the same path as `lake erase`: the tag loses the row too, and
    no file keeps it; a plain `lake delete` would leave it readable through the tag."""
    env = local_lake
    ingest(env, tmp_path, "a", rows(0, 20, True))
    env.lake.tag(TABLE, "v1")
    ingest(env, tmp_path, "b", rows(100, 20, False))
    preview = cli_json(
        run_cli(env, "delete", TABLE, "--where", WHERE, "--erase-history", "--dry-run", "--json")
    )
    assert preview["dry_run"] and preview["matching_rows"] == 1
    done = cli_json(run_cli(env, "delete", TABLE, "--where", WHERE, "--erase-history", "--yes", "--json"))
    assert not done["dry_run"] and EMAIL not in json.dumps(done)
    assert EMAIL not in current_emails(env, "v1") and EMAIL not in current_emails(env)
    assert len(current_emails(env)) == 40
    assert_no_trace(env)
    result = env.lake.delete(TABLE, "id = 5", erase_history=True)
    assert (
        EMAIL not in json.dumps(result.to_dict()) and 5 not in env.lake.read(TABLE).column("id").to_pylist()
    )
