"""Every (type, transform): ingest, append, compact, rewrite-manifests (and in the wide sweep also
overwrite, tag, rollback, expire and gc), each state judged by every oracle."""

from __future__ import annotations

import re
from typing import Any

import pytest

from conformance.conftest import failures_text, run_steps
from conformance.values import REFUSED, SEEDS, TYPE_BY_NAME, WIDE, cases, partition_by, rows, table_schema
from lakehouse.errors import SchemaError

# the default run reads intermediate states with two readers and the final one with all five
ALL = ("pyiceberg", "duckdb", "polars", "strict", "lake", "lake-iceberg")
QUICK = ("pyiceberg", "strict")
# manifest merging on, from two manifests: the append commit rewrites the first ingest's manifest
PROPS = {
    "lake.compact.allow-any-target": "true",
    "commit.manifest-merge.enabled": "true",
    "commit.manifest.min-count-to-merge": "2",
}


def _name(type_name: str, transform: str) -> str:
    return "conf.t_" + type_name + "_" + transform.replace("[", "").replace("]", "")


WAREHOUSES = ("local", "s3") if WIDE else ("local",)  # the default run has its S3 case in test_scenarios


@pytest.fixture(params=WAREHOUSES)
def lake_env(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    from lakehouse.testing import local_properties, make_lake_env, s3_properties

    if request.param == "local":
        return make_lake_env(tmp_path, local_properties(tmp_path))
    return make_lake_env(tmp_path, s3_properties(request.getfixturevalue("moto_s3").endpoint, tmp_path))


def _cases() -> list[Any]:
    from conformance.upstream import AFFECTS_LAKE, KNOWN_FAILING, KNOWN_FAILING_WIDE

    out = []
    for case in cases():
        known = KNOWN_FAILING.get(case) or (KNOWN_FAILING_WIDE.get(case) if WIDE else None)
        marks = [pytest.mark.xfail(strict=True, reason=AFFECTS_LAKE[known][0])] if known else []
        out.append(pytest.param(*case, marks=marks))
    return out


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("type_name", "transform"), _cases())
def test_type_transform(
    lake_env: Any, subject_factory: Any, type_name: str, transform: str, seed: int
) -> None:
    ctype = TYPE_BY_NAME[type_name]
    lake, name = lake_env.lake, _name(type_name, transform)
    if type_name in REFUSED:  # refused by design, in one line, with nothing created
        with pytest.raises(SchemaError, match=re.escape(REFUSED[type_name])):
            lake.create(name, table_schema(ctype), partition_by=partition_by(transform), properties=PROPS)
        assert name not in lake.tables()
        return
    lake.create(name, table_schema(ctype), partition_by=partition_by(transform), properties=PROPS)
    s = subject_factory(lake_env, name, type_name, transform)
    n = len(rows(ctype, seed, 0))
    wide = {"filters": True, "readers": ALL} if WIDE else {"filters": False, "readers": QUICK}

    def compact() -> None:
        result = lake.compact(name, target_size="1MB", min_size="512KB", max_size="2MB", min_input_files=2)
        assert result.snapshot_id is not None, "compaction found nothing to rewrite: the case tests nothing"

    steps: list[tuple[str, Any, dict[str, Any]]] = [
        ("ingest", lambda: s.ingest(rows(ctype, seed, 0)), {"snapshot_op": "append", **wide}),
        # manifest merging is on: this append rewrites the first ingest's manifest
        ("append", lambda: s.ingest(rows(ctype, seed, n)), {"snapshot_op": "append", **wide}),
        ("compact", compact, {"snapshot_op": "replace", **wide}),
        ("rewrite-manifests", lambda: lake.rewrite_manifests(name), {}),
    ]
    if WIDE:
        steps += _wide_steps(s, ctype, seed, n)
    failures = run_steps(s, steps)
    assert not failures, failures_text(failures)


def _wide_steps(s: Any, ctype: Any, seed: int, n: int) -> list[tuple[str, Any, dict[str, Any]]]:
    from conformance import oracles

    lake, name = s.env.lake, s.name
    tagged: dict[int, Any] = {}

    def tag() -> None:
        lake.tag(name, "before-overwrite")
        tagged.update(s.model)

    def rollback() -> None:
        lake.rollback(name, "before-overwrite")
        s.model = dict(tagged)

    return [
        ("tag", tag, {"filters": False}),
        (
            "overwrite",
            lambda: s.ingest(rows(ctype, seed + 100, 10 * n), mode="overwrite"),
            {"snapshot_op": "overwrite"},
        ),
        ("rollback", rollback, {}),
        ("expire", lambda: lake.expire(name, older_than="0s", retain_last=1), {"filters": False}),
        ("gc", lambda: None, {"filters": False, "extra_fn": lambda: {"gc": oracles.check_gc(s.env, name)}}),
    ]
