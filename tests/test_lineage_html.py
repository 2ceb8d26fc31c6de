"""`lake lineage --format html`: one self-contained page, drawn in a real headless Chromium.

The browser tests run Debian's `chromium` (`.ci/run` installs it) on the page written by the CLI for the
example project (sql/): `--dump-dom` gives the DOM after the page's script ran, `--screenshot` the
pixels. `#node=NAME&column=COL` makes the page click that node (a real click event on its SVG element)
and then that column's row, so one load shows what a user sees after clicking.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from chromium import CHROMIUM, Page, png_colors
from chromium import run as chromium
from conftest import write_project

REPO_SQL = Path(__file__).resolve().parent.parent / "sql"
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium; .ci/run does)"
)
TABLES = ["bronze.events", "bronze.labels", "silver.events", "silver.labels", "gold.user_features",
          "gold.training_set"]  # fmt: skip
MODEL_FILL, SOURCE_FILL = (0xDB, 0xEA, 0xFE), (0xFE, 0xF3, 0xC7)  # lineage.css
SELECTED_STROKE, TRACED_FILL = (0xDC, 0x26, 0x26), (0xFD, 0xE6, 0x8A)


def page(env, run_cli, tmp_path: Path, *args: str, project: Path = REPO_SQL) -> Path:
    result = run_cli(env, "lineage", "--project", str(project), "--format", "html", *args)
    assert result.exit_code == 0, result.output
    path = tmp_path / "lineage.html"
    path.write_text(result.stdout)
    return path


class Elements(HTMLParser):
    """Every element's tag, attributes and text (its own and its descendants')."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.found: list[dict] = []
        self.open: list[dict] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        element = {"tag": tag, **{k: v or "" for k, v in attrs}, "text": ""}
        self.found.append(element)
        if tag not in ("meta", "br", "hr", "img", "input", "link"):  # HTML's void elements
            self.open.append(element)

    def handle_endtag(self, tag: str) -> None:
        if any(e["tag"] == tag for e in self.open):
            while self.open.pop()["tag"] != tag:
                pass

    def handle_data(self, data: str) -> None:
        for element in self.open:
            element["text"] += data

    def where(self, **attrs: str) -> list[dict]:
        return [e for e in self.found if all(e.get(k.rstrip("_")) == v for k, v in attrs.items())]


def classes(element: dict) -> set[str]:
    return set(element.get("class", "").split())


# ---------------------------------------------------------------- the page, without a browser


def test_html_page_is_self_contained(local_lake, run_cli, tmp_path):
    path = page(local_lake, run_cli, tmp_path)
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    # Nothing to load: no external script, style, font or image, and a policy that forbids any.
    assert not re.search(r"""(src|href)\s*=|<link|@import|url\((?!#)""", text)
    assert set(re.findall(r"https?://[^\s\"'()<>]+", text)) <= {
        "http://www.w3.org/2000/svg",  # a namespace name in our renderer
        "https://github.com/dagrejs/dagre", "https://github.com/dagrejs/graphlib",  # its license notice
    }  # fmt: skip
    assert "default-src 'none'" in text
    assert "Permission is hereby granted" in text  # dagre's MIT notice travels with its code
    assert "sourceMappingURL" not in text
    # The graph data is that of `lake lineage --columns --format json`.
    embedded = json.loads(re.search(r'id="lineage-data">(.*?)</script>', text, re.S).group(1))
    as_json = json.loads(
        run_cli(local_lake, "lineage", "--project", str(REPO_SQL), "--columns", "--format", "json").stdout
    )
    assert embedded["nodes"] == as_json["nodes"]
    assert embedded["edges"] == [[e["from"], e["to"]] for e in as_json["edges"]]
    assert sorted(embedded["columns"]["gold.user_features"]["total_spend"]) == [
        ["silver.events", "amount"], ["silver.events", "ts"], ["silver.events", "user_id"],
    ]  # fmt: skip
    assert embedded["columns"]["silver.events"]["amount"] == [["bronze.events", "amount"]]
    assert local_lake.lake.tables() == []  # lineage reads the project; the lake is unchanged


def test_html_of_one_model_draws_its_up_and_downstream(local_lake, run_cli, tmp_path):
    text = page(local_lake, run_cli, tmp_path, "silver.labels").read_text()
    embedded = json.loads(re.search(r'id="lineage-data">(.*?)</script>', text, re.S).group(1))
    assert [n["name"] for n in embedded["nodes"]] == ["bronze.labels", "silver.labels", "gold.training_set"]
    assert embedded["edges"] == [["bronze.labels", "silver.labels"], ["silver.labels", "gold.training_set"]]
    # Column lineage is always in the page (no --columns needed); an input outside the graph keeps its name.
    assert embedded["columns"]["gold.training_set"]["total_spend"] == [["gold.user_features", "total_spend"]]


