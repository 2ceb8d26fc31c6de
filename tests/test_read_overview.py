"""`lake describe` and `lake files` read without pyiceberg must say exactly what pyiceberg's view says."""

from __future__ import annotations

import pytest
from conftest import events, write_jsonl

from lakehouse.read import overview
from lakehouse.table import tables
from lakehouse.testing import LakeEnv

SPECS = ["day(ts),country", "month(ts)", "year(ts)", "hour(ts)", "bucket(4, user_id)", "truncate(2, country)",
         "user_id", "", "identity(amount)"]  # fmt: skip


@pytest.mark.parametrize("spec", SPECS)
def test_describe_and_files_match_pyiceberg(local_lake: LakeEnv, spec: str) -> None:
    lake = local_lake.lake
    name = "s.t"
    path = write_jsonl(
        local_lake.root / "in.jsonl",
        events(30, days=40) + [{**events(1)[0], "id": 99, "ts": "1969-12-31T23:00:00Z"}],
    )
    lake.ingest(
        name, [str(path)], create=True, partition_by=spec.replace("identity(amount)", "amount") or None
    )
    lake.add_column(name, "note", "string")
    table = lake.table(name)
    meta, snapshot = lake.reader.at(name, None)
    light = overview.describe(meta, name, snapshot, lake.reader.plan_of(meta, snapshot), time_travel=False)
    # a double's text is pyiceberg's to give: that one falls back to it
    assert (light is None) == (spec == "identity(amount)")
    assert lake.describe(name) == tables.describe(table, name, table.current_snapshot())
    assert lake.files(name) == tables.snapshot_files(table, table.current_snapshot())
    first = table.history()[0].snapshot_id
    old = table.snapshot_by_id(first)
    assert lake.describe(name, as_of=first) == tables.describe(table, name, old, time_travel=True)
