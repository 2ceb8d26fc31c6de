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