def test_html_escapes_what_the_project_says(local_lake, run_cli, tmp_path):
    evil = "</script><script>document.title='owned'</script>"
    project = write_project(
        tmp_path,
        {"silver.x": f"{{{{ config(description=\"{evil}\") }}}}\nSELECT id AS \"a<b\" FROM {{{{ source('bronze', 'events') }}}}"},
    )  # fmt: skip
    text = page(local_lake, run_cli, tmp_path, project=project).read_text()
    assert evil not in text
    assert text.count("</script>") == 3  # the data, dagre and our renderer: nothing closed early
    embedded = json.loads(re.search(r'id="lineage-data">(.*?)</script>', text, re.S).group(1))
    assert embedded["nodes"][1]["description"] == evil and "a<b" in embedded["columns"]["silver.x"]
    if CHROMIUM is not None:  # drawn, the description is text in the panel, not markup
        url = (tmp_path / "lineage.html").as_uri() + "#node=silver.x"
        dom = Elements(chromium(tmp_path, url, "--dump-dom"))
        assert dom.where(tag="title")[0]["text"] == "lake lineage"
        assert evil in dom.where(id="panel")[0]["text"] and not dom.where(
            tag="script", text="document.title='owned'"
        )


# ---------------------------------------------------------------- drawn in Chromium


@needs_chromium
def test_chromium_draws_every_table_and_edge(local_lake, run_cli, tmp_path):
    dom = Elements(chromium(tmp_path, page(local_lake, run_cli, tmp_path).as_uri(), "--dump-dom"))
    body = dom.where(tag="body")[0]
    assert body.get("data-ready") == "true", body.get("data-error")
    nodes = {e["data-name"]: e for e in dom.found if e["tag"] == "g" and "node" in classes(e)}
    assert sorted(nodes) == sorted(TABLES)
    assert {name for name, e in nodes.items() if "source" in classes(e)} == {"bronze.events", "bronze.labels"}
    assert nodes["silver.events"]["text"].startswith("silver.eventsmodel · incrementalTyped and cleaned")
    edges = {(e["data-from"], e["data-to"]) for e in dom.found if e["tag"] == "g" and "edge" in classes(e)}
    assert edges == {("bronze.events", "silver.events"), ("silver.events", "gold.user_features"),
                     ("bronze.labels", "silver.labels"), ("gold.user_features", "gold.training_set"),
                     ("silver.labels", "gold.training_set")}  # fmt: skip
    assert dom.where(id="summary")[0]["text"] == "4 models, 2 sources, 5 edges"
    assert "Click a table" in dom.where(id="panel")[0]["text"]  # nothing selected yet


@needs_chromium
def test_clicking_a_table_shows_its_column_lineage(local_lake, run_cli, tmp_path):
    url = page(local_lake, run_cli, tmp_path).as_uri() + "#node=gold.user_features&column=total_spend"
    dom = Elements(chromium(tmp_path, url, "--dump-dom"))
    panel = dom.where(id="panel")[0]
    assert panel["data-selected"] == "gold.user_features"
    rows = {e["data-column"]: e for e in dom.found if e["tag"] == "tr" and "column" in classes(e)}
    assert list(rows)[:3] == ["user_id", "feature_date", "available_at"] and "log1p_total_spend" in rows
    assert rows["feature_date"]["text"] == "feature_date← silver.events.ts"
    assert "selected" in classes(rows["total_spend"])
    chains = [e["text"] for e in dom.found if "chain" in classes(e)]
    assert "gold.user_features.total_spend ← silver.events.amount ← bronze.events.amount" in chains
    assert "gold.user_features.total_spend → gold.training_set.total_spend" in chains
    assert "silver.events.amount" not in " ".join(c for c in chains if "→" in c)  # downstream only
    nodes = {e["data-name"]: classes(e) for e in dom.found if e["tag"] == "g" and "node" in classes(e)}
    assert "selected" in nodes["gold.user_features"]
    traced = {name for name, c in nodes.items() if "traced" in c}
    assert traced == {"bronze.events", "silver.events", "gold.training_set"}
    assert "lit" not in nodes["silver.labels"]  # not on this column's path

    # A source lists who reads its columns; tracing one follows it down to the last model.
    source = Elements(
        chromium(tmp_path, url.split("#")[0] + "#node=bronze.labels&column=label_ts", "--dump-dom")
    )
    rows = {e["data-column"]: e["text"] for e in source.found if e["tag"] == "tr" and "column" in classes(e)}
    assert rows["label_ts"] == "label_ts→ silver.labels.label_ts"
    chains = [e["text"] for e in source.found if "chain" in classes(e)]
    assert "bronze.labels.label_ts → silver.labels.label_ts → gold.training_set.days_since_seen" in chains


