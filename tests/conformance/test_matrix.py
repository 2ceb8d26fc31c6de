"""Every (type, transform): ingest, append, compact, rewrite-manifests (and in the wide sweep also
overwrite, tag, rollback, expire and gc), each state judged by every oracle."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.conftest import failures_text
from conformance.values import SEEDS, TYPE_BY_NAME, WIDE, cases, partition_by, rows, table_schema

# the default run reads intermediate states with two readers and the final one with all five
QUICK = ("pyiceberg", "duckdb", "polars", "strict", "lake") if WIDE else ("pyiceberg", "strict")
PROPS = {"lake.compact.allow-any-target": "true", "commit.manifest-merge.enabled": "false"}


def _name(type_name: str, transform: str) -> str:
    return "conf.t_" + type_name + "_" + transform.replace("[", "").replace("]", "")


WAREHOUSES = ("local", "s3") if WIDE else ("local",)  # the default run has its S3 case in test_scenarios


@pytest.fixture(params=WAREHOUSES)
def lake_env(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    from lakehouse.testing import local_properties, make_lake_env, s3_properties

    if request.param == "local":
        return make_lake_env(tmp_path, local_properties(tmp_path))
    return make_lake_env(tmp_path, s3_properties(request.getfixturevalue("moto_s3").endpoint, tmp_path))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("type_name", "transform"), cases())
def test_type_transform(lake_env: Any, subject_factory: Any, type_name: str, transform: str, seed: int) -> None:
    local_lake = lake_env
    ctype = TYPE_BY_NAME[type_name]
    lake = local_lake.lake
    name = _name(type_name, transform)
    lake.create(name, table_schema(ctype), partition_by=partition_by(transform), properties=PROPS)
    s = subject_factory(local_lake, name, type_name, transform)
    failures: dict[str, dict[str, list[str]]] = {}
    n = len(rows(ctype, seed, 0))
    s.ingest(rows(ctype, seed, 0))
    failures["ingest"] = s.judge("ingest", snapshot_op="append", filters=WIDE, readers=QUICK)
    s.ingest(rows(ctype, seed, n))
    if WIDE:
        failures["append"] = s.judge("append", snapshot_op="append")
    result = lake.compact(name, target_size="1MB", min_size="512KB", max_size="2MB", min_input_files=2)
    assert result.snapshot_id is not None, "compaction found nothing to rewrite: the case tests nothing"
    failures["compact"] = s.judge("compact", snapshot_op="replace", filters=WIDE, readers=QUICK)
    lake.rewrite_manifests(name)
    failures["rewrite-manifests"] = s.judge("rewrite-manifests")
    if WIDE:
        _wide_sequence(s, ctype, seed, n, failures)
    failures = {k: v for k, v in failures.items() if v}
    assert not failures, failures_text(failures)


def _wide_sequence(s: Any, ctype: Any, seed: int, n: int, failures: dict[str, Any]) -> None:
    from conformance import oracles

    lake, name = s.env.lake, s.name
    lake.tag(name, "before-overwrite")
    tagged = dict(s.model)
    s.ingest(rows(ctype, seed + 100, 10 * n), mode="overwrite")
    failures["overwrite"] = s.judge("overwrite", snapshot_op="overwrite")
    lake.rollback(name, "before-overwrite")
    s.model = tagged
    failures["rollback"] = s.judge("rollback")
    lake.expire(name, older_than="0s", retain_last=1)
    failures["expire"] = s.judge("expire", filters=False)
    failures["gc"] = s.judge("gc", filters=False, readers=("pyiceberg", "strict"), extra={"gc": oracles.check_gc(s.env, name)})
