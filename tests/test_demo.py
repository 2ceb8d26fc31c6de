"""The demo's library part, small-scale, on moto S3: generate, ingest, run, query, pin."""

from __future__ import annotations

from lakehouse.demo import run_demo


def test_demo_end_to_end_on_s3(s3_lake, tmp_path):
    lines: list[str] = []
    done = run_demo(s3_lake.lake, tmp_path / "demo", rows=3000, say=lines.append)
    assert done["run"].ok
    assert [m.model for m in done["run"].models] == [
        "silver.events", "gold.user_features", "silver.labels", "gold.training_set",
    ]  # fmt: skip
    cleaning = done["answers"]["bronze -> silver: what cleaning removed"].to_pylist()[0]
    assert cleaning["duplicate_rows"] > 0 and cleaning["negative_amounts_clipped"] > 0
    assert cleaning["silver_rows"] < cleaning["bronze_rows"]
    leaks = done["answers"]["training set: point-in-time features per label"].to_pylist()[0]
    assert leaks["future_leaks"] == 0 and leaks["labels"] > 0
    assert done["pin"].pins[0].table == "gold.training_set"
    assert any("ingested" in line and "bronze.events" in line for line in lines)
    assert s3_lake.lake.table("silver.events").location().startswith("s3://")
    # after the pin a shifted day arrives: diff reports its labels as added rows, drift the features
    pinned = done["pin"].pins[0].snapshot_id
    diff, drift = done["diff"], done["drift"]
    assert diff.from_snapshot_id == pinned and diff.rows_removed == 0
    new_labels = (
        s3_lake.lake.query(
            f"SELECT (SELECT count(*) FROM gold.training_set) - (SELECT count(*) FROM gold.training_set FOR VERSION AS OF '{pinned}') AS n"
        )
        .column("n")[0]
        .as_py()
    )
    assert diff.rows_added == new_labels > 0
    assert drift.reference.snapshot_id == pinned and {"num_events", "total_spend"} <= set(
        drift.drifted_columns
    )
    assert "user_id" not in drift.drifted_columns  # the same users: no drift where there is none
    assert any(line.startswith("lake drift gold.training_set") and "num_events" in line for line in lines)
