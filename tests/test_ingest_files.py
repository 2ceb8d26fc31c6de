"""Files an ingest writes per partition: one per partition touched (issue 14: an ingest wrote 601 files
into 360 partitions, because DuckDB keeps only 100 partition files open), and the summary says so."""

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from conftest import cli_json

from lakehouse.testing import LakeEnv, local_properties, make_lake_env


def _source(path: Path, rows: int, partitions: int) -> Path:
    ids = pa.array(range(rows), pa.int64())
    part = pa.array([i % partitions for i in range(rows)], pa.int32())
    pq.write_table(pa.table({"id": ids, "part": part, "v": pa.array([float(i) for i in range(rows)])}), path)
    return path


def test_one_file_per_partition_and_the_summary_counts_them(tmp_path: Path, run_cli) -> None:
    # a small flush threshold and two threads: rows of every partition arrive in many flushes
    props = {**local_properties(tmp_path), "lake.duckdb.memory-limit": "256MB", "lake.duckdb.threads": "2"}
    env = make_lake_env(tmp_path, props)
    src = _source(tmp_path / "src.parquet", 1_500_000, 360)
    out = cli_json(run_cli(env, "ingest", "s.t", str(src), "--create", "--partition-by", "part", "--json"))
    assert out["partitions"] == 360 and out["files"] == 360 and out["max_files_per_partition"] == 1
    assert out["files_per_partition"]["part=7"] == 1 and len(out["files_per_partition"]) == 360
    # the state agrees: 360 live data files, one in each partition folder
    files = env.lake.files("s.t")
    assert len(files) == 360 and len({f["path"].rsplit("/", 1)[0] for f in files}) == 360
    res = run_cli(env, "ingest", "s.t", str(src))
    assert res.exit_code == 0, res.output
    assert ": 360 files in 360 partitions (one per partition), " in res.stdout


def test_unpartitioned_ingest_reports_no_partitions(local_lake: LakeEnv, run_cli, tmp_path: Path) -> None:
    src = _source(tmp_path / "src.parquet", 1000, 3)
    out = cli_json(run_cli(local_lake, "ingest", "s.u", str(src), "--create", "--json"))
    assert out["partitions"] == 0 and out["files_per_partition"] == {} and out["files"] == 1
    assert "partitions" not in run_cli(local_lake, "ingest", "s.u", str(src)).stdout


def test_one_file_per_partition_on_s3(moto_s3, tmp_path: Path, run_cli) -> None:
    """Hundreds of open S3 uploads at once stay within the engine's memory limit."""
    from lakehouse.testing import s3_properties

    props = {**s3_properties(moto_s3.endpoint, tmp_path), "lake.duckdb.memory-limit": "512MB"}
    env = make_lake_env(tmp_path, props)
    src = _source(tmp_path / "src.parquet", 600_000, 360)
    out = cli_json(run_cli(env, "ingest", "s.t", str(src), "--create", "--partition-by", "part", "--json"))
    assert out["files"] == 360 and out["max_files_per_partition"] == 1
    assert env.lake.query("SELECT count(*) AS n FROM s.t").to_pylist() == [{"n": 600_000}]
