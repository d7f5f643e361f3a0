// Draws the service map of /map with the bundled cytoscape.js; the data comes from the page's
// <script type="application/json" id="map-data"> block (never evaluated as code).
(function () {
  "use strict";
  function el(tag, text) { var e = document.createElement(tag); if (text !== undefined) e.textContent = String(text); return e; }
  function human(n) { var u = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0; while (n >= 1024 && i < 4) { n /= 1024; i++; } return (i ? n.toFixed(1) : n) + " " + u[i]; }
  function show(title, rows) {
    document.getElementById("detail-title").textContent = title;
    var t = document.getElementById("detail"); t.textContent = "";
    rows.forEach(function (r) { var tr = el("tr"); tr.appendChild(el("th", r[0])); tr.appendChild(el("td", r[1])); t.appendChild(tr); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var holder = document.getElementById("map-data"), box = document.getElementById("graph");
    if (!holder || !box || typeof cytoscape === "undefined") return;
    var payload = JSON.parse(holder.textContent), doc = payload.map, marked = {};
    (payload.highlight || []).forEach(function (id) { marked[id] = true; });
    var elements = [];
    doc.nodes.forEach(function (n) {
      var cls = n.internal ? (n.type === "IPAddress" ? "ip" : "workload") : "external";
      if (marked[n.id]) cls += " marked";
      elements.push({ data: { id: n.id, label: n.label, node: n }, classes: cls });
    });
    doc.edges.forEach(function (e, i) {
      elements.push({ data: { id: "e" + i, source: e.source, target: e.target, label: e.protocol + "/" + e.port, edge: e },
                      classes: (marked[e.source] || marked[e.target] ? "marked" : "") + (e.rejected && e.rejected === e.flows ? " rejected" : "") });
    });
    var cy = cytoscape({
      container: box, elements: elements, wheelSensitivity: 0.3,
      layout: { name: "cose", animate: false, nodeDimensionsIncludeLabels: true },
      style: [
        { selector: "node", style: { "label": "data(label)", "font-size": 10, "background-color": "#4a90d9", "text-wrap": "ellipsis", "text-max-width": 160 } },
        { selector: "node.external", style: { "background-color": "#e67e73", "shape": "ellipse" } },
        { selector: "node.ip", style: { "background-color": "#9aa5b1" } },
        { selector: "node.marked", style: { "background-color": "#b42318", "border-width": 4, "border-color": "#fdb022", "width": 40, "height": 40, "font-weight": "bold" } },
        { selector: "edge", style: { "width": 1.5, "curve-style": "bezier", "target-arrow-shape": "triangle", "line-color": "#9aa5b1", "target-arrow-color": "#9aa5b1", "font-size": 8 } },
        { selector: "edge.marked", style: { "line-color": "#b42318", "target-arrow-color": "#b42318", "width": 3 } },
        { selector: "edge.rejected", style: { "line-style": "dashed" } }
      ]
    });
    cy.on("tap", "node", function (ev) {
      var n = ev.target.data("node");
      show(n.label, [["id", n.id], ["type", n.type], ["namespace", n.namespace || "-"], ["internal", n.internal ? "yes" : "no"], ["names", (n.names || []).join(", ")]]);
    });
    cy.on("tap", "edge", function (ev) {
      var e = ev.target.data("edge");
      show(e.source + " → " + e.target, [["port", e.protocol + "/" + e.port], ["bytes", human(e.bytes)], ["flows", e.flows], ["rejected", e.rejected], ["first", e.first_seen], ["last", e.last_seen]]);
    });
    box.dataset.ready = "1";
  });
})();
