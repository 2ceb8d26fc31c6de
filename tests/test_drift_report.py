"""`lake drift --format html`: one self-contained page, rendered in a real headless Chromium (Debian's
`chromium`; `.ci/run` installs it): it loads nothing, raises no error, draws one plot per column with
both sides, puts the drifted columns first, and shows table data as text, never as markup."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from chromium import CHROMIUM, Page, png_colors
from conftest import one_line_error

from lakehouse.testing import LakeEnv

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium; .ci/run does)"
)
EVIL = "</script><img src=x onerror=alert(1)>"
REFERENCE, CURRENT = (0x25, 0x63, 0xEB), (0xF9, 0x73, 0x16)  # report.py's colours
WATCH = """window.lakeErrors = [];
addEventListener('error', e => lakeErrors.push(String(e.message)));
addEventListener('securitypolicyviolation', e => lakeErrors.push('blocked ' + e.blockedURI));
const lakeConsole = console.error; console.error = (...a) => { lakeErrors.push(a.join(' ')); lakeConsole(...a); };"""


def _report(env: LakeEnv, run_cli: Any, tmp_path: Path) -> Path:
    def table(seed: int, shift: float, cats: list[str]) -> pa.Table:
        rng = np.random.default_rng(seed)
        n = 1500
        return pa.table(
            {
                "steady": rng.normal(0, 1, n),
                "amount": rng.normal(10 + shift, 2, n),
                EVIL: rng.choice(cats, n),
                "ts": pa.array(
                    (
                        np.datetime64("2026-01-01") + rng.integers(0, 86400 * 9, n).astype("timedelta64[s]")
                    ).astype("datetime64[us]")
                ),
            }
        )

    for i, (seed, shift, cats) in enumerate(((1, 0.0, ["a", "b", EVIL]), (2, 3.0, ["a", "b", "c"]))):
        path = tmp_path / f"{i}.parquet"
        pq.write_table(table(seed, shift, cats), path)
        env.lake.ingest("s.t", str(path), create=i == 0, mode="overwrite")
        if i == 0:
            env.lake.tag("s.t", "v1")
    out = tmp_path / "drift.html"
    result = run_cli(env, "drift", "s.t", "--from", "v1", "--format", "html", "--output", str(out))
    assert one_line_error(result).startswith("Error: drift in 2 columns")
    assert result.stdout.startswith(f"wrote {out}")
    return out


def test_the_page_is_self_contained(local_lake: LakeEnv, run_cli: Any, tmp_path: Path) -> None:
    text = _report(local_lake, run_cli, tmp_path).read_text()
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert len(re.findall(r"plotly\.js v\d", text)) == 1  # the library, inlined once
    assert text.count("<script>") + text.count('<script type="text/javascript">') >= 2
    assert not re.search(r"<script[^>]+src=|<link|@import", text)  # nothing to fetch
    assert "default-src 'none'" in text  # and a policy that forbids fetching anything
    assert EVIL not in text  # escaped everywhere
    assert 1_000_000 < len(text) < 8_000_000  # plotly.js once (about 4.6 MB), not once per plot


@needs_chromium
def test_the_page_renders_in_a_browser(local_lake: LakeEnv, run_cli: Any, tmp_path: Path) -> None:
    path = _report(local_lake, run_cli, tmp_path)
    with Page(tmp_path, width=1200, height=1800) as browser:
        browser.call("Page.enable")
        browser.call("Page.addScriptToEvaluateOnNewDocument", source=WATCH)
        browser.open(path.as_uri())
        assert browser.evaluate("document.body.dataset.ready") == "true"
        for _ in range(100):  # plotly draws on load; wait for every plot's SVG
            if browser.evaluate("document.querySelectorAll('.js-plotly-plot .main-svg').length") >= 8:
                break
            browser.evaluate("new Promise(r => setTimeout(r, 50))")
        assert browser.evaluate("window.lakeErrors") == []
        assert browser.evaluate("performance.getEntriesByType('resource').length") == 0  # loaded nothing
        cards = browser.evaluate(
            "[...document.querySelectorAll('section.card')].map(s => [s.dataset.column, s.classList.contains('drifted')])"
        )
        assert [c for c, _ in cards[:2]] == [EVIL, "amount"] or [c for c, _ in cards[:2]] == ["amount", EVIL]
        assert [d for _, d in cards] == [True, True, False, False]
        assert {c for c, _ in cards[2:]} == {"steady", "ts"}
        # every card has a plot with both sides' traces
        traces = browser.evaluate(
            "[...document.querySelectorAll('section.card')].map(s => s.querySelectorAll('g.trace.bars').length)"
        )
        assert traces == [2, 2, 2, 2]
        # the hostile column name and category are text: no <img> element, and the text reads as typed
        assert browser.evaluate("document.querySelectorAll('img').length") == 0
        headings = browser.evaluate(
            "[...document.querySelectorAll('section.card h2')].map(h => h.firstChild.textContent)"
        )
        assert EVIL in headings
        ticks = browser.evaluate("[...document.querySelectorAll('g.xtick text')].map(t => t.textContent)")
        assert EVIL in ticks
        assert browser.evaluate("document.getElementById('verdict').textContent").startswith(
            "drift in 2 columns"
        )
        width, height, colors = png_colors(browser.screenshot(tmp_path / "drift.png"))
        assert width == 1200 and height > 1000
        assert len(colors) > 50 and colors[REFERENCE] > 2_000 and colors[CURRENT] > 2_000


# ---------------------------------------------------------------- hand-built results, from numpy samples


def _hand_built() -> Any:
    """A DriftResult from real numbers: numpy samples binned with numpy (no engine involved)."""
    from lakehouse.read.drift.result import (
        Bin,
        ColumnDrift,
        DriftResult,
        SchemaChange,
        Side,
        Stats,
        Thresholds,
    )

    rng = np.random.default_rng(7)
    ref, cur = rng.normal(0, 1, 4000), rng.normal(1.5, 1, 3000)
    edges = np.linspace(-4, 6, 21)
    r, c = np.histogram(ref, edges)[0], np.histogram(cur, edges)[0]
    hist = tuple(Bin(f"{a:g}", int(x), int(y), float(a), float(b))
                 for a, b, x, y in zip(edges[:-1], edges[1:], r, c, strict=True))  # fmt: skip

    def stats(sample: np.ndarray) -> Stats:
        return Stats(len(sample), 0, 0.0, None, float(sample.mean()), float(sample.std()),
                     float(sample.min()), float(sample.max()))  # fmt: skip

    # Categories that look like numbers, and "(other)": a category axis, not a numeric one.
    codes = (*(Bin(str(10 * k), 100 + k, 90 + k) for k in range(1, 9)), Bin("(other)", 0, 350))
    shifted = ColumnDrift("amount", "numeric", "double", stats(ref), stats(cur), psi=1.9, ks=0.55,
                          ks_pvalue=1e-300, histogram=hist, drifted=True, reasons=("psi 1.9 > 0.2",))  # fmt: skip
    code = ColumnDrift("code", "categorical", "string", Stats(1000, 0, 0.0), Stats(1000, 0, 0.0), psi=0.05,
                       bins=codes, new_categories=("40",), new_category_count=1)  # fmt: skip
    empty = Side("s.t", None, None, 0)
    return DriftResult(
        Side("s.t", 123456789012345678, "@training.lock", 4000), empty, Thresholds(),
        (code, shifted), (SchemaChange("retyped", EVIL, "int", "long"),
                          SchemaChange("renamed", "new<b>", old_name="old<i>")),
    )  # fmt: skip


def test_hand_built_result_escapes_schema_changes_and_names_an_empty_side() -> None:
    from lakehouse.read.drift.report import render_html

    text = render_html(_hand_built())
    assert EVIL not in text and "new<b>" not in text and "old<i>" not in text
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in text and "was old&lt;i&gt;" in text
    assert "snapshot None" not in text and "no snapshot" in text
    assert "123456789012345678 (@training.lock)" in text


def test_without_plotly_one_line_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from lakehouse.errors import LakehouseError
    from lakehouse.read.drift.report import render_html

    monkeypatch.setitem(sys.modules, "plotly", None)  # as if not installed: `import plotly` fails
    monkeypatch.setitem(sys.modules, "plotly.graph_objects", None)
    with pytest.raises(LakehouseError, match=r"pip install 'lakehouse\[report\]'") as raised:
        render_html(_hand_built())
    assert "\n" not in str(raised.value)


@needs_chromium
def test_hand_built_page_draws_categories_as_categories(tmp_path: Path) -> None:
    from lakehouse.read.drift.report import render_html

    path = tmp_path / "hand.html"
    text = render_html(_hand_built())
    assert len(re.findall(r"plotly\.js v\d", text)) == 1 and len(text) < 6_000_000  # inlined once
    path.write_text(text, encoding="utf-8")
    with Page(tmp_path, width=1000, height=1400) as browser:
        browser.call("Page.enable")
        browser.call("Network.enable")  # the network off: the page must need none
        browser.call("Network.emulateNetworkConditions", offline=True, latency=0,
                     downloadThroughput=-1, uploadThroughput=-1)  # fmt: skip
        browser.call("Page.addScriptToEvaluateOnNewDocument", source=WATCH)
        browser.open(path.as_uri())
        for _ in range(100):
            if browser.evaluate("document.querySelectorAll('.js-plotly-plot .main-svg').length") >= 4:
                break
            browser.evaluate("new Promise(r => setTimeout(r, 50))")
        assert browser.evaluate("window.lakeErrors") == []
        assert browser.evaluate("performance.getEntriesByType('resource').length") == 0
        assert browser.evaluate("[...document.querySelectorAll('section.card')].map(s => s.dataset.column)") == [
            "amount", "code"
        ]  # fmt: skip
        ticks = browser.evaluate(
            "[...document.querySelectorAll('section[data-column=\"code\"] g.xtick text')].map(t => t.textContent)"
        )
        assert ticks == [str(10 * k) for k in range(1, 9)] + [
            "(other)"
        ]  # every bin, in order, "(other)" included
        bars = browser.evaluate(
            "[...document.querySelectorAll('section[data-column=\"code\"] g.trace.bars')].map(g => g.querySelectorAll('path').length)"
        )
        assert bars in ([9, 9], [8, 9])  # the reference has no "(other)" row: a zero-height bar
        shot = browser.screenshot(tmp_path / "hand.png")
        _, _, colors = png_colors(shot)
        assert len(colors) > 50 and colors[REFERENCE] > 1_000 and colors[CURRENT] > 1_000
