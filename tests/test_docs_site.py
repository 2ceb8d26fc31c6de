"""`lake docs`: the documentation site of a project, written by the CLI and read in headless Chromium.

The example project (sql/) is built on a local lake, then documented; the page is opened with the
network switched off and a watch on errors and Content-Security-Policy violations, and driven with
real input (typing into the search box, double-clicking the graph) through the DevTools protocol.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from chromium import CHROMIUM, Page
from conftest import cli_json, one_line_error, write_project

from lakehouse.dev import datagen

REPO_SQL = Path(__file__).resolve().parent.parent / "sql"
SOURCES = ["bronze.events", "bronze.labels"]
MODELS = ["silver.events", "gold.user_features", "silver.labels", "gold.training_set"]  # dependency order
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium; .ci/run does)"
)
# Errors, blocked loads and console errors of the page, collected from before its first script runs.
WATCH = """window.lakeErrors = [];
addEventListener('error', e => lakeErrors.push(String(e.message)));
addEventListener('securitypolicyviolation', e => lakeErrors.push('blocked ' + e.blockedURI));
const lakeConsole = console.error; console.error = (...a) => { lakeErrors.push(a.join(' ')); lakeConsole(...a); };"""
AMOUNT_DOC = "Amount paid in EUR, <b>clipped</b> at 0 & never negative"


@pytest.fixture
def built(local_lake):
    """The example project built once from a small feed (as tests/test_runner.py builds it)."""
    end = datetime.now(UTC).replace(microsecond=0)
    feed = datagen.events(2000, days=10, end=end, seed=3)
    for name, rows in (("events", feed), ("labels", datagen.labels(feed, 200))):
        path = datagen.write_jsonl(rows, local_lake.root / "feed" / f"{name}.jsonl")
        local_lake.lake.ingest(f"bronze.{name}", str(path), create=True)
    result = local_lake.lake.run(REPO_SQL)
    assert result.ok, result.failure_message()
    return local_lake


def docs(env, run_cli, out: Path, *args: str, project: Path = REPO_SQL) -> dict[str, Any]:
    return cli_json(run_cli(env, "docs", "--project", str(project), "-o", str(out), "--json", *args))


def embedded(index: Path) -> dict[str, Any]:
    text = index.read_text()
    return json.loads(re.search(r'id="docs-data">(.*?)</script>', text, re.S).group(1))


class Site:
    """The site open in a headless Chromium that has no network."""

    def __init__(self, browser: Page, index: Path) -> None:
        self.browser = browser
        browser.call("Page.enable")
        browser.call("Network.enable")
        browser.call("Network.emulateNetworkConditions", offline=True, latency=0,
                     downloadThroughput=-1, uploadThroughput=-1)  # fmt: skip
        browser.call("Page.addScriptToEvaluateOnNewDocument", source=WATCH)
        browser.open(index.as_uri())
        assert self.js("document.body.dataset.docsReady") == "true"
        assert self.js("document.body.dataset.ready") == "true", self.js("document.body.dataset.error")

    def js(self, expression: str) -> Any:
        return self.browser.evaluate(expression)

    def go(self, hash_: str, view: str) -> None:
        self.js(f"location.hash = {json.dumps(hash_)}")
        self.until(f"document.body.dataset.view === {json.dumps(view)}")

    def until(self, expression: str) -> None:
        for _ in range(200):
            if self.js(expression):
                return
            time.sleep(0.025)
        raise AssertionError(f"never true: {expression}")

    def texts(self, selector: str) -> list[str]:
        return self.js(f"[...document.querySelectorAll({json.dumps(selector)})].map(e => e.textContent)")

    def sidebar(self) -> list[str]:
        return self.js("[...document.querySelectorAll('#tables li.table')].map(li => li.dataset.name)")

    def column(self, name: str) -> dict[str, str]:
        cells = self.js(
            f"[...document.querySelectorAll('tr.column[data-column={json.dumps(name)}] td')]"
            ".map(td => [td.className, td.textContent])"
        )
        return dict(cells)

    def facts(self) -> dict[str, str]:
        return dict(zip(self.texts("dl.facts dt"), self.texts("dl.facts dd"), strict=True))

    def clean(self) -> None:
        """Nothing failed, nothing was blocked, nothing was loaded."""
        assert self.js("window.lakeErrors") == []
        assert self.js("performance.getEntriesByType('resource').length") == 0


@needs_chromium
def test_site_of_a_built_project(built, run_cli, tmp_path):
    env = built
    with env.lake.table("silver.events").update_schema() as update:  # an Iceberg column doc
        update.update_column("amount", doc=AMOUNT_DOC)
    out = docs(env, run_cli, tmp_path / "site")
    assert out["models"] == 4 and out["sources"] == 2 and out["not_built"] == []
    # silver.events' schema changed since gold.user_features read it: a run would rebuild that
    assert out["stale"] == {"gold.user_features": "the schema of silver.events changed"}
    index = Path(out["index"])
    assert index == tmp_path / "site" / "index.html" and (tmp_path / "site" / "docs.json").is_file()
    text = index.read_text()
    assert "default-src 'none'" in text and not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text)
    events = env.lake.table("silver.events")

    with Page(tmp_path, width=1300, height=900) as browser:
        site = Site(browser, index)
        assert site.js("document.body.dataset.view") == "overview"
        assert site.sidebar() == SOURCES + MODELS
        rows = site.js("[...document.querySelectorAll('tr.overview-row')].map(r => [r.dataset.name,"
                       " r.querySelector('.badge').textContent])")  # fmt: skip
        assert dict(rows) == {**dict.fromkeys(SOURCES, "built"), **dict.fromkeys(MODELS, "up to date"),
                              "gold.user_features": "stale"}  # fmt: skip

        # A model's page: description, columns with types and docs, lineage, checks, snapshot facts.
        site.go("#table=silver.events", "table")
        assert site.texts("#page h2") == ["silver.events"]
        assert site.texts("#page p.description")[0].startswith("Typed and cleaned events")
        amount = site.column("amount")
        assert amount["type"] == "double not null" and amount["description"] == AMOUNT_DOC
        assert amount["lineage"].startswith("← bronze.events.amount")
        assert "gold.user_features.total_spend" in amount["lineage"] and amount["checks"] == "range(amount)"
        assert site.js("document.querySelectorAll('#page b').length") == 0  # the doc is text, not markup
        facts = site.facts()
        current = events.current_snapshot()
        assert facts["snapshot"] == str(current.snapshot_id)  # all 19 digits, not a rounded number
        assert facts["rows"] == f"{int(current.summary['total-records']):,}"
        assert facts["SQL hash"].endswith("(the model's SQL now)") and facts["stale"] == "no: up to date"
        bronze = env.lake.table("bronze.events").metadata.current_snapshot_id
        assert facts["inputs read"] == f"bronze.events @ {bronze}"
        assert "unique(event_id)" in site.texts("table.checks td")
        assert site.texts("ul.downstream li") == ["gold.user_features"]
        assert site.texts("ul.upstream li") == ["bronze.events"]
        assert "SELECT DISTINCT" in site.texts("pre.sql")[0] and "{{ config(" in site.texts("pre.template")[0]
        site.go("#table=gold.user_features", "table")
        assert site.facts()["stale"] == "the schema of silver.events changed"
        browser.click("#page a.to-graph")  # the table, selected in the graph with its column lineage
        site.until("document.getElementById('panel').dataset.selected === 'gold.user_features'")
        assert site.js("document.body.dataset.view") == "lineage"
        assert "total_spend" in site.texts("#panel tr.column td.col")
        browser.click("#panel h2 a")  # the panel links back to the table's page
        site.until("document.body.dataset.view === 'table'")
        assert site.texts("#page h2") == ["gold.user_features"]

        # Typing into the search box filters tables by name, description and columns.
        browser.click("#search")
        browser.call("Input.insertText", text="spend")
        site.until("document.querySelectorAll('#tables li.table').length === 2")
        assert site.sidebar() == ["gold.user_features", "gold.training_set"]
        hits = site.texts('#tables li[data-name="gold.training_set"] li.hit')
        assert hits == ["total_spend", "spend_last_7d", "spend_last_30d", "log1p_total_spend"]
        browser.click('#tables li[data-name="gold.training_set"] li.hit a')  # a column hit opens it
        site.until("document.querySelector('tr.column.target') !== null")
        assert site.js("document.querySelector('tr.column.target').dataset.column") == "total_spend"
        site.js("document.getElementById('search').select()")
        browser.call("Input.insertText", text="eur never")  # every word, here in a column doc
        site.until("document.querySelectorAll('#tables li.table').length === 1")
        assert site.sidebar() == ["silver.events"] and site.texts("#tables li.hit") == ["amount"]
        site.js("document.getElementById('search').select()")
        browser.call("Input.insertText", text="no such thing")
        site.until("!document.getElementById('no-match').hidden")
        assert site.sidebar() == []

        # The lineage graph: every table and edge drawn; a double click opens a table's page.
        site.go("#lineage", "lineage")
        nodes = site.js("[...document.querySelectorAll('#graph g.node')].map(g => g.dataset.name)")
        assert sorted(nodes) == sorted(SOURCES + MODELS)
        assert len(site.texts("#graph g.edge")) == 5
        assert site.texts("#summary") == ["4 models, 2 sources, 5 edges"]
        box = site.js("(r => [r.width, r.height])(document.querySelector('#graph g.node').getBBox())")
        assert box[0] > 50 and box[1] > 20  # laid out and visible
        x, y = browser.center('#graph g.node[data-name="silver.labels"]')
        for count in (1, 2):
            browser.mouse("mousePressed", x, y, button="left", clickCount=count)
            browser.mouse("mouseReleased", x, y, button="left", clickCount=count)
        site.until("document.body.dataset.view === 'table'")
        assert site.texts("#page h2") == ["silver.labels"]
        site.clean()


def test_json_lists_what_was_written(built, run_cli, tmp_path):
    out = docs(built, run_cli, tmp_path / "site")
    assert out["files"] == ["index.html", "docs.json"] and out["url"].startswith("file://")
    assert sorted(out["built"]) == sorted(SOURCES + MODELS) and out["stale"] == {}
    data = json.loads((tmp_path / "site" / "docs.json").read_text())
    assert data == embedded(tmp_path / "site" / "index.html")  # the page shows exactly this
    tables = {t["name"]: t for t in data["tables"]}
    assert list(tables) == SOURCES + MODELS
    for name in SOURCES + MODELS:  # snapshot ids as strings (63-bit: JSON readers round numbers)
        assert tables[name]["table"]["snapshot_id"] == str(
            built.lake.table(name).metadata.current_snapshot_id
        )
    features = tables["gold.user_features"]
    assert features["table"]["inputs"] == {
        "silver.events": str(built.lake.table("silver.events").metadata.current_snapshot_id)
    }
    assert features["table"]["sql_current"] is True and features["table"]["stale"] == ""
    assert features["upstream"] == ["silver.events"] and features["downstream"] == ["gold.training_set"]
    spend = next(c for c in features["columns"] if c["name"] == "total_spend")
    assert spend["type"] == "double" and ["silver.events", "amount"] in spend["upstream"]
    assert tables["bronze.events"]["table"]["stale"] is None  # a source is loaded, not built
    assert tables["bronze.events"]["table"]["operation"].startswith("ingest")


def test_sql_changed_since_the_build_is_stale(built, run_cli, tmp_path):
    import shutil

    project = tmp_path / "project"
    shutil.copytree(REPO_SQL, project)
    path = project / "silver" / "labels.sql"
    path.write_text(path.read_text() + "\n-- a comment changes the SQL's hash\n")
    out = docs(built, run_cli, tmp_path / "site", project=project)
    assert out["stale"] == {"silver.labels": "its SQL changed"}
    labels = next(t for t in embedded(Path(out["index"]))["tables"] if t["name"] == "silver.labels")
    assert labels["table"]["sql_current"] is False
    assert labels["table"]["sql_hash"] != labels["table"]["current_sql_hash"]


def test_docs_of_a_project_with_nothing_built(local_lake, run_cli, tmp_path):
    result = run_cli(local_lake, "docs", "--project", str(REPO_SQL))
    assert result.exit_code == 0, result.output
    index = local_lake.root / ".lake" / "docs" / "index.html"  # the default: .lake/docs at the root
    assert f"Wrote {index}: 4 model(s), 2 source(s); 0 built, 6 not built, 0 stale." in result.stdout
    data = embedded(index)
    assert all(not t["table"]["built"] and t["table"]["snapshot_id"] is None for t in data["tables"])
    events = next(t for t in data["tables"] if t["name"] == "silver.events")
    # Columns from the contract (types) and column lineage, though no table exists yet.
    columns = {c["name"]: c for c in events["columns"]}
    assert columns["event_id"]["type"] == "string" and columns["event_id"]["required"] is True
    assert columns["amount"]["upstream"] == [["bronze.events", "amount"]]
    assert local_lake.lake.tables() == []  # the lake is only read
    if CHROMIUM is None:
        return
    with Page(tmp_path) as browser:
        site = Site(browser, index)
        badges = site.texts("tr.overview-row .badge")
        assert badges == ["not built"] * 6
        site.go("#table=gold.training_set", "table")
        assert site.facts()["status"] == "not built yet: build it with `lake run --select gold.training_set`"
        site.go("#table=bronze.labels", "table")
        assert site.facts()["status"] == "not built yet: load it with `lake ingest`"
        assert "label_ts" in site.texts("tr.column td.name")  # the columns models read of it
        site.go("#lineage", "lineage")
        assert len(site.texts("#graph g.node")) == 6
        site.clean()


EVIL = "</script><script>window.owned = 1</script><img src=x onerror='window.owned = 2'>"


def test_everything_the_project_says_is_text(local_lake, tmp_path):
    """Descriptions, column docs (schema.yml's, through config().column_docs) and names are escaped."""
    from lakehouse.elt.docsite import build_site, write_site
    from lakehouse.elt.project import Project

    project_dir = write_project(
        tmp_path,
        {"silver.x": f"{{{{ config(description={EVIL!r}, tags=['<i>t</i>']) }}}}\n"
         "SELECT id AS \"a<b\", id FROM {{ source('bronze', 'events') }}"},
        sources=f"sources: {{bronze.events: {{description: {json.dumps(EVIL)}}}}}",
    )  # fmt: skip
    project = Project.load(project_dir)
    project.models["silver.x"].config.column_docs = {"a<b": EVIL, "ID": "the <id>"}  # as schema.yml gives
    project.ignored = [(project_dir / "silver" / "m.sql", f"a macro file {EVIL}")]  # as discovery lists them
    out = write_site(build_site(project, local_lake.lake.table), tmp_path / "site")
    text = Path(out.index).read_text()
    assert EVIL not in text and text.count("</script>") == 5  # data, lineage data, dagre, graph, page
    x = next(t for t in embedded(Path(out.index))["tables"] if t["name"] == "silver.x")
    assert x["description"] == EVIL and x["columns"][0]["description"] == EVIL
    assert x["columns"][1]["description"] == "the <id>"  # names match as the catalog does, any case
    if CHROMIUM is None:
        return
    with Page(tmp_path) as browser:
        site = Site(browser, Path(out.index))
        assert site.js("window.owned") is None
        assert site.texts("ul.ignored li") == [f"silver/m.sql: a macro file {EVIL}"]
        site.go("#table=silver.x", "table")
        assert site.texts("#page p.description") == [EVIL]
        assert site.column("a<b")["description"] == EVIL and "tag: <i>t</i>" in site.texts("#page .badge")
        site.go("#table=bronze.events", "table")
        assert site.texts("#page p.description") == [EVIL]
        assert (
            site.js("window.owned") is None
            and site.js("document.querySelectorAll('#page img, #page i').length") == 0
        )
        site.clean()


def test_output_that_is_a_file_is_one_line_error(local_lake, run_cli, tmp_path):
    target = tmp_path / "taken"
    target.write_text("mine")
    error = one_line_error(run_cli(local_lake, "docs", "--project", str(REPO_SQL), "-o", str(target)))
    assert error == f"Error: cannot write the docs to {target}: it is a file; pass -o DIR with a folder"
    assert target.read_text() == "mine"
