// The machines page: the procurement table sortable and filterable, each figure with its
// interval beside it, and a two-machine comparison. Strings from the data go in as text only.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("machines-data").textContent);
  var rows = data.rows;
  var KEYS = ["machine", "version", "mode", "precision"];
  var state = { sort: "speedup_vs_reference", desc: true, filters: {}, search: "" };
  var COLUMNS = [
    ["machine", "machine"], ["cpu", "CPU"], ["cores", "cores"], ["memory_gb", "memory GB"], ["accelerator", "accelerator"],
    ["version", "version"], ["mode", "mode"], ["precision", "precision"], ["software", "software (best path)"],
    ["framework", "framework"],
    ["best_images_per_sec", "best images/s [95%]"], ["best_batch", "batch"], ["latency_ms_bs1", "latency bs1 ms"],
    ["largest_batch_that_fit", "largest batch"], ["speedup_vs_reference", "speed-up vs " + (data.reference || "reference")],
    ["joules_per_image", "J/image"], ["images_per_dollar_rented", "images/$ rented"], ["images_per_dollar_owned", "images/$ owned"],
    ["date", "run date"],
  ].filter(function (c) { return rows.some(function (r) { return r[c[0]] !== null && r[c[0]] !== undefined; }); });

  function make(tag, text, attrs) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }
  function fmt(v) {
    if (v === null || v === undefined) return "";
    if (typeof v === "number" && Number.isInteger(v)) return String(v);
    if (typeof v === "number") return Math.abs(v) >= 100 ? v.toFixed(1) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3);
    return String(v);
  }
  function cell(r, key) {
    if (key === "best_images_per_sec" && r.best_ci_low !== null && r.best_ci_low !== undefined)
      return fmt(r[key]) + " [" + fmt(r.best_ci_low) + ", " + fmt(r.best_ci_high) + "]";
    if (key === "speedup_vs_reference") {
      // * : the reference's best figure came from another software path (machine and software together)
      var mark = r.same_software_as_reference === false ? " *" : "";
      if (r.speedup_ci_low !== null && r.speedup_ci_low !== undefined)
        return fmt(r[key]) + " [" + fmt(r.speedup_ci_low) + ", " + fmt(r.speedup_ci_high) + "]" + mark;
      return fmt(r[key]) + mark;
    }
    return fmt(r[key]);
  }
  function shown() {
    return rows.filter(function (r) {
      for (var k in state.filters) if (state.filters[k] !== "" && String(r[k]) !== state.filters[k]) return false;
      if (!state.search) return true;
      var text = COLUMNS.map(function (c) { return String(r[c[0]] === null ? "" : r[c[0]]); }).join(" ").toLowerCase();
      return text.indexOf(state.search) >= 0;
    }).sort(function (a, b) {
      var x = a[state.sort], y = b[state.sort];
      if (x === y) return 0;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      var order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
      return state.desc ? -order : order;
    });
  }
  function render() {
    var host = document.getElementById("machines-live");
    host.textContent = "";
    var table = make("table", null, { id: "machines-table" });
    var head = make("tr");
    COLUMNS.forEach(function (c) {
      var th = make("th", c[1], { "class": "sortable" + (state.sort === c[0] ? (state.desc ? " sorted-desc" : " sorted-asc") : ""), "data-key": c[0] });
      th.addEventListener("click", function () {
        state.desc = state.sort === c[0] ? !state.desc : true;
        state.sort = c[0];
        render();
      });
      head.appendChild(th);
    });
    table.appendChild(make("thead")).appendChild(head);
    var body = make("tbody");
    shown().forEach(function (r) {
      var tr = make("tr");
      COLUMNS.forEach(function (c) { tr.appendChild(make("td", cell(r, c[0]), { "class": KEYS.indexOf(c[0]) >= 0 ? "key" : "" })); });
      body.appendChild(tr);
    });
    table.appendChild(body);
    host.appendChild(table);
    document.getElementById("machines-count").textContent = body.children.length + " of " + rows.length + " rows";
  }
  function values(key) {
    var seen = {};
    rows.forEach(function (r) { if (r[key] !== null) seen[r[key]] = true; });
    return Object.keys(seen).sort();
  }
  function select(id, options, value) {
    var node = make("select", null, { id: id });
    options.forEach(function (o) { var opt = make("option", o[1], { value: o[0] }); if (o[0] === value) opt.selected = true; node.appendChild(opt); });
    return node;
  }
  function control(host, label, node) {
    var wrap = make("label", label + " ");
    wrap.appendChild(node);
    document.getElementById(host).appendChild(wrap);
    return node;
  }
  function renderPair() {
    var a = document.getElementById("pair-a").value, b = document.getElementById("pair-b").value;
    var host = document.getElementById("pair");
    host.textContent = "";
    var byKey = {};
    rows.forEach(function (r) { byKey[[r.machine, r.version, r.mode, r.precision].join("\u0000")] = r; });
    var table = make("table", null, { id: "pair-table" });
    var head = make("tr");
    ["version", "mode", "precision", a + " images/s", b + " images/s", "ratio (second / first) [95%]"].forEach(function (h) { head.appendChild(make("th", h)); });
    table.appendChild(make("thead")).appendChild(head);
    var body = make("tbody");
    rows.filter(function (r) { return r.machine === a; }).forEach(function (ra) {
      var rb = byKey[[b, ra.version, ra.mode, ra.precision].join("\u0000")];
      if (!rb) return;
      var ratio = rb.best_images_per_sec / ra.best_images_per_sec;
      var text = fmt(ratio);
      if (ra.best_ci_low && rb.best_ci_low) text += " [" + fmt(rb.best_ci_low / ra.best_ci_high) + ", " + fmt(rb.best_ci_high / ra.best_ci_low) + "]";
      var tr = make("tr");
      [ra.version, ra.mode, ra.precision, cell(ra, "best_images_per_sec"), cell(rb, "best_images_per_sec"), text].forEach(function (v, i) {
        tr.appendChild(make("td", v, { "class": i < 3 ? "key" : "" }));
      });
      body.appendChild(tr);
    });
    if (!body.children.length) body.appendChild(make("tr")).appendChild(make("td", "no configuration measured on both", { colspan: "6" }));
    table.appendChild(body);
    host.appendChild(table);
  }
  KEYS.forEach(function (k) {
    var options = values(k);
    if (options.length < 2) return;
    state.filters[k] = "";
    control("machine-controls", k, select("mfilter-" + k, [["", "all"]].concat(options.map(function (v) { return [v, v]; })), ""))
      .addEventListener("change", function (e) { state.filters[k] = e.target.value; render(); });
  });
  control("machine-controls", "Search", make("input", null, { id: "msearch", type: "search" }))
    .addEventListener("input", function (e) { state.search = e.target.value.toLowerCase(); render(); });
  document.getElementById("machine-controls").appendChild(make("span", "", { id: "machines-count" }));
  var machines = values("machine");
  control("pair-controls", "First", select("pair-a", machines.map(function (m) { return [m, m]; }), machines[0])).addEventListener("change", renderPair);
  control("pair-controls", "Second", select("pair-b", machines.map(function (m) { return [m, m]; }), machines[machines.length > 1 ? 1 : 0])).addEventListener("change", renderPair);
  render();
  renderPair();
  var old = document.getElementById("machines-static");
  if (old) old.parentNode.removeChild(old);
  document.body.setAttribute("data-machines", "ready");
})();
