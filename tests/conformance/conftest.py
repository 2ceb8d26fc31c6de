"""The conformance suite's harness: a `Subject` table with a Python model of its rows, a `judge` that
runs every oracle on it, and the results table written to CONFORMANCE.md by `make conformance`.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conformance import oracles
from conformance.canon import Row, canon
from conformance.values import WIDE
from lakehouse.testing import LakeEnv

ALL_READERS = ("pyiceberg", "duckdb", "polars", "strict", "lake", "lake-iceberg")
# (type, transform, operation) -> {oracle: problems}
RESULTS: dict[tuple[str, str, str], dict[str, list[str]]] = {}
REPORT = Path(os.environ.get("LAKE_CONFORMANCE_REPORT", "CONFORMANCE.md"))


@dataclass
class Subject:
    """A table under test and the rows it must hold, as ingested (python values by column name)."""

    env: LakeEnv
    name: str
    type_name: str
    transform: str
    model: dict[int, dict[str, Any]] = field(default_factory=dict)
    batches: int = 0

    def write(self, data: pa.Table) -> str:
        self.batches += 1
        path = self.env.root / "sources" / f"{self.name}-{self.batches}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(data, path)
        return str(path)

    def ingest(self, data: pa.Table, mode: str = "append", **kwargs: Any) -> None:
        self.env.lake.ingest(self.name, self.write(data), mode=mode, **kwargs)
        if mode == "overwrite":
            self.model.clear()
        self.model.update({r["id"]: r for r in data.to_pylist()})

    def expected(self) -> list[Row]:
        schema = self.env.lake.table(self.name).schema()
        return [
            tuple(canon(row.get(f.name), f.field_type) for f in schema.fields) for row in self.model.values()
        ]

    def judge(
        self,
        operation: str,
        *,
        snapshot_op: str | None = None,
        filters: bool = True,
        readers: tuple[str, ...] = ALL_READERS,
        extra: dict[str, list[str]] | None = None,
        extra_fn: Any = None,
    ) -> dict[str, list[str]]:
        """Run the oracles, record them under (type, transform, operation), return the failures."""
        verdict: dict[str, list[str]] = {}
        for reader, problems in oracles.check_rows(self.env, self.name, self.expected(), readers).items():
            verdict[f"a_rows_{reader}"] = problems
        verdict.update(oracles.check_files(self.env, self.name))
        if filters:
            verdict.update(oracles.check_filters(self.env, self.name, self.model, 3 if not WIDE else 8))
        verdict["f_snapshots"] = oracles.check_snapshots(self.env, self.name, len(self.model), snapshot_op)
        verdict.update(extra or {})
        verdict.update(extra_fn() if extra_fn else {})
        RESULTS[(self.type_name, self.transform, operation)] = verdict
        return {k: v for k, v in verdict.items() if v}


def failures_text(failures: dict[str, dict[str, list[str]]]) -> str:
    return "\n".join(
        f"after {op}: {oracle}: {p}" for op, f in failures.items() for oracle, ps in f.items() for p in ps[:3]
    )


def run_steps(s: Any, steps: list[tuple[str, Any, dict[str, Any]]]) -> dict[str, dict[str, list[str]]]:
    """Run each step and judge the state after it; a step that raises is recorded and ends the run."""
    failures: dict[str, dict[str, list[str]]] = {}
    for label, step, judge in steps:
        try:
            step()
        except Exception as exc:
            failures[label] = {"operation": [f"{label} failed: {type(exc).__name__}: {str(exc)[:300]}"]}
            RESULTS[(s.type_name, s.transform, label)] = failures[label]
            break
        failures[label] = s.judge(label, **judge)
    return {k: v for k, v in failures.items() if v}


# The conformance tests that also run on a SeaweedFS REST catalog (its warehouse given by name, as
# Polaris and S3 Tables take it): a small subset, for `make test`'s time.
REST_SUBSET = (
    "test_every_type_in_one_table[rest]",
    "test_delete_update_merge_compact_erase[rest-k-merge-on-read]",
)


@pytest.fixture(params=["local", "s3", "rest"])
def any_lake(request: pytest.FixtureRequest, tmp_path: Path) -> LakeEnv:
    """lakehouse.testing's any_lake plus a REST variant (for the tests in REST_SUBSET only)."""
    from lakehouse.testing import local_properties, make_lake_env, rest_properties, s3_properties

    if request.param == "local":
        return make_lake_env(tmp_path, local_properties(tmp_path))
    if request.param == "rest":
        return make_lake_env(tmp_path, rest_properties(request.getfixturevalue("seaweed_rest")))
    return make_lake_env(tmp_path, s3_properties(request.getfixturevalue("moto_s3").endpoint, tmp_path))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep `[rest]` cases of the REST_SUBSET only (all of them with LAKE_TEST_REST=1)."""
    if os.environ.get("LAKE_TEST_REST"):
        return
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or callspec.params.get("any_lake") != "rest" or item.name in REST_SUBSET:
            keep.append(item)
        else:
            drop.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture
def subject_factory(tmp_path: Path) -> Iterator[Any]:
    made: list[Subject] = []

    def make(env: LakeEnv, name: str, type_name: str, transform: str) -> Subject:
        s = Subject(env, name, type_name, transform)
        made.append(s)
        return s

    yield make


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not RESULTS or not (WIDE or os.environ.get("LAKE_CONFORMANCE_REPORT")):
        return
    args = " ".join(session.config.invocation_params.args)
    REPORT.write_text(render(RESULTS, args))


def render(results: dict[tuple[str, str, str], dict[str, list[str]]], args: str = "") -> str:
    operations = sorted(
        {op for _, _, op in results}, key=lambda o: (OP_ORDER.index(o) if o in OP_ORDER else 99, o)
    )
    rows = sorted({(t, tr) for t, tr, _ in results})
    lines = [
        "# Conformance sweep",
        "",
        f"Written by the suite itself ({'wide sweep, `make conformance`' if WIDE else 'default run, LAKE_CONFORMANCE_REPORT set'}) "
        f"on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"Python {platform.python_version()}, `pytest {args}`. Each cell: `pass`, or the oracles that failed "
        "(a: rows by reader, b: partition tuples, c: folder names, d: bounds/counts, e: filtered scans, "
        "f: snapshots, paths: one path form, gc: orphan set, describe: lake's counts).",
        "",
        "| type | transform | " + " | ".join(operations) + " |",
        "|---|---|" + "---|" * len(operations),
    ]
    for t, tr in rows:
        cells = []
        for op in operations:
            verdict = results.get((t, tr, op))
            if verdict is None:
                cells.append("")
                continue
            failed = sorted(k for k, v in verdict.items() if v)
            cells.append("pass" if not failed else "FAIL " + ", ".join(failed))
        lines.append(f"| {t} | {tr} | " + " | ".join(cells) + " |")
    failures = [
        f"- {t} / {tr} / {op} / {k}: {v[0][:300]}"
        for (t, tr, op), verdict in sorted(results.items()) for k, v in sorted(verdict.items()) if v
    ]  # fmt: skip
    lines += [
        "",
        f"{len(results)} states judged, {sum(1 for v in results.values() if not any(v.values()))} passed.",
        "",
    ]
    if failures:
        lines += ["## First problem of each failing oracle", "", *failures, ""]
    from conformance.upstream import AFFECTS_LAKE, UPSTREAM

    lines += ["## Known upstream issues (worked around with another reader)", ""]
    lines += [f"- `{key}`: {text}" + (f" ({link})" if link else "") for key, (text, link) in UPSTREAM.items()]
    lines += ["", "## Upstream issues that reach lake's own results (not worked around)", ""]
    lines += [f"- `{key}`: {text} ({link})" for key, (text, link) in AFFECTS_LAKE.items()]
    return "\n".join(lines) + "\n"


OP_ORDER = [
    "ingest",
    "append",
    "compact",
    "rewrite-manifests",
    "overwrite",
    "rollback",
    "tag",
    "expire",
    "gc",
]
