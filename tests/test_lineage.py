"""Table DAG and column lineage of the example project, in text, JSON and mermaid."""

from __future__ import annotations

import json
from pathlib import Path

from lakehouse.elt.lineage import build_lineage
from lakehouse.elt.project import Project

REPO_SQL = Path(__file__).resolve().parent.parent / "sql"


def test_table_dag():
    lin = build_lineage(Project.load(REPO_SQL))
    assert ("bronze.events", "silver.events") in lin.edges
    assert ("gold.user_features", "gold.training_set") in lin.edges
    assert {n["name"]: n["kind"] for n in lin.nodes}["bronze.labels"] == "source"
    mermaid = lin.to_mermaid()
    assert mermaid.startswith("graph LR") and "silver_events --> gold_user_features" in mermaid


def test_column_lineage_chains_to_bronze():
    lin = build_lineage(Project.load(REPO_SQL), "gold.user_features", columns=True)
    assert lin.errors == {}
    assert "silver.events.amount" in lin.columns["gold.user_features.total_spend"]
    assert lin.columns["silver.events.amount"] == ["bronze.events.amount"]
    assert "gold.user_features.total_spend <- silver.events.amount <- bronze.events.amount" in lin.to_text()
    assert "silver.labels" not in {n["name"] for n in lin.nodes}  # not up- or downstream of the model


def test_lineage_cli_json(local_lake, run_cli):
    out = run_cli(local_lake, "lineage", "--project", str(REPO_SQL), "--columns", "--format", "json")
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["columns"]["gold.training_set.features_at"] == ["gold.user_features.available_at"]
