// The dashboard's history explorer: filters, a metric and x-axis switch, a search over case ids,
// one Plotly chart per group of comparable cases (drawn when scrolled into view), change points
// and regressions drawn and listed. Every string from the data goes into the page as text
// (textContent) or, inside Plotly's labels, escaped: nothing from a results file is markup.
// The view (metric, x axis, filters, search, machine speed) is kept in the URL's fragment, so
// a link opens the page as it was shown; change points and regressions are drawn on the
// metric they were found on, which the page opens on.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("explorer-data").textContent);
  var state = { metric: data.metric || (data.metrics.length ? data.metrics[0].name : null), x: "date", search: "", speed: false, filters: {} };
  var XAXES = ["date", "commit", "run"];
  function readView() {
    // #metric=...&x=...&q=...&speed=1&f.version=v1.5: unknown names and values are ignored.
    var params = new URLSearchParams(location.hash.replace(/^#/, ""));
    var view = { filters: {} };
    params.forEach(function (value, key) {
      if (key === "metric" && data.metrics.some(function (m) { return m.name === value; })) view.metric = value;
      else if (key === "x" && XAXES.indexOf(value) >= 0) view.x = value;
      else if (key === "q") view.search = value.toLowerCase();
      else if (key === "speed") view.speed = value === "1";
      else if (key.indexOf("f.") === 0 && (data.axes[key.slice(2)] || []).indexOf(value) >= 0) view.filters[key.slice(2)] = value;
    });
    return view;
  }
  function writeView() {
    var params = new URLSearchParams();
    if (state.metric !== (data.metric || (data.metrics.length ? data.metrics[0].name : null))) params.set("metric", state.metric);
    if (state.x !== "date") params.set("x", state.x);
    if (state.search) params.set("q", state.search);
    if (state.speed) params.set("speed", "1");
    Object.keys(state.filters).forEach(function (axis) { if (state.filters[axis]) params.set("f." + axis, state.filters[axis]); });
    var hash = params.toString();
    if (hash !== location.hash.replace(/^#/, "")) history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search);
  }
  var observer = null;
  var renders = 0;
  var EAGER = 1;

  function esc(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }
  function make(tag, text, attrs) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }
  function slug(text) { return "group-" + String(text).replace(/[^A-Za-z0-9_-]+/g, "-"); }
  function commitUrl(commit) {
    if (!data.commit_url || !commit) return null;
    return data.commit_url.split("{commit}").join(encodeURIComponent(commit));
  }
  function axisValue(s, axis) {
    if (axis === "machine" || axis === "backend") return s[axis];
    return s.axes[axis];
  }
  function matches(s) {
    var axes = Object.keys(state.filters);
    for (var i = 0; i < axes.length; i++) {
      var want = state.filters[axes[i]];
      if (want !== "" && String(axisValue(s, axes[i])) !== want) return false;
    }
    // A series with no figure of this metric (a ratio's, or memory on a CPU) has no chart here.
    if (!(s.values[state.metric] || []).some(function (v) { return v !== null; })) return false;
    return !state.search || s.case.toLowerCase().indexOf(state.search) >= 0;
  }
  function dateOf(run) { return run.date ? run.date.replace("T", " ").slice(0, 19) : run.name; }
  // A run's time as people read it: to the minute, with its zone (runs are stored in UTC).
  function whenOf(run) {
    if (!run.date) return null;
    var zone = /(Z|[+-]\d\d:?\d\d)$/.exec(run.date);
    return run.date.replace("T", " ").slice(0, 16) + (zone ? (zone[1] === "Z" || /^[+-]00:?00$/.test(zone[1]) ? " UTC" : " " + zone[1]) : "");
  }
  function xOf(index) {
    var run = data.runs[index];
    if (state.x === "commit") return run.commit ? run.commit.slice(0, 10) + " #" + index : "#" + index;
    if (state.x === "run") return index + 1;
    return dateOf(run);
  }
  function metricInfo(name) {
    for (var i = 0; i < data.metrics.length; i++) if (data.metrics[i].name === name) return data.metrics[i];
    return { name: name, unit: "" };
  }
  function hoverText(s, i, value, low, high) {
    var run = data.runs[s.runs[i]];
    var lines = [
      "<b>" + esc(s.case) + "</b> | " + esc(s.machine),
      "run: " + esc(run.name),
      "date: " + esc(whenOf(run) || "unknown"),
      "commit: " + esc(run.commit || "unknown"),
      esc(state.metric) + ": " + esc(value) + (low !== null && low !== undefined ? " [" + esc(low) + ", " + esc(high) + "]" : ""),
    ];
    if (s.n.length && s.n[i] !== null) lines.push("n: " + esc(s.n[i]) + " steps");
    if (s.flags[i]) lines.push("flags: " + esc(s.flags[i]));
    if (s.status[i] !== "ok") lines.push("status: " + esc(s.status[i]));
    return lines.join("<br>");
  }
  // A series of more than LONG points is drawn as a line with its interval as a band (three
  // paths), not as markers with whiskers (a path per point): a thousand runs stay light to draw.
  var LONG = 150;
  var COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  function rgba(hex, alpha) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
  }
  function traceOf(s, index, color) {
    var values = s.values[state.metric] || [];
    var lows = s.low[state.metric], highs = s.high[state.metric];
    var t = { type: "scatter", mode: "lines+markers", name: esc(s.machine + " | " + s.case), x: [], y: [], text: [],
      customdata: [], hovertemplate: "%{text}<extra></extra>", meta: index, legendgroup: "s" + index,
      line: { color: color, width: 1.5 }, marker: { color: color, size: 5 } };
    var plus = [], minus = [], bandLow = [], bandHigh = [];
    for (var i = 0; i < values.length; i++) {
      if (values[i] === null) continue;
      var low = lows ? lows[i] : null, high = highs ? highs[i] : null;
      var known = low !== null && low !== undefined && high !== null && high !== undefined;
      t.x.push(xOf(s.runs[i]));
      t.y.push(values[i]);
      t.text.push(hoverText(s, i, values[i], low, high));
      t.customdata.push(data.runs[s.runs[i]].commit);
      plus.push(known ? Math.max(high - values[i], 0) : 0);
      minus.push(known ? Math.max(values[i] - low, 0) : 0);
      bandLow.push(known ? low : values[i]);
      bandHigh.push(known ? high : values[i]);
    }
    var long = t.x.length > LONG;
    if (long) t.mode = "lines";
    var out = [t];
    if (lows && !long) t.error_y = { type: "data", symmetric: false, array: plus, arrayminus: minus, thickness: 1, width: 2, color: color };
    if (lows && long) {
      var edge = { type: "scatter", mode: "lines", x: t.x, line: { width: 0 }, hoverinfo: "skip", showlegend: false, legendgroup: t.legendgroup };
      out.push(Object.assign({}, edge, { y: bandLow, name: "95% interval" }));
      out.push(Object.assign({}, edge, { y: bandHigh, name: "95% interval", fill: "tonexty", fillcolor: rgba(color, 0.2) }));
    }
    return out;
  }
  function marksOf(list, kind, members) {
    var x = [], y = [], text = [];
    if (data.marks_metric && data.marks_metric !== state.metric) return null;  // found on another metric
    list.forEach(function (mark) {
      if (!(mark.series in members)) return;
      var s = data.series[mark.series];
      var at = s.runs.indexOf(mark.run);
      var values = s.values[state.metric] || [];
      if (at < 0 || values[at] === null || values[at] === undefined) return;
      x.push(xOf(mark.run));
      y.push(values[at]);
      var what = kind === "change" ? "change point (" + esc(mark.status || "") + ")" : "regression against the run before";
      text.push(esc(s.case) + ": " + what + " " + (mark.change_pct === null ? "" : esc(mark.change_pct) + "%"));
    });
    if (!x.length) return null;
    return { type: "scatter", mode: "markers", x: x, y: y, text: text, hovertemplate: "%{text}<extra></extra>",
      name: kind === "change" ? "change point" : "regression",
      marker: kind === "change" ? { symbol: "diamond-open", size: 14, color: "darkorange", line: { width: 2 } }
                                 : { symbol: "x", size: 12, color: "red" } };
  }
  function speedTrace(members) {
    var seen = {}, x = [], y = [];
    Object.keys(members).forEach(function (k) {
      data.series[k].runs.forEach(function (r) { seen[r] = true; });
    });
    Object.keys(seen).map(Number).sort(function (a, b) { return a - b; }).forEach(function (r) {
      if (data.runs[r].speed === null) return;
      x.push(xOf(r)); y.push(data.runs[r].speed);
    });
    if (!x.length) return null;
    return { type: "scatter", mode: "lines", x: x, y: y, yaxis: "y2", name: "machine speed (GFLOP/s)",
      line: { dash: "dot", color: "gray" }, hovertemplate: "machine speed %{y} GFLOP/s<extra></extra>" };
  }
  function plot(div, name, list) {
    var members = {};
    var traces = [];
    list.forEach(function (s, i) {
      var index = data.series.indexOf(s);
      members[index] = true;
      traces = traces.concat(traceOf(s, index, COLORS[i % COLORS.length]));
    });
    var marks = [marksOf(data.changes, "change", members), marksOf(data.regressions, "regression", members)];
    if (state.speed) marks.push(speedTrace(members));
    marks.forEach(function (m) { if (m) traces.push(m); });
    var info = metricInfo(state.metric);
    var layout = {
      title: { text: esc(name), font: { size: 14 } },
      height: 340, margin: { l: 60, r: 60, t: 40, b: 50 }, showlegend: true, legend: { orientation: "h", y: -0.25 },
      xaxis: { type: state.x === "date" ? "date" : state.x === "run" ? "linear" : "category", title: { text: state.x } },
      yaxis: { title: { text: esc(info.name + (info.unit ? " (" + info.unit + ")" : "")) } },
    };
    if (state.speed) layout.yaxis2 = { overlaying: "y", side: "right", title: { text: "GFLOP/s" }, showgrid: false };
    Plotly.newPlot(div, traces, layout, { responsive: true, displaylogo: false });
    div.on("plotly_click", function (event) {
      var url = event.points.length ? commitUrl(event.points[0].customdata) : null;
      if (url) window.open(url, "_blank", "noopener");
    });
  }
  function render() {
    writeView();
    var charts = document.getElementById("charts");
    Array.prototype.forEach.call(charts.querySelectorAll(".chart"), function (div) { if (div.data) Plotly.purge(div); });
    charts.textContent = "";
    if (observer) observer.disconnect();
    var groups = {}, order = [];
    data.series.forEach(function (s) {
      if (!matches(s)) return;
      if (!(s.group in groups)) { groups[s.group] = []; order.push(s.group); }
      groups[s.group].push(s);
    });
    var shown = order.reduce(function (n, g) { return n + groups[g].length; }, 0);
    document.getElementById("shown").textContent = shown + " of " + data.series.length + " series, " + order.length + " charts";
    // Charts that scroll into view are drawn one per task, so that a click or a key is
    // answered between two charts rather than after all of them.
    var queue = [], draining = false, generation = ++renders;
    function drain() {
      if (generation !== renders) return;  // a newer render replaced these charts
      var div = queue.shift();
      if (div && !div.data) plot(div, div.getAttribute("data-group"), groups[div.getAttribute("data-group")]);
      if (queue.length) setTimeout(drain, 0); else draining = false;
    }
    observer = "IntersectionObserver" in window ? new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (entry.isIntersecting && !entry.target.data && queue.indexOf(entry.target) < 0) queue.push(entry.target);
      });
      if (queue.length && !draining) { draining = true; setTimeout(drain, 0); }
    }, { rootMargin: "100px" }) : null;
    order.forEach(function (name) {
      var section = make("section", null, { id: slug(name), "class": "group" });
      section.appendChild(make("h3", name + " (" + groups[name].length + " series)"));
      var div = make("div", null, { "class": "chart", "data-group": name });
      section.appendChild(div);
      charts.appendChild(section);
      // The first charts at once (the page is usable as it opens), the rest as they scroll into view.
      if (observer && charts.children.length > EAGER) observer.observe(div); else plot(div, name, groups[name]);
    });
  }
  function control(label, node) {
    var wrap = make("label", label + " ");
    wrap.appendChild(node);
    document.getElementById("controls").appendChild(wrap);
    return node;
  }
  function select(id, options, value) {
    var node = make("select", null, { id: id });
    options.forEach(function (o) {
      var option = make("option", o[1], { value: o[0] });
      if (o[0] === value) option.selected = true;
      node.appendChild(option);
    });
    return node;
  }
  function listMarks() {
    var list = document.getElementById("marks");
    var items = data.changes.map(function (m) { return [m, "change"]; })
      .concat(data.regressions.map(function (m) { return [m, "regression"]; }))
      .sort(function (a, b) { return b[0].run - a[0].run; });
    document.getElementById("marks-summary").textContent = items.length + " change point(s) and regression(s)" +
      (data.marks_metric ? " of " + data.marks_metric + " (drawn on its charts)" : "") + ", newest first";
    if (items.length <= 10) document.getElementById("marks-box").open = true;
    if (!items.length) { list.appendChild(make("li", "none")); return; }
    items.forEach(function (item) {
      var mark = item[0], s = data.series[mark.series], run = data.runs[mark.run];
      var li = make("li");
      var link = make("a", s.case + " on " + s.machine, { href: "#" + slug(s.group), "class": "series-link" });
      li.appendChild(link);
      var pct = mark.change_pct === null ? "" : (mark.change_pct > 0 ? "+" : "") + mark.change_pct + "% ";
      li.appendChild(document.createTextNode(": " + (item[1] === "change" ? "change point " : "regression ") + pct +
        (mark.status ? "(" + mark.status + ") " : "") + "at " + (whenOf(run) || run.name) + ", commit "));
      var url = commitUrl(run.commit);
      li.appendChild(url ? make("a", (run.commit || "").slice(0, 10), { href: url, "class": "commit-link" })
                         : make("code", (run.commit || "unknown").slice(0, 10)));
      list.appendChild(li);
    });
  }
  function setup() {
    var view = readView();
    ["metric", "x", "search", "speed"].forEach(function (k) { if (view[k] !== undefined) state[k] = view[k]; });
    control("Metric", select("metric", data.metrics.map(function (m) { return [m.name, m.name + (m.unit ? " (" + m.unit + ")" : "")]; }), state.metric))
      .addEventListener("change", function (e) { state.metric = e.target.value; render(); });
    control("Against", select("xaxis", [["date", "date"], ["commit", "commit"], ["run", "run (even spacing)"]], state.x))
      .addEventListener("change", function (e) { state.x = e.target.value; render(); });
    Object.keys(data.axes).forEach(function (axis) {
      var values = data.axes[axis];
      if (values.length < 2) return;
      state.filters[axis] = view.filters[axis] || "";
      control(axis, select("filter-" + axis, [["", "all"]].concat(values.map(function (v) { return [v, v]; })), state.filters[axis]))
        .addEventListener("change", function (e) { state.filters[axis] = e.target.value; render(); });
    });
    var search = control("Search", make("input", null, { id: "search", type: "search", placeholder: "case id" }));
    search.value = state.search;
    search.addEventListener("input", function (e) { state.search = e.target.value.toLowerCase(); render(); });
    var speed = control("Machine speed", make("input", null, { id: "speed", type: "checkbox" }));
    speed.checked = state.speed;
    speed.addEventListener("change", function (e) { state.speed = e.target.checked; render(); });
    listMarks();
    render();
    document.body.setAttribute("data-explorer", "ready");
  }
  setup();
})();
