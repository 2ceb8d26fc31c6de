"""gc on tables other engines wrote: Spark (Hadoop) spells local paths `file:/x`, pyiceberg `file:///x`,
and writes a `.<name>.crc` beside every file. Nothing live may ever look like an orphan."""

import copy
import os
import time
from pathlib import Path
from urllib.parse import quote

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import cli_json, events, one_line_error, write_jsonl
from pyiceberg.io.pyarrow import parquet_file_to_data_file
from pyiceberg.manifest import DataFile
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.types import LongType, NestedField, StringType

from lakehouse.io.paths import canonical
from lakehouse.io.storage import list_files, local_path
from lakehouse.testing import LakeEnv, gc_orphans

SCHEMA = "id long, ts timestamptz, country string, amount double, user_id long"
DAYS = 4 * 86400


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/wh/t/data/a.parquet", "/wh/t/data/a.parquet"),
        ("file:/wh/t/data/a.parquet", "/wh/t/data/a.parquet"),  # Hadoop, so Spark
        ("file:///wh/t/data/a.parquet", "/wh/t/data/a.parquet"),  # pyiceberg
        ("file://localhost/wh/t/data/a.parquet", "/wh/t/data/a.parquet"),
        ("FILE:///wh//t/./data/a.parquet", "/wh/t/data/a.parquet"),
        ("file:///wh/t/data/x=a%20b/a.parquet", "/wh/t/data/x=a b/a.parquet"),
        ("s3a://bkt/wh/t/a.parquet", "s3://bkt/wh/t/a.parquet"),
        ("s3n://bkt/wh/t/a.parquet", "s3://bkt/wh/t/a.parquet"),
        ("s3://bkt/wh/t/x=%2F/a.parquet", "s3://bkt/wh/t/x=//a.parquet".replace("//a", "/a")),
        ("hdfs://nn/wh/t/a.parquet", None),
        ("gs://bkt/a.parquet", None),
        ("data/a.parquet", None),  # relative: we cannot tell where it is
        ("file:data/a.parquet", None),
        ("file://otherhost/wh/a.parquet", None),
    ],
)
def test_one_key_per_file_however_spelled(path: str, key: str | None):
    assert canonical(path) == key


def _spell(path: str, form: str) -> str:
    return form + str(local_path(path))


def _add_spelled(table: Table, files: list[Path], form: str) -> None:
    """Commit existing Parquet files (a fast append) with paths spelled `form<abs path>`, as Spark would."""
    data_files = []
    for f in files:
        data_file = parquet_file_to_data_file(table.io, table.metadata, str(f))
        data_file[1] = _spell(str(f), form)  # file_path
        data_files.append(data_file)
    _commit(table, data_files)


def _described(table: Table, path: str, spelled: str) -> DataFile:
    """The manifest entry of one of the table's files, for a copy of that file at `spelled`."""
    found = next(t.file for t in table.scan().plan_files() if t.file.file_path == path)
    data_file = copy.deepcopy(found)
    data_file[1] = spelled  # file_path
    return data_file


def _commit(table: Table, data_files: list[DataFile]) -> None:
    with table.transaction() as tx, tx.update_snapshot().fast_append() as append:
        for data_file in data_files:
            append.append_data_file(data_file)


def _write_parquet(path: Path, ids: range) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    schema = pa.schema(
        [
            pa.field("id", pa.int64(), metadata={"PARQUET:field_id": "1"}),
            pa.field("name", pa.string(), metadata={"PARQUET:field_id": "2"}),
        ]
    )
    pq.write_table(pa.table({"id": list(ids), "name": [f"n{i}" for i in ids]}, schema=schema), path)
    return path


def _hadoop_checksums(root: Path) -> None:
    """A `.<name>.crc` beside every file under root, as Hadoop's local file system writes them."""
    for f in [p for p in root.rglob("*") if p.is_file() and not p.name.endswith(".crc")]:
        (f.parent / f".{f.name}.crc").write_bytes(b"crc\x00")


