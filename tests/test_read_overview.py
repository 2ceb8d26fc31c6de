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
    light = overview.table_files(meta, lake.reader.plan_of(meta, snapshot))
    # a double's text is pyiceberg's to give: that one falls back to it
    assert (light is None) == (spec == "identity(amount)")
    files, counts = tables.files_and_counts(table, table.current_snapshot())
    assert lake.files(name) == files
    described = lake.describe(name)
    assert (
        (described["rows"], described["data_files"]) == (counts.rows, counts.data_files) == (31, len(files))
    )
    assert described["data_bytes"] == sum(f["bytes"] for f in files)
    # the schema and spec as pyiceberg prints them
    assert [(c["name"], c["type"]) for c in described["schema"]] == [
        (f.name, str(f.field_type)) for f in table.schema().fields
    ]
    assert described["partition_spec"] == [_spec(f, table) for f in table.spec().fields]
    first = table.history()[0].snapshot_id
    old = lake.describe(name, as_of=first)
    assert [c["name"] for c in old["schema"]] == [c["name"] for c in described["schema"]][
        :-1
    ]  # before `note`


def _spec(field, table) -> str:  # type: ignore[no-untyped-def]
    from pyiceberg.transforms import BucketTransform, IdentityTransform, TruncateTransform

    column = table.schema().find_column_name(field.source_id)
    if isinstance(field.transform, IdentityTransform):
        return str(column)
    if isinstance(field.transform, BucketTransform):
        return f"bucket({field.transform.num_buckets}, {column})"
    if isinstance(field.transform, TruncateTransform):
        return f"truncate({field.transform.width}, {column})"
    return f"{field.transform}({column})"
