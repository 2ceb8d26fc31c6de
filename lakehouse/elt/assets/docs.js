// lake docs: the overview, one table's page, or the lineage graph (drawn by lineage.js), chosen by the
// URL's #: `#table=NAME` (and `&column=COL`), `#lineage` or `#node=NAME` (the graph), else the overview.
// The search box filters the tables by name, description, tags and their columns' names and descriptions.
// Everything the project wrote is set as text (textContent), never as markup.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("docs-data").textContent);
  var byName = {};
  data.tables.forEach(function (t) { byName[t.name] = t; });
  var page = document.getElementById("page");
  var graphView = document.getElementById("lineage-view");
  var list = document.getElementById("tables");
  var search = document.getElementById("search");

  function h(tag, text, cls, parent) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null && text !== "") node.textContent = String(text);
    if (cls) node.className = cls;
    if (parent) parent.appendChild(node);
    return node;
  }
  function link(text, hash, parent, cls) {
    var a = h("a", text, cls, parent);
    a.href = "#" + hash;
    return a;
  }
  function tableHash(name, column) {
    return "table=" + encodeURIComponent(name) + (column ? "&column=" + encodeURIComponent(column) : "");
  }
  function tableLink(name, parent, column) {
    return link(column ? name + "." + column : name, tableHash(name, column), parent);
  }
  function status(t) {
    var f = t.table;
    if (!f.built) return ["not built", "not-built"];
    if (f.stale) return ["stale", "stale"];
    return [t.kind === "model" && f.stale === "" ? "up to date" : "built", "built"];
  }
  function kindLabel(t) {
    return t.kind + (t.config && t.config.materialized ? " \u00b7 " + t.config.materialized : "");
  }

  // ---------------------------------------------------------------- search
  function words(text) { return String(text || "").toLowerCase(); }
  data.tables.forEach(function (t) {
    t.haystack = [t.name, t.description].concat(t.config.tags || [], t.columns.map(function (c) {
      return c.name + " " + c.description;
    })).map(words).join("\n");
  });
  function terms() { return search.value.toLowerCase().split(/\s+/).filter(Boolean); }
  function matches(text, wanted) {
    return wanted.every(function (w) { return text.indexOf(w) >= 0; });
  }
  function columnHits(t, wanted) {
    if (!wanted.length) return [];
    return t.columns.filter(function (c) {
      return matches(words(c.name + " " + c.description), wanted) && !matches(words(t.name), wanted);
    });
  }

  function sidebar() {
    var wanted = terms(), shown = 0, current = route().table;
    list.textContent = "";
    data.tables.forEach(function (t) {
      if (!matches(t.haystack, wanted)) return;
      shown++;
      var item = h("li", "", "table" + (t.name === current ? " current" : ""), list);
      item.dataset.name = t.name;
      var a = link(t.name, tableHash(t.name), item);
      h("span", t.kind, "kind", a);
      var hits = columnHits(t, wanted);
      if (hits.length) {
        var sub = h("ul", "", "hits", item);
        hits.forEach(function (c) {
          var li = h("li", "", "hit", sub);
          li.dataset.column = c.name;
          link(c.name, tableHash(t.name, c.name), li);
        });
      }
    });
    document.getElementById("no-match").hidden = shown > 0;
    page.querySelectorAll("tr.overview-row").forEach(function (row) {
      row.hidden = !matches(byName[row.dataset.name].haystack, wanted);
    });
  }
  search.addEventListener("input", sidebar);

  // ---------------------------------------------------------------- pages
  function overview() {
    var models = data.tables.filter(function (t) { return t.kind === "model"; });
    h("h2", "Project", "", page);
    h("p", data.project, "hint", page);
    var built = data.tables.filter(function (t) { return t.table.built; }).length;
    var stale = models.filter(function (t) { return t.table.built && t.table.stale; }).length;
    h("p", models.length + " models, " + (data.tables.length - models.length) + " sources; " + built +
      " built, " + (data.tables.length - built) + " not built, " + stale + " stale.", "counts", page);
    var table = h("table", "", "overview", page);
    var head = h("tr", "", "", table);
    ["table", "kind", "status", "rows", "description"].forEach(function (c) { h("th", c, "", head); });
    data.tables.forEach(function (t) {
      var row = h("tr", "", "overview-row", table);
      row.dataset.name = t.name;
      tableLink(t.name, h("td", "", "", row));
      h("td", kindLabel(t), "", row);
      var s = status(t);
      h("span", s[0], "badge " + s[1], h("td", "", "", row));
      h("td", t.table.rows === null ? "" : t.table.rows, "", row);
      h("td", t.description, "", row);
    });
    if ((data.ignored || []).length) {
      h("h3", "Files that are not models", "", page);
      var ul = h("ul", "", "links ignored", page);
      data.ignored.forEach(function (f) {
        var li = h("li", "", "", ul);
        h("code", f.path, "", li);
        li.appendChild(document.createTextNode(": " + f.reason));
      });
    }
  }

  function facts(dl, label, value, asCode) {
    if (value === null || value === undefined || value === "" || (value.length === 0)) return;
    h("dt", label, "", dl);
    var dd = h("dd", "", "", dl);
    if (value.nodeType) dd.appendChild(value); else h(asCode ? "code" : "span", value, "", dd);
  }

  function refs(pairs, parent, arrow) {
    pairs.forEach(function (ref, i) {
      parent.appendChild(document.createTextNode(i ? ", " : arrow));
      if (byName[ref[0]]) tableLink(ref[0], parent, ref[1]); else h("code", ref[0] + "." + ref[1], "", parent);
    });
  }

  function tablePage(t, column) {
    var s = status(t), f = t.table;
    h("h2", t.name, "", page);
    var line = h("div", "", "", page);
    h("span", kindLabel(t), "badge", line);
    h("span", s[0], "badge " + s[1], line);
    (t.config.tags || []).forEach(function (tag) { h("span", "tag: " + tag, "badge", line); });
    link("show in the lineage graph", "node=" + encodeURIComponent(t.name), line, "to-graph");
    h("p", t.description || "No description.", t.description ? "description" : "hint", page);
    t.notes.forEach(function (n) { h("p", n, "note", page); });

    h("h3", "Table", "", page);
    var dl = h("dl", "", "facts", page);
    if (!f.built) facts(dl, "status", f.note);
    else {
      if (f.note) facts(dl, "note", f.note);
      facts(dl, "snapshot", f.snapshot_id, true);
      facts(dl, "committed at", f.committed_at);
      facts(dl, "operation", f.operation);
      facts(dl, "rows", f.rows === null ? "" : f.rows.toLocaleString("en-US"));
      if (f.build_snapshot_id && f.build_snapshot_id !== f.snapshot_id) facts(dl, "built in snapshot", f.build_snapshot_id, true);
      facts(dl, "run", f.run_id, true);
      if (t.kind === "model") {
        facts(dl, "SQL hash", f.sql_hash ? f.sql_hash + (f.sql_current ? " (the model's SQL now)" :
          " (differs from the model's SQL now: " + f.current_sql_hash + ")") : "", true);
        facts(dl, "stale", f.stale === "" ? "no: up to date" : f.stale);
      }
      var inputs = Object.keys(f.inputs || {});
      if (inputs.length) {
        var ul = h("ul", "", "links inputs", null);
        inputs.forEach(function (name) {
          var li = h("li", "", "", ul);
          if (byName[name]) tableLink(name, li); else h("code", name, "", li);
          li.appendChild(document.createTextNode(" @ " + (f.inputs[name] === "None" ? "(empty)" : f.inputs[name])));
        });
        facts(dl, "inputs read", ul);
      }
    }
    if (t.kind === "model") {
      facts(dl, "file", t.path, true);
      Object.keys(t.config).forEach(function (k) {
        if (k !== "tags") facts(dl, k.replace(/_/g, " "), [].concat(t.config[k]).join(", "), true);
      });
    }

    h("h3", "Columns", "", page);
    if (!t.columns.length) h("p", "No columns known: the table is not built and has no contract.", "hint", page);
    else {
      var table = h("table", "", "columns", page);
      var head = h("tr", "", "", table);
      ["column", "type", "description", "lineage", "checks"].forEach(function (c) { h("th", c, "", head); });
      t.columns.forEach(function (c) {
        var row = h("tr", "", "column" + (c.name === column ? " target" : ""), table);
        row.dataset.column = c.name;
        row.id = "column-" + c.name;
        h("code", c.name, "", h("td", "", "name", row));
        h("td", (c.type || "?") + (c.required ? " not null" : ""), "type", row);
        h("td", c.description, "description", row);
        var lin = h("td", "", "lineage", row);
        refs(c.upstream, lin, "\u2190 ");
        if (c.upstream.length && c.downstream.length) h("br", "", "", lin);
        refs(c.downstream, lin, "\u2192 ");
        h("td", c.checks.join(", "), "checks", row);
      });
    }

    h("h3", "Checks", "", page);
    if (!t.checks.length) h("p", "No checks.", "hint", page);
    else {
      var checks = h("table", "", "checks", page);
      var ch = h("tr", "", "", checks);
      ["check", "severity", "arguments"].forEach(function (c) { h("th", c, "", ch); });
      t.checks.forEach(function (c) {
        var row = h("tr", "", "check", checks);
        h("td", c.name, "", row);
        h("td", c.severity, "", row);
        h("code", c.params, "", h("td", "", "", row));
      });
    }

    [["Upstream", t.upstream], ["Downstream", t.downstream], ["Read by its checks", t.check_reads]].forEach(function (p) {
      if (p[0] === "Read by its checks" && !p[1].length) return;
      h("h3", p[0], "", page);
      if (!p[1].length) { h("p", "None.", "hint", page); return; }
      var ul = h("ul", "", "links " + p[0].toLowerCase(), page);
      p[1].forEach(function (name) {
        var li = h("li", "", "", ul);
        if (byName[name]) tableLink(name, li); else h("code", name, "", li);
      });
    });

    if (t.kind === "model") {
      h("h3", "SQL", "", page);
      h("code", t.sql, "", h("pre", "", "sql", page));
      var details = h("details", "", "", page);
      h("summary", "Model file as written (" + t.path + ")", "", details);
      h("code", t.template, "", h("pre", "", "template", details));
    }
    if (column) {
      var target = document.getElementById("column-" + column);
      if (target) target.scrollIntoView({ block: "center" });
    }
  }

  // ---------------------------------------------------------------- routing
  function route() {
    var p = new URLSearchParams(location.hash.slice(1));
    if (p.has("lineage") || p.has("node")) return { view: "lineage" };
    if (p.get("table") && byName[p.get("table")]) return { view: "table", table: p.get("table"), column: p.get("column") };
    return { view: "overview" };
  }

  function show() {
    var r = route();
    page.textContent = "";
    page.hidden = r.view === "lineage";
    graphView.hidden = r.view !== "lineage";
    document.getElementById("to-overview").classList.toggle("current", r.view === "overview");
    document.getElementById("to-lineage").classList.toggle("current", r.view === "lineage");
    if (r.view === "table") tablePage(byName[r.table], r.column);
    else if (r.view === "overview") overview();
    document.body.dataset.view = r.view;
    sidebar();
    if (r.view !== "table") document.getElementById("content").scrollTop = 0;
  }
  window.addEventListener("hashchange", show);

  // The graph: a double click on a table opens its page; the panel links to it too.
  document.querySelectorAll("#graph g.node").forEach(function (node) {
    node.addEventListener("dblclick", function () { location.hash = tableHash(node.dataset.name); });
  });
  var panel = document.getElementById("panel");
  new MutationObserver(function () {
    var name = panel.dataset.selected, title = panel.querySelector("h2");
    if (!name || !title || !byName[name] || title.querySelector("a")) return;
    title.textContent = "";
    link(name, tableHash(name), title);
  }).observe(panel, { childList: true });

  document.getElementById("generated").textContent = "generated " + data.generated_at;
  show();
  document.body.dataset.docsReady = "true";
})();