def _age_everything(root: Path) -> None:
    old = time.time() - DAYS
    for f in root.rglob("*"):
        os.utime(f, (old, old))


def _spark_table(env: LakeEnv, name: str, location: str) -> Table:
    """A table as Spark's JDBC catalog leaves it: its location (so metadata.json, manifest lists and
    manifests) spelled `file:/...`."""
    catalog = env.lake.catalog
    namespace, table = name.split(".")
    catalog.create_namespace_if_not_exists(namespace)
    schema = Schema(NestedField(1, "id", LongType()), NestedField(2, "name", StringType()))
    return catalog.create_table(name, schema, location=location)


def test_gc_keeps_every_file_of_a_spark_spelled_table(local_lake: LakeEnv, run_cli, tmp_path):
    root = tmp_path / "warehouse" / "spark" / "t"
    table = _spark_table(local_lake, "spark.t", f"file:{root}")
    assert table.metadata_location.startswith("file:/") and not table.metadata_location.startswith("file://")
    _add_spelled(table, [_write_parquet(root / "data" / f"part-{i}.parquet", range(i * 10, i * 10 + 10))
                         for i in range(3)], "file:")  # fmt: skip
    table = local_lake.lake.table("spark.t")
    _add_spelled(table, [_write_parquet(root / "data" / "part-9.parquet", range(90, 95))], "file:")
    orphan = _write_parquet(root / "data" / "killed-write.parquet", range(3))
    (root / "metadata" / "version-hint.text").write_text("2")  # how a Hadoop catalog finds the metadata
    _hadoop_checksums(root)
    _age_everything(root)
    listed = {f.path for f in list_files(local_lake.profile, f"file:{root}")}
    assert len(listed) >= 20  # data, manifests, manifest lists, metadata.json and their checksums

    dry = cli_json(
        run_cli(local_lake, "gc", "spark.t", "--older-than", "0s", "--force", "--dry-run", "--json")
    )
    assert sorted(o["path"] for o in dry["orphans"]) == [
        str(orphan.parent / ".killed-write.parquet.crc"),
        str(orphan),
    ]
    assert gc_orphans(local_lake, "spark.t") == [o["path"] for o in dry["orphans"]]
    out = cli_json(run_cli(local_lake, "gc", "spark.t", "--older-than", "0s", "--force", "--json"))
    assert out["deleted_files"] == 2 and not orphan.exists()
    assert {f.path for f in list_files(local_lake.profile, f"file:{root}")} == listed - {
        str(orphan),
        str(orphan.parent / ".killed-write.parquet.crc"),
    }
    after = local_lake.lake.table("spark.t")
    assert sorted(after.scan().to_arrow()["id"].to_pylist()) == [*range(30), *range(90, 95)]
    assert gc_orphans(local_lake, "spark.t") == []


def test_gc_keeps_spark_appends_to_a_lake_table(local_lake: LakeEnv, run_cli, tmp_path):
    """Spark appending to a table lake made: its files are spelled `file:/`, lake's `file:///`."""
    lake = local_lake.lake
    lake.create("s.t", SCHEMA, partition_by="day(ts)")
    lake.ingest("s.t", str(write_jsonl(tmp_path / "a.jsonl", events(40))))
    table = lake.table("s.t")
    root = local_path(table.location())
    first = sorted(f["path"] for f in lake.files("s.t"))[0]
    ours = local_path(first)
    spark_file = ours.parent / "00000-1-spark.parquet"
    spark_file.write_bytes(ours.read_bytes())  # same schema, field ids and partition as lake's own file
    _commit(table, [_described(table, first, f"file:{spark_file}")])
    assert any(f["path"] == f"file:{spark_file}" for f in lake.files("s.t"))
    _hadoop_checksums(root)
    _age_everything(root)
    dry = cli_json(run_cli(local_lake, "gc", "s.t", "--older-than", "0s", "--force", "--dry-run", "--json"))
    assert dry["orphans"] == [] and dry["kept_recent_orphans"] == 0
    out = cli_json(run_cli(local_lake, "gc", "s.t", "--older-than", "0s", "--force", "--json"))
    assert out["deleted_files"] == 0 and spark_file.exists()
    extra = pq.read_metadata(ours).num_rows
    assert lake.query("SELECT count(*) AS n FROM s.t").to_pylist() == [{"n": 40 + extra}]
    assert len(lake.table("s.t").scan().to_arrow()) == 40 + extra


