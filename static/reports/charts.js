// Charts of the reports page, drawn as inline SVG from the figures the page embeds
// (#reports-data). No library, no network: the same numbers as the tables and CSVs.
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var COLORS = ["#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2"];

  function el(name, attrs, text) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Each chart is named by its figure's caption (screen readers); the figures
  // themselves are in the tables below and in each mark's hover title.
  var current = "";
  function svg(width, height) {
    return el("svg", { viewBox: "0 0 " + width + " " + height, width: "100%", role: "img", "aria-label": current });
  }

  // Series drawn over one another stay apart: each has its own dash and marker size.
  var DASHES = ["", "6 3", "2 3", "8 3 2 3", "4 4", "1 2"];

  function column(table, name) {
    var i = table.columns.indexOf(name);
    return table.rows.map(function (r) { return r[i]; });
  }

  function empty(box, i18n) {
    var p = document.createElement("p");
    p.className = "empty";
    p.textContent = i18n.none;
    box.appendChild(p);
  }

  function legend(root, names, i18n, x, y) {
    names.forEach(function (name, i) {
      root.appendChild(el("line", { x1: x + i * 110, y1: y + 5, x2: x + i * 110 + 12, y2: y + 5, stroke: COLORS[i % COLORS.length],
                                    "stroke-width": 2, "stroke-dasharray": DASHES[i % DASHES.length] }));
      root.appendChild(el("text", { x: x + i * 110 + 14, y: y + 9, "font-size": 11 }, (i18n.series || {})[name] || name));
    });
  }

  function lines(box, table, names, i18n) {
    if (!table || !table.rows.length) return empty(box, i18n);
    var W = 640, H = 220, L = 40, B = 40, T = 24;
    var days = column(table, "day");
    var series = names.map(function (n) { return column(table, n); });
    var max = Math.max(1, Math.max.apply(null, series.map(function (s) { return Math.max.apply(null, s); })));
    var root = svg(W, H);
    var dx = days.length > 1 ? (W - L - 24) / (days.length - 1) : 0;
    function y(v) { return T + (H - T - B) * (1 - v / max); }
    root.appendChild(el("line", { x1: L, y1: y(0), x2: W - 10, y2: y(0), stroke: "#9ca3af" }));
    root.appendChild(el("text", { x: L - 4, y: y(max) + 4, "text-anchor": "end", "font-size": 10 }, String(max)));
    root.appendChild(el("text", { x: L - 4, y: y(0) + 4, "text-anchor": "end", "font-size": 10 }, "0"));
    series.forEach(function (values, s) {
      var pts = values.map(function (v, i) { return (L + i * dx).toFixed(1) + "," + y(v).toFixed(1); });
      root.appendChild(el("polyline", { points: pts.join(" "), fill: "none", stroke: COLORS[s], "stroke-width": 2,
                                        "stroke-dasharray": DASHES[s % DASHES.length], "data-series": names[s] }));
    });
    // One hover target per day: its title lists every series' value that day.
    days.forEach(function (d, i) {
      var x = L + i * dx, w = Math.max(dx, 6);
      var hit = el("rect", { x: x - w / 2, y: T, width: w, height: H - T - B, fill: "transparent", "class": "hover-day",
                             "data-day": d });
      hit.appendChild(el("title", {}, d + "\n" + names.map(function (n, s) {
        return ((i18n.series || {})[n] || n) + ": " + series[s][i];
      }).join("\n")));
      root.appendChild(hit);
      series.forEach(function (values, s) {
        root.appendChild(el("circle", { cx: x, cy: y(values[i]), r: 3 - s * 0.4, fill: COLORS[s], "pointer-events": "none" }));
      });
    });
    var step = Math.max(1, Math.ceil(days.length / 8));
    days.forEach(function (d, i) {
      if (i % step === 0) {
        root.appendChild(el("text", { x: L + i * dx, y: H - B + 14, "text-anchor": "middle", "font-size": 10 }, d.slice(5)));
      }
    });
    legend(root, names, i18n, L, H - 14);
    box.appendChild(root);
  }

  function bars(box, labels, values, i18n) {
    if (!values.length || Math.max.apply(null, values) === 0) return empty(box, i18n);
    var W = 640, row = 22, L = 150, H = labels.length * row + 8;
    var max = Math.max.apply(null, values);
    var root = svg(W, H);
    labels.forEach(function (label, i) {
      var w = (W - L - 60) * values[i] / max;
      root.appendChild(el("text", { x: L - 6, y: i * row + 15, "text-anchor": "end", "font-size": 11 }, label));
      var bar = el("rect", { x: L, y: i * row + 4, width: Math.max(w, 0), height: row - 8, fill: COLORS[0] });
      bar.appendChild(el("title", {}, label + ": " + values[i]));
      root.appendChild(bar);
      root.appendChild(el("text", { x: L + w + 4, y: i * row + 15, "font-size": 11 }, String(values[i])));
    });
    box.appendChild(root);
  }

  function heatmap(box, table, i18n) {
    var counts = column(table, "messages");
    if (!counts.length) return empty(box, i18n);
    var W = 640, L = 40, T = 16, cw = (W - L - 4) / 24, ch = 20;
    var max = Math.max(1, Math.max.apply(null, counts));
    var root = svg(W, T + 7 * ch + 4);
    var days = column(table, "iso_weekday"), hours = column(table, "hour");
    for (var h = 0; h < 24; h += 3) {
      root.appendChild(el("text", { x: L + h * cw + cw / 2, y: 11, "text-anchor": "middle", "font-size": 10 }, String(h)));
    }
    for (var d = 0; d < 7; d++) {
      root.appendChild(el("text", { x: L - 6, y: T + d * ch + 14, "text-anchor": "end", "font-size": 10 }, i18n.weekdays[d]));
    }
    counts.forEach(function (n, i) {
      var cell = el("rect", {
        x: L + hours[i] * cw, y: T + (days[i] - 1) * ch, width: cw - 1, height: ch - 1,
        fill: "rgba(37, 99, 235, " + (n ? 0.12 + 0.88 * n / max : 0.04).toFixed(3) + ")"
      });
      cell.appendChild(el("title", {}, i18n.weekdays[days[i] - 1] + " " + hours[i] + ":00 — " + n));
      root.appendChild(cell);
    });
    box.appendChild(root);
  }

  function draw() {
    var source = document.getElementById("reports-data");
    if (!source) return;
    var data = JSON.parse(source.textContent);
    var i18n = JSON.parse(document.getElementById("reports-i18n").textContent);
    document.querySelectorAll("[data-chart]").forEach(function (box) {
      var name = box.getAttribute("data-chart");
      var table = data[name];
      if (!table) return;
      var caption = box.closest("figure") && box.closest("figure").querySelector("figcaption");
      current = caption ? caption.textContent : name;
      if (name === "volume") lines(box, table, ["opened", "resolved", "received", "sent"], i18n);
      else if (name === "opt-outs") lines(box, table, ["opted_out", "opted_in"], i18n);
      else if (name === "heatmap") heatmap(box, table, i18n);
      else if (name === "delivery") {
        var stages = table.rows.filter(function (r) { return r[0] !== "pending"; });
        bars(box, stages.map(function (r) { return (i18n.series || {})[r[0]] || r[0]; }),
             stages.map(function (r) { return r[1]; }), i18n);
      } else if (name === "messages-by-author") {
        var sent = table.rows.filter(function (r) { return r[0] === "sent" && r[1] !== "total"; });
        bars(box, sent.map(function (r) { return (i18n.series || {})[r[1]] || r[1]; }), sent.map(function (r) { return r[2]; }), i18n);
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
