"""`lake drift` / `Lakehouse.drift`: the statistics checked against reference implementations on the
same data (scipy.stats.ks_2samp, and a textbook PSI over the bins the result reports), drift found
where it is and not where it is not, schema drift, two tables, the CLI's exit codes, and the `drift`
check stopping write-audit-publish."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import cli_json, one_line_error, write_project
from scipy import stats as scipy_stats

from lakehouse.read.drift.result import Thresholds
from lakehouse.testing import LakeEnv

N = 2000
TABLE = "s.features"


def _sample(
    seed: int, *, shift: float = 0.0, cats: tuple[str, ...] = ("a", "b", "c"), n: int = N
) -> pa.Table:
    rng = np.random.default_rng(seed)
    amount = rng.normal(10 + shift, 2, n)
    amount[:7] = np.nan  # NaN is missing, like NULL
    clicks = rng.poisson(3 + shift, n)  # ties: KS over repeated values
    country = rng.choice(list(cats), n, p=None)
    ts = np.datetime64("2026-01-01") + rng.integers(0, 30 * 86400, n).astype("timedelta64[s]")
    return pa.table(
        {
            "amount": pa.array(amount),
            "clicks": pa.array(clicks, pa.int64()),
            "country": pa.array(country, mask=np.arange(n) < 11),  # 11 NULLs
            "ts": pa.array(ts.astype("datetime64[us]")),
        }
    )


def _load(env: LakeEnv, tmp_path: Path, *tables: pa.Table, name: str = TABLE) -> list[int]:
    ids = []
    for i, table in enumerate(tables):
        path = tmp_path / f"{name}-{i}.parquet"
        pq.write_table(table, path)
        got = env.lake.ingest(name, str(path), create=i == 0, mode="append" if i == 0 else "overwrite")
        ids.append(got.snapshot_id)
    return ids


def _clean(values: Any) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    return arr[np.isfinite(arr)]


def _textbook_psi(ref: list[int], cur: list[int], eps: float = 1e-4) -> float:
    r = np.maximum(np.asarray(ref) / sum(ref), eps)
    c = np.maximum(np.asarray(cur) / sum(cur), eps)
    return float(np.sum((c - r) * np.log(c / r)))


def _numpy_counts(values: np.ndarray, edges: list[float]) -> list[int]:
    """Counts per (lower, upper] bin, as numpy sees them: an independent count of the same bins."""
    index = np.searchsorted(np.asarray(edges), values, side="left")
    return np.bincount(index, minlength=len(edges) + 1).tolist()


def test_statistics_match_scipy_and_a_textbook_psi(local_lake: LakeEnv, tmp_path: Path) -> None:
    before, after = _sample(1), _sample(2, shift=2.0, cats=("a", "b", "d"))
    old, new = _load(local_lake, tmp_path, before, after)
    result = local_lake.lake.drift(TABLE, old, new)
    cols = {c.column: c for c in result.columns}
    for name in ("amount", "clicks"):
        a, b = (
            _clean(before[name].to_numpy(zero_copy_only=False)),
            _clean(after[name].to_numpy(zero_copy_only=False)),
        )
        col = cols[name]
        expected = scipy_stats.ks_2samp(a, b, method="asymp")
        assert col.ks == pytest.approx(expected.statistic, abs=1e-12)  # exact below EXACT_ROWS
        en = len(a) * len(b) / (len(a) + len(b))
        assert col.ks_pvalue == pytest.approx(
            scipy_stats.kstwobign.sf(math.sqrt(en) * col.ks), rel=1e-9, abs=1e-300
        )
        # scipy's asymp mode uses kstwo at round(n_eff): the same to a few digits
        assert math.log10(max(col.ks_pvalue, 1e-300)) == pytest.approx(
            math.log10(max(expected.pvalue, 1e-300)), rel=0.05
        )
        edges = [b.upper for b in col.bins[:-1]]
        assert [b.reference for b in col.bins] == _numpy_counts(a, edges)
        assert [b.current for b in col.bins] == _numpy_counts(b, edges)
        assert col.psi == pytest.approx(
            _textbook_psi(_numpy_counts(a, edges), _numpy_counts(b, edges)), rel=1e-9
        )
        assert col.reference.mean == pytest.approx(a.mean()) and col.current.std == pytest.approx(
            b.std(ddof=1)
        )
        assert col.drifted and any("psi" in r for r in col.reasons)
    assert cols["amount"].reference.nulls == 7 and cols["amount"].reference.null_rate == pytest.approx(7 / N)
    country = cols["country"]
    assert country.kind == "categorical" and country.reference.nulls == 11
    assert country.new_categories == ("d",) and country.vanished_categories == ("c",)
    ref_counts = {b.label: b.reference for b in country.bins}
    assert sum(ref_counts.values()) == N - 11
    assert country.psi == pytest.approx(
        _textbook_psi([b.reference for b in country.bins], [b.current for b in country.bins]), rel=1e-9
    )
    assert country.drifted
    ts = cols["ts"]
    assert ts.kind == "temporal" and not ts.drifted and ts.reference.min.startswith("2026-01")
    assert ts.histogram and sum(b.reference for b in ts.histogram) == N
    assert sum(b.current for b in cols["amount"].histogram) == N - 7
    assert set(result.drifted_columns) == {"amount", "clicks", "country"}


def test_a_resample_of_the_same_distribution_is_not_drift(local_lake: LakeEnv, tmp_path: Path) -> None:
    old, new = _load(local_lake, tmp_path, _sample(3), _sample(4))
    result = local_lake.lake.drift(TABLE, old, new)
    assert not result.drifted, [(c.column, c.reasons) for c in result.columns]
    assert all(c.psi is None or c.psi < 0.05 for c in result.columns)


def test_a_small_shift_is_found_by_ks_before_psi(local_lake: LakeEnv, tmp_path: Path) -> None:
    old, new = _load(local_lake, tmp_path, _sample(5, n=20_000), _sample(6, shift=0.15, n=20_000))
    cols = {c.column: c for c in local_lake.lake.drift(TABLE, old, new).columns}
    amount = cols["amount"]
    assert (
        amount.psi is not None
        and amount.psi < 0.2
        and amount.ks_pvalue is not None
        and amount.ks_pvalue < 0.05
    )
    assert amount.reasons == (f"ks p {amount.ks_pvalue:.3g} < 0.05",)
    off = local_lake.lake.drift(TABLE, old, new, thresholds=Thresholds(psi=0.2, ks=None))
    assert "amount" not in off.drifted_columns


def test_schema_drift_rename_is_matched_and_a_drop_is_drift(local_lake: LakeEnv, tmp_path: Path) -> None:
    (old,) = _load(local_lake, tmp_path, _sample(7))
    local_lake.lake.rename_column(TABLE, "amount", "spend")
    local_lake.lake.drop_column(TABLE, "clicks")
    result = local_lake.lake.drift(TABLE, old)
    kinds = {(c.kind, c.column) for c in result.schema_changes}
    assert ("renamed", "spend") in kinds and ("dropped", "clicks") in kinds
    spend = next(c for c in result.columns if c.column == "spend")
    assert spend.ks == 0.0 and not spend.drifted  # the same values, matched by field id
    assert result.drifted_columns == ["clicks"]


def test_two_tables_compared_by_name(local_lake: LakeEnv, tmp_path: Path) -> None:
    _load(local_lake, tmp_path, _sample(8))
    _load(local_lake, tmp_path, _sample(9, shift=2.0), name="s.serving")
    result = local_lake.lake.drift(TABLE, None, against="s.serving", columns="amount,country")
    assert [c.column for c in result.columns] == ["amount", "country"]
    assert result.current.table == "s.serving" and "amount" in result.drifted_columns


def test_cli_exit_codes_json_and_thresholds(local_lake: LakeEnv, run_cli: Any, tmp_path: Path) -> None:
    old, new = _load(local_lake, tmp_path, _sample(10), _sample(11, shift=1.0))
    same = run_cli(local_lake, "drift", TABLE, "--from", str(new), "--to", str(new))
    assert same.exit_code == 0 and same.stdout.splitlines()[-1].startswith("no drift beyond the thresholds")
    moved = run_cli(local_lake, "drift", TABLE, "--from", str(old))
    line = one_line_error(moved)
    assert line.startswith("Error: drift in ") and "amount" in line and "clicks" in line
    assert "numeric:" in moved.stdout and "amount" in moved.stdout
    doc = json.loads(run_cli(local_lake, "drift", TABLE, "--from", str(old), "--json").stdout)
    assert doc["drifted"] and doc["reference"]["snapshot_id"] == str(old)
    assert {c["column"] for c in doc["columns"]} == {"amount", "clicks", "country", "ts"}
    relaxed = run_cli(local_lake, "drift", TABLE, "--from", str(old), "--threshold", "psi=off,ks=off")
    assert relaxed.exit_code == 0, relaxed.output
    for bad in ("psi", "psi=x", "foo=1"):
        got = run_cli(local_lake, "drift", TABLE, "--from", str(old), "--threshold", bad)
        assert got.exit_code == 2 and "--threshold" in got.stderr
    missing = run_cli(local_lake, "drift", TABLE, "--from", "no-such-tag")
    assert "no-such-tag" in one_line_error(missing)
    assert run_cli(local_lake, "drift", TABLE).exit_code == 2  # neither --from nor --against


def test_from_a_pin_file(local_lake: LakeEnv, run_cli: Any, tmp_path: Path) -> None:
    _load(local_lake, tmp_path, _sample(12))
    lock = tmp_path / "training.lock"
    local_lake.lake.pin([TABLE], lock)
    path = tmp_path / "more.parquet"
    pq.write_table(_sample(13, shift=3.0), path)
    local_lake.lake.ingest(TABLE, str(path), mode="append")
    doc = json.loads(run_cli(local_lake, "drift", TABLE, "--from", f"@{lock}", "--json").stdout)
    (pinned,) = json.loads(lock.read_text())["tables"]
    assert doc["reference"]["snapshot_id"] == pinned["snapshot_id"] and doc["reference"]["ref"] == f"@{lock}"
    assert (
        doc["reference"]["rows"] == N
        and doc["current"]["rows"] == 2 * N
        and "amount" in doc["drifted_columns"]
    )


def _model_project(tmp_path: Path, severity: str | None) -> Path:
    check = {"drift": {"column": "amount", "against": "tag:train", "psi_max": 0.2}, "severity": severity}
    config = f"{{{{ config(checks=[{check!r}]) }}}}\n" if severity else ""
    return write_project(tmp_path, {"gold.features": config + "SELECT amount, country FROM bronze.events"})


@pytest.mark.parametrize("severity", ["error", "warn"])
def test_a_drift_check_in_a_model(local_lake: LakeEnv, tmp_path: Path, severity: str) -> None:
    env = local_lake
    _load(env, tmp_path, _sample(14), name="bronze.events")
    assert env.lake.run(_model_project(tmp_path, None)).ok
    env.lake.tag("gold.features", "train")  # the reference the check compares with
    root = _model_project(tmp_path, severity)
    published = env.lake.table("gold.features").current_snapshot().snapshot_id
    path = tmp_path / "shifted.parquet"
    pq.write_table(_sample(15, shift=3.0), path)
    env.lake.ingest("bronze.events", str(path), mode="overwrite")
    result = env.lake.run(root)
    check = next(c for m in result.models for c in m.checks if c.kind == "drift")
    assert not check.passed and check.failing_rows == 1 and check.sample[0]["psi"] > 0.2, check.to_dict()
    now = env.lake.table("gold.features").current_snapshot().snapshot_id
    if severity == "error":
        assert not result.ok and now == published  # write-audit-publish: nothing published
    else:
        assert result.ok and now != published
    # `lake test` runs it on the published table: the tagged one passes (PSI against itself is 0)
    (tested,) = [c for c in env.lake.test(root) if c.kind == "drift"]
    assert tested.passed == (severity == "error"), tested.to_dict()


def test_drift_check_spec_errors(local_lake: LakeEnv, tmp_path: Path) -> None:
    from lakehouse.elt.checks import CheckSpecError, parse_checks

    with pytest.raises(CheckSpecError, match="drift needs against"):
        parse_checks("gold.x", [{"drift": {"column": "a"}}])
    with pytest.raises(CheckSpecError, match="psi_max must be a number"):
        parse_checks("gold.x", [{"drift": {"column": "a", "against": "v1", "psi_max": "high"}}])
    (check,) = parse_checks("gold.x", [{"drift": {"column": "a", "against": "v1"}}])
    assert check.params["psi_max"] == 0.2 and check.name == "drift(a)"


def test_json_and_cli_read_the_same_result(local_lake: LakeEnv, tmp_path: Path) -> None:
    old, new = _load(local_lake, tmp_path, _sample(16), _sample(17, shift=1.0))
    from click.testing import CliRunner

    from lakehouse.cli import cli

    got = CliRunner().invoke(cli, [*local_lake.cli_args(), "drift", TABLE, "--from", str(old), "--json"])
    doc = json.loads(got.stdout)
    lib = local_lake.lake.drift(TABLE, old, new)
    assert doc["drifted_columns"] == lib.drifted_columns
    assert cli_json  # the shared helper is importable (used elsewhere)