def test_gc_matches_percent_encoded_paths(local_lake: LakeEnv, run_cli, tmp_path):
    """A URI writer spells the file `x=a b/f.parquet` as `file:///.../x=a%20b/f.parquet`."""
    lake = local_lake.lake
    lake.create("s.t", SCHEMA)
    lake.ingest("s.t", str(write_jsonl(tmp_path / "a.jsonl", events(20))))
    table = lake.table("s.t")
    root = local_path(table.location())
    spaced = root / "data" / "x=a b" / "f.parquet"
    spaced.parent.mkdir()
    first = lake.files("s.t")[0]["path"]
    spaced.write_bytes(local_path(first).read_bytes())
    _commit(table, [_described(table, first, "file://" + quote(str(spaced)))])
    _age_everything(root)
    dry = cli_json(run_cli(local_lake, "gc", "s.t", "--older-than", "0s", "--force", "--dry-run", "--json"))
    assert dry["orphans"] == [] and spaced.exists()


@pytest.mark.parametrize(
    "foreign",
    ["hdfs://namenode/wh/t/data/a.parquet", "data/a.parquet", "s3://another-bucket/wh/t/a.parquet"],
)
def test_gc_refuses_a_table_whose_metadata_it_cannot_compare(local_lake: LakeEnv, run_cli, tmp_path, foreign):
    lake = local_lake.lake
    lake.create("s.t", SCHEMA)
    lake.ingest("s.t", str(write_jsonl(tmp_path / "a.jsonl", events(20))))
    table = lake.table("s.t")
    root = local_path(table.location())
    _commit(table, [_described(table, lake.files("s.t")[0]["path"], foreign)])
    orphan = root / "data" / "killed-write.parquet"
    orphan.write_bytes(b"PAR1 partial")
    _age_everything(root)
    before = {f.path for f in list_files(local_lake.profile, table.location())}
    for args in (["--dry-run", "--json"], ["--json"]):
        result = run_cli(local_lake, "gc", "s.t", "--older-than", "0s", "--force", *args)
        line = one_line_error(result)
        assert "s.t" in line and foreign in line and "nothing was deleted" in line
        assert result.stdout == ""
    assert {f.path for f in list_files(local_lake.profile, table.location())} == before


def test_gc_keeps_s3a_and_s3n_spelled_files(s3_lake: LakeEnv, run_cli, tmp_path):
    lake = s3_lake.lake
    lake.create("s.t", SCHEMA)
    lake.ingest("s.t", str(write_jsonl(tmp_path / "a.jsonl", events(20))))
    table = lake.table("s.t")
    ours = lake.files("s.t")[0]["path"]
    copies = []
    for scheme in ("s3a", "s3n"):
        copy = table.location() + f"/data/{scheme}-copy.parquet"
        with table.io.new_input(ours).open() as src, table.io.new_output(copy).create() as dst:
            dst.write(src.read())
        copies.append(_described(table, ours, scheme + copy[len("s3") :]))
    _commit(table, copies)
    orphan = table.location() + "/data/0123abcd-0.parquet"
    with table.io.new_output(orphan).create() as stream:
        stream.write(b"left behind by a killed ingest")
    dry = cli_json(run_cli(s3_lake, "gc", "s.t", "--older-than", "0s", "--force", "--dry-run", "--json"))
    assert [o["path"] for o in dry["orphans"]] == [orphan]
    out = cli_json(run_cli(s3_lake, "gc", "s.t", "--older-than", "0s", "--force", "--json"))
    assert out["deleted_files"] == 1 and gc_orphans(s3_lake, "s.t") == []
    assert lake.query("SELECT count(*) AS n FROM s.t").to_pylist() == [{"n": 60}]


