from pathlib import Path

from conftest import cli_json, events, write_jsonl


def test_ingest_and_query_on_s3(s3_lake, run_cli, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "raw" / "events.jsonl", events(200))
    out = cli_json(
        run_cli(
            s3_lake,
            "ingest",
            "bronze.events",
            str(src),
            "--create",
            "--partition-by",
            "day(ts), country",
            "--json",
        )
    )
    assert out["rows"] == 200
    result = cli_json(run_cli(s3_lake, "query", "SELECT count(*) AS n FROM bronze.events", "--json"))
    assert result["rows"] == [{"n": 200}]
