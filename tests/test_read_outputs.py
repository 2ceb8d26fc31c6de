"""`Lakehouse.read(..., as_=...)` outputs and `order_by=` (issue 14)."""

import gc
import importlib.util
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from conftest import events, write_jsonl

from lakehouse.errors import LakehouseError
from lakehouse.testing import LakeEnv

HAS_PANDAS = importlib.util.find_spec("pandas") is not None


@pytest.fixture
def lake(local_lake: LakeEnv, tmp_path: Path) -> LakeEnv:
    local_lake.lake.create("s.t", "id long, ts timestamptz, country string, amount double, user_id long",
                           partition_by="country")  # fmt: skip
    local_lake.lake.ingest("s.t", str(write_jsonl(tmp_path / "a.jsonl", events(60))))
    local_lake.lake.ingest("s.t", str(write_jsonl(tmp_path / "b.jsonl", events(40, start=60))))
    return local_lake


def test_arrow_is_the_default(lake: LakeEnv) -> None:
    out = lake.lake.read("s.t", ["id"], order_by="id")
    assert isinstance(out, pa.Table) and out["id"].to_pylist() == list(range(100))


def test_order_by_sorts_reads_and_batches(lake: LakeEnv) -> None:
    first = lake.lake.read("s.t", order_by=["country", "id"])
    assert first.to_pylist() == sorted(first.to_pylist(), key=lambda r: (r["country"], r["id"]))
    assert first == lake.lake.read("s.t", order_by=["country", "id"])
    ids = [
        i for b in lake.lake.batches("s.t", ["id"], batch_size=7, order_by="id") for i in b["id"].to_pylist()
    ]
    assert ids == list(range(100))


def test_unknown_order_by_column_is_one_line(lake: LakeEnv) -> None:
    with pytest.raises(LakehouseError) as err:
        lake.lake.read("s.t", order_by=["id", "idd"])
    assert str(err.value) == (
        "order_by: s.t has no column 'idd'; its columns: id, ts, country, amount, user_id"
    )
    with pytest.raises(LakehouseError, match="has no column 'x'"):
        next(iter(lake.lake.batches("s.t", order_by="x")))


def test_polars(lake: LakeEnv) -> None:
    pl = pytest.importorskip("polars")
    out = lake.lake.read("s.t", ["id", "country"], where="id < 10", order_by="id", as_="polars")
    assert isinstance(out, pl.DataFrame) and out["id"].to_list() == list(range(10))


@pytest.mark.skipif(not HAS_PANDAS, reason="pandas is not installed (pip install 'lakehouse[pandas]')")
def test_pandas_and_to_pandas(lake: LakeEnv) -> None:
    import pandas as pd

    out = lake.lake.read("s.t", ["id"], order_by="id", as_="pandas")
    assert isinstance(out, pd.DataFrame) and out["id"].tolist() == list(range(100))
    assert lake.lake.read("s.t", ["id"], order_by="id").to_pandas()["id"].tolist() == list(range(100))


def test_pandas_missing_is_one_line_naming_the_extra(lake: LakeEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # `import pandas` fails as when it is not installed
    with pytest.raises(LakehouseError) as err:
        lake.lake.read("s.t", as_="pandas")
    assert (
        str(err.value) == "as_='pandas' needs pandas, which is not installed: pip install 'lakehouse[pandas]'"
    )


def test_duckdb_relation_outlives_the_lakehouse(local_lake: LakeEnv, tmp_path: Path) -> None:
    from lakehouse.lake import Lakehouse

    def read_and_forget() -> object:
        lk = Lakehouse(local_lake.profile)
        lk.create("s.t", "id long, country string")
        lk.ingest("s.t", str(write_jsonl(tmp_path / "a.jsonl", [{"id": i, "country": "US" if i % 4 else "DE"}
                                                                 for i in range(100)])))  # fmt: skip
        return lk.read("s.t", as_="duckdb")

    rel = read_and_forget()  # the Lakehouse and its engines are gone
    gc.collect()
    assert rel.aggregate("count(*), sum(id)").fetchall() == [(100, sum(range(100)))]
    assert rel.filter("country = 'DE'").count("*").fetchone()[0] == 25


def test_unknown_output_is_one_line(lake: LakeEnv) -> None:
    with pytest.raises(
        LakehouseError, match=r"unknown output as_='numpy'; use one of: arrow, pandas, polars, duckdb"
    ):
        lake.lake.read("s.t", as_="numpy")
