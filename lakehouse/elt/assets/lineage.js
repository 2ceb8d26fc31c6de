// lake lineage --format html: draws the table graph with dagre's layout (vendored beside this file)
// as SVG, and shows a table's column lineage when it is clicked. `#node=NAME&column=COL` in the URL
// clicks them on load, so a link (or a headless browser) can open the page at a column.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg"; // the SVG namespace name, not a resource
  var svg = document.getElementById("graph");
  var panel = document.getElementById("panel");

  function el(tag, attrs, parent) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(node);
    return node;
  }

  function h(tag, text, cls, parent) {
    var node = document.createElement(tag);
    if (text) node.textContent = text;
    if (cls) node.className = cls;
    if (parent) parent.appendChild(node);
    return node;
  }

  var measure = document.createElement("canvas").getContext("2d");
  function textWidth(text, px) {
    measure.font = px + "px system-ui, sans-serif";
    return measure.measureText(text).width;
  }

  function key(ref) { return ref[0] + "." + ref[1]; }

  function draw(data) {
    var columns = data.columns || {};
    var nodes = {}, edges = [], parents = {}, children = {}, usedBy = {};
    data.edges.forEach(function (e) {
      (parents[e[1]] = parents[e[1]] || []).push(e[0]);
      (children[e[0]] = children[e[0]] || []).push(e[1]);
    });
    Object.keys(columns).forEach(function (table) {
      Object.keys(columns[table]).forEach(function (col) {
        columns[table][col].forEach(function (up) {
          var cols = (usedBy[up[0]] = usedBy[up[0]] || {});
          (cols[up[1]] = cols[up[1]] || []).push([table, col]);
        });
      });
    });

    var g = new dagre.graphlib.Graph();
    g.setGraph({ rankdir: "LR", nodesep: 22, ranksep: 80, marginx: 16, marginy: 16 });
    g.setDefaultEdgeLabel(function () { return {}; });
    data.nodes.forEach(function (n) {
      n.label = n.kind + (n.materialized ? " \u00b7 " + n.materialized : "");
      var width = Math.max(textWidth(n.name, 13), textWidth(n.label, 11)) + 26;
      g.setNode(n.name, { width: width, height: 42 });
    });
    data.edges.forEach(function (e) { g.setEdge(e[0], e[1]); });
    dagre.layout(g);

    var marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7,
      markerHeight: 7, orient: "auto" }, el("defs", {}, svg));
    el("path", { d: "M0,0 L10,5 L0,10 z", fill: "#9ca3af" }, marker);
    var view = el("g", {}, svg);
    g.edges().forEach(function (e) {
      var p = g.edge(e).points, d = "M" + p[0].x + "," + p[0].y;
      for (var i = 1; i < p.length - 1; i++) { // smooth through the midpoints of dagre's bends
        d += " Q" + p[i].x + "," + p[i].y + " " + (p[i].x + p[i + 1].x) / 2 + "," + (p[i].y + p[i + 1].y) / 2;
      }
      d += " L" + p[p.length - 1].x + "," + p[p.length - 1].y;
      var group = el("g", { "class": "edge", "data-from": e.v, "data-to": e.w }, view);
      el("path", { d: d, "marker-end": "url(#arrow)" }, group);
      edges.push(group);
    });
    data.nodes.forEach(function (n) {
      var box = g.node(n.name);
      var group = el("g", { "class": "node " + n.kind, "data-name": n.name,
        transform: "translate(" + (box.x - box.width / 2) + "," + (box.y - box.height / 2) + ")" }, view);
      el("rect", { width: box.width, height: box.height, rx: 6 }, group);
      el("text", { x: 13, y: 18, "class": "name" }, group).textContent = n.name;
      el("text", { x: 13, y: 33, "class": "kind" }, group).textContent = n.label;
      if (n.description) el("title", {}, group).textContent = n.description;
      group.addEventListener("click", function (ev) {
        ev.stopPropagation();
        if (!dragged) select(n.name);
      });
      nodes[n.name] = { data: n, el: group };
    });

    // ------------------------------------------------------------ selection
    function reach(start, next) {
      var seen = new Set(), todo = [start];
      while (todo.length) {
        (next[todo.pop()] || []).forEach(function (m) { if (!seen.has(m)) { seen.add(m); todo.push(m); } });
      }
      return seen;
    }

    function highlight(lit, selected) {
      svg.classList.toggle("focus", lit !== null);
      Object.keys(nodes).forEach(function (name) {
        var cls = nodes[name].el.classList;
        cls.toggle("selected", name === selected);
        cls.toggle("lit", lit !== null && lit.has(name));
        cls.toggle("traced", lit !== null && lit.traced === true && lit.has(name) && name !== selected);
      });
      edges.forEach(function (e) {
        e.classList.toggle("lit", lit !== null && lit.has(e.dataset.from) && lit.has(e.dataset.to) &&
          (lit.traced !== true || lit.pairs.has(e.dataset.from + " " + e.dataset.to)));
      });
    }

    function remember(hash) {
      try { history.replaceState(null, "", hash); } catch (e) { /* file: URLs may refuse; harmless */ }
    }

    function clear() {
      highlight(null, null);
      panel.textContent = "";
      delete panel.dataset.selected;
      h("p", "Click a table to see where each of its columns comes from. Drag to pan, scroll to zoom.", "hint", panel);
      remember("#");
    }

    function select(name) {
      var lit = reach(name, parents);
      reach(name, children).forEach(function (m) { lit.add(m); });
      lit.add(name);
      highlight(lit, name);
      showTable(name);
      remember("#node=" + encodeURIComponent(name));
    }

    function showTable(name) {
      var n = nodes[name].data;
      panel.textContent = "";
      panel.dataset.selected = name;
      h("h2", name, "", panel);
      h("div", [n.label, n.path].filter(Boolean).join(" \u2014 "), "meta", panel);
      if (n.description) h("p", n.description, "", panel);
      if (data.errors[name]) h("p", "Column lineage unavailable: " + data.errors[name], "error", panel);
      var own = columns[name], source = !own;
      var cols = own || usedBy[name] || {};
      var names = Object.keys(cols);
      if (!names.length) {
        h("p", data.columns ? "No column lineage is known for this table." :
          "Column lineage was not computed.", "hint", panel);
        return;
      }
      h("div", source ? "Columns read downstream (click one to trace it):" :
        "Columns and the columns they come from (click one to trace it):", "meta", panel);
      var table = h("table", "", "", panel);
      names.forEach(function (col) {
        var row = h("tr", "", "column", table);
        row.dataset.column = col;
        h("td", col, "col", row);
        var refs = h("td", "", "", row);
        refs.appendChild(document.createTextNode(source ? "\u2192 " : "\u2190 "));
        cols[col].forEach(function (ref, i) {
          if (i) refs.appendChild(document.createTextNode(", "));
          h("code", key(ref), "", refs);
        });
        row.addEventListener("click", function () { trace(name, col, row); });
      });
    }

    // ------------------------------------------------------------ one column's lineage
    function chains(ref, next, depth) { // every path from a column to columns with no further lineage
      var refs = (next[ref[0]] || {})[ref[1]];
      if (!refs || !refs.length || depth > 20) return [[]];
      var out = [];
      refs.forEach(function (other) {
        chains(other, next, depth + 1).forEach(function (rest) { out.push([other].concat(rest)); });
      });
      return out;
    }

    function trace(name, col, row) {
      panel.querySelectorAll("tr.column").forEach(function (r) { r.classList.toggle("selected", r === row); });
      var start = [name, col], lit = new Set([name]), pairs = new Set(), seen = new Set();
      var todo = [[start, columns, 1], [start, usedBy, -1]];
      while (todo.length) { // walk the column graph up (columns) and down (usedBy)
        var item = todo.pop(), ref = item[0], next = item[1];
        ((next[ref[0]] || {})[ref[1]] || []).forEach(function (other) {
          lit.add(other[0]);
          pairs.add(item[2] > 0 ? other[0] + " " + ref[0] : ref[0] + " " + other[0]);
          var id = item[2] + key(other);
          if (!seen.has(id)) { seen.add(id); todo.push([other, next, item[2]]); }
        });
      }
      lit.traced = true;
      lit.pairs = pairs;
      highlight(lit, name);
      var old = document.getElementById("chains");
      if (old) old.parentNode.parentNode.remove();
      var cell = h("td", "", "", null), list = h("ul", "", "chains", cell);
      cell.colSpan = 2;
      list.id = "chains";
      row.after(h("tr", "", "detail", null));
      row.nextSibling.appendChild(cell);
      h("li", "Lineage of " + key(start) + ":", "meta", list).style.listStyle = "none";
      [[columns, " \u2190 "], [usedBy, " \u2192 "]].forEach(function (way) { // up, then down
        chains(start, way[0], 0).forEach(function (path) {
          if (path.length) h("li", [key(start)].concat(path.map(key)).join(way[1]), "chain", list);
        });
      });
      if (!list.querySelector(".chain")) h("li", "no recorded lineage", "hint", list);
      remember("#node=" + encodeURIComponent(name) + "&column=" + encodeURIComponent(col));
    }

    // ------------------------------------------------------------ pan and zoom
    var size = g.graph(), vb = { x: 0, y: 0, w: Math.max(size.width, 1), h: Math.max(size.height, 1) };
    var dragged = false, start = null;
    function apply() { svg.setAttribute("viewBox", [vb.x, vb.y, vb.w, vb.h].join(" ")); }
    function scale() { var m = svg.getScreenCTM(); return m ? 1 / m.a : 1; }
    svg.addEventListener("wheel", function (ev) {
      ev.preventDefault();
      var k = Math.exp(ev.deltaY * 0.0015), m = svg.getScreenCTM().inverse();
      var pt = new DOMPoint(ev.clientX, ev.clientY).matrixTransform(m);
      vb = { x: pt.x - (pt.x - vb.x) * k, y: pt.y - (pt.y - vb.y) * k, w: vb.w * k, h: vb.h * k };
      apply();
    }, { passive: false });
    svg.addEventListener("pointerdown", function (ev) {
      start = { x: ev.clientX, y: ev.clientY, vx: vb.x, vy: vb.y, s: scale() };
      dragged = false;
    });
    window.addEventListener("pointermove", function (ev) {
      if (!start) return;
      var dx = ev.clientX - start.x, dy = ev.clientY - start.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) dragged = true;
      if (dragged) { vb.x = start.vx - dx * start.s; vb.y = start.vy - dy * start.s; apply(); }
    });
    window.addEventListener("pointerup", function () { start = null; });
    svg.addEventListener("click", function () { if (!dragged) clear(); });
    apply();

    function fromHash() {
      var params = new URLSearchParams(location.hash.slice(1)), name = params.get("node");
      if (!name || !nodes[name]) return;
      dragged = false;
      nodes[name].el.dispatchEvent(new MouseEvent("click", { bubbles: true }));
      var col = params.get("column"), rows = panel.querySelectorAll("tr.column");
      for (var i = 0; col !== null && i < rows.length; i++) {
        if (rows[i].dataset.column === col) rows[i].dispatchEvent(new MouseEvent("click", { bubbles: true }));
      }
    }
    window.addEventListener("hashchange", fromHash);

    var models = data.nodes.filter(function (n) { return n.kind === "model"; }).length;
    document.getElementById("summary").textContent = models + " models, " +
      (data.nodes.length - models) + " sources, " + data.edges.length + " edges";
    fromHash();
  }

  try {
    draw(JSON.parse(document.getElementById("lineage-data").textContent));
    document.body.dataset.ready = "true";
  } catch (err) {
    panel.textContent = "";
    h("p", "Could not draw the graph: " + err, "error", panel);
    document.body.dataset.error = String(err);
  }
})();