@needs_chromium
def test_screenshot_shows_the_graph_and_the_selection(local_lake, run_cli, tmp_path):
    uri = page(local_lake, run_cli, tmp_path).as_uri()
    shot = tmp_path / "graph.png"
    chromium(tmp_path, uri, f"--screenshot={shot}", "--window-size=1000,600")
    width, height, colors = png_colors(shot)
    assert (width, height) == (1000, 600)
    assert len(colors) > 50  # not blank: text, borders, fills
    assert colors[MODEL_FILL] > 4 * 1_500 and colors[SOURCE_FILL] > 2 * 1_500  # six boxes, filled
    assert colors[SELECTED_STROKE] == 0

    chosen = tmp_path / "chosen.png"
    chromium(tmp_path, uri + "#node=silver.events&column=amount", f"--screenshot={chosen}",
             "--window-size=1000,600")  # fmt: skip
    _, _, colors = png_colors(chosen)
    assert colors[SELECTED_STROKE] > 500  # the clicked box's border and the lineage edges
    assert colors[TRACED_FILL] > 2 * 1_500  # bronze.events and gold.user_features are on the path


@needs_chromium
def test_real_clicks_drags_and_wheel(local_lake, run_cli, tmp_path):
    """Trusted input through the DevTools protocol: the browser hit-tests each press, as for a user."""
    panel = "document.getElementById('panel')"
    with Page(tmp_path) as browser:
        browser.open(page(local_lake, run_cli, tmp_path).as_uri())
        assert browser.evaluate("document.body.dataset.ready") == "true"
        browser.click('g.node[data-name="gold.user_features"]')
        assert browser.evaluate(f"{panel}.dataset.selected") == "gold.user_features"
        columns = browser.evaluate(f"[...{panel}.querySelectorAll('tr.column')].map(r => r.dataset.column)")
        assert columns[:3] == ["user_id", "feature_date", "available_at"] and len(columns) == 9
        browser.click('#panel tr.column[data-column="total_spend"]')
        chains = browser.evaluate(f"[...{panel}.querySelectorAll('li.chain')].map(li => li.textContent)")
        assert "gold.user_features.total_spend ← silver.events.amount ← bronze.events.amount" in chains
        traced = browser.evaluate("[...document.querySelectorAll('g.node.traced')].map(g => g.dataset.name)")
        assert sorted(traced) == ["bronze.events", "gold.training_set", "silver.events"]
        _, _, colors = png_colors(browser.screenshot(tmp_path / "clicked.png"))
        assert colors[SELECTED_STROKE] > 500 and colors[TRACED_FILL] > 2 * 1_500

        # Dragging the background pans (and is no click: the selection stays); the wheel zooms.
        view = "document.getElementById('graph').getAttribute('viewBox').split(' ').map(Number)"
        before = browser.evaluate(view)
        left, top = browser.evaluate(
            "(r => [r.x, r.y])(document.getElementById('graph').getBoundingClientRect())"
        )
        x, y = left + 10, top + 10  # a corner of the graph, away from the boxes
        browser.mouse("mousePressed", x, y, button="left", clickCount=1)
        browser.mouse("mouseMoved", x + 150, y + 40, button="left")
        browser.mouse("mouseReleased", x + 150, y + 40, button="left", clickCount=1)
        moved = browser.evaluate(view)
        assert moved[0] < before[0] and moved[1] < before[1] and moved[2:] == before[2:]
        assert browser.evaluate(f"{panel}.dataset.selected") == "gold.user_features"
        browser.mouse("mouseWheel", x + 300, y + 200, deltaX=0, deltaY=-400)
        assert browser.evaluate(view)[2] < moved[2]  # zoomed in: a narrower view

        browser.click("header")  # outside the graph: nothing changes
        browser.mouse("mousePressed", x, y, button="left", clickCount=1)
        browser.mouse("mouseReleased", x, y, button="left", clickCount=1)  # a click on the background
        assert "Click a table" in browser.evaluate(f"{panel}.textContent")
        assert browser.evaluate(f"{panel}.dataset.selected") is None
        assert browser.evaluate("document.querySelectorAll('g.node.selected, g.node.traced').length") == 0