def test_every_local_write_spells_paths_as_pyiceberg_does(local_lake: LakeEnv, tmp_path):
    """Defect 8b: ingest wrote `/x`, compaction `file:///x`; pyiceberg writes its table location's form."""
    lake = local_lake.lake
    lake.create("s.t", SCHEMA, partition_by="day(ts)", properties={"lake.compact.allow-any-target": "true"})
    lake.create("s.u", SCHEMA)
    for start in (0, 40, 80):
        lake.ingest("s.t", str(write_jsonl(tmp_path / f"{start}.jsonl", events(40, start=start))))
    lake.ingest("s.u", str(write_jsonl(tmp_path / "u.jsonl", events(40))))
    table = lake.table("s.t")
    table.append(table.scan(limit=3).to_arrow())  # pyiceberg's own write
    prefix = lake.table("s.t").location() + "/data/"
    assert prefix.startswith("file:///")
    pyiceberg_paths = [f["path"] for f in lake.files("s.t") if "-0-" in f["path"].rsplit("/", 1)[-1]]
    assert pyiceberg_paths and all(p.startswith(prefix) for p in pyiceberg_paths)
    assert all(f["path"].startswith(prefix) for f in lake.files("s.t"))
    assert all(f["path"].startswith(lake.table("s.u").location() + "/data/") for f in lake.files("s.u"))
    lake.compact("s.t", target_size="64KB")
    assert all(f["path"].startswith(prefix) for f in lake.files("s.t"))
    assert lake.query("SELECT count(*) AS n FROM s.t").to_pylist() == [{"n": 123}]
    assert gc_orphans(local_lake, "s.t") == [] and gc_orphans(local_lake, "s.u") == []


def test_gc_does_not_follow_a_symlinked_folder_out_of_the_location(local_lake: LakeEnv, run_cli, tmp_path):
    """A listing that followed links (pyarrow.fs's local listing does) would offer files outside
    the table, reached through the link, as orphans."""
    lake = local_lake.lake
    lake.create("s.t", SCHEMA)
    lake.ingest("s.t", str(write_jsonl(tmp_path / "a.jsonl", events(20))))
    root = local_path(lake.table("s.t").location())
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    kept = _write_parquet(outside / "keep.parquet", range(3))
    (root / "data" / "link").symlink_to(outside, target_is_directory=True)
    _age_everything(root)
    _age_everything(outside)
    out = cli_json(run_cli(local_lake, "gc", "s.t", "--older-than", "0s", "--force", "--json"))
    assert out["orphans"] == [] and kept.exists()


def test_gc_lists_s3_directory_markers(s3_lake: LakeEnv, run_cli, tmp_path):
    """Hadoop's S3A writes empty `folder/` marker objects; they are orphans like any unreferenced
    object (pyarrow.fs's S3 listing shows them as folders, so storage lists S3 with boto3)."""
    from lakehouse.io.storage import s3_client, split_s3

    lake = s3_lake.lake
    lake.create("s.t", SCHEMA)
    lake.ingest("s.t", str(write_jsonl(tmp_path / "a.jsonl", events(20))))
    marker = lake.table("s.t").location() + "/data/_temporary/"
    bucket, key = split_s3(marker)
    s3_client(s3_lake.profile).put_object(Bucket=bucket, Key=key, Body=b"")
    assert marker in {f.path for f in list_files(s3_lake.profile, lake.table("s.t").location())}
    dry = cli_json(run_cli(s3_lake, "gc", "s.t", "--older-than", "0s", "--force", "--dry-run", "--json"))
    assert [o["path"] for o in dry["orphans"]] == [marker]
