// backprop lab: the page. Every number comes from the server (the library); this file only
// lays it out and steps through it.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
function sv(tag, attrs = {}, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
function showError(msg) {
  const box = $("error");
  box.textContent = msg;
  box.hidden = !msg;
}
async function api(path, body) {
  const opts = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const r = await fetch(path, opts);
  const text = await r.text();
  let data;
  try { data = JSON.parse(text); } catch (_) { data = { error: text }; }
  if (!r.ok) throw new Error(data.error || text);
  return data;
}
// Six significant digits without float noise, like the library's `short` (for derived
// figures only; the stepper shows the server's own texts).
function fmt(x) {
  if (x === null || x === undefined) return "–";
  if (!isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-4 || a >= 1e6)) return x.toExponential(2);
  return String(Number(x.toPrecision(6)));
}

// ---------------------------------------------------------------- tabs
for (const b of document.querySelectorAll("nav .tab")) {
  b.addEventListener("click", () => {
    for (const t of document.querySelectorAll("nav .tab")) t.classList.toggle("active", t === b);
    for (const v of document.querySelectorAll(".view")) v.hidden = v.id !== "view-" + b.dataset.view;
    showError("");
  });
}

// ---------------------------------------------------------------- graph stepper
const G = { data: null, what: "", values: {}, step: 0 };

async function loadGraph(what, keepValues) {
  showError("");
  const values = keepValues ? G.values : {};
  try {
    const d = await api("/api/graph", { what, values });
    G.data = d; G.what = what; G.step = keepValues ? Math.min(G.step, d.steps.length) : 0;
    G.values = {};
    for (const i of d.inputs) G.values[i.name] = i.value;
    // Rebuild the fields only for new names, so that a slider being dragged stays put.
    const names = d.inputs.map((i) => i.name).join("\n");
    if (names !== G.names) { G.names = names; buildInputs(); }
    render();
  } catch (e) { showError(e.message); }
}

function buildInputs() {
  const box = $("inputs");
  box.replaceChildren();
  for (const inp of G.data.inputs) {
    const lab = el("label", {}, inp.name);
    const num = el("input", { type: "number", step: "any", id: "val-" + inp.name, value: String(inp.value) });
    const span = Math.max(1, Math.abs(inp.value) * 2);
    const slider = el("input", { type: "range", min: String(-span), max: String(span), step: String(span / 100), value: String(inp.value), "aria-label": inp.name + " slider" });
    const set = (v, from) => {
      if (!isFinite(v)) return;
      G.values[inp.name] = v;
      if (from !== num) num.value = String(v);
      if (from !== slider) slider.value = String(v);
      loadGraph(G.what, true);
    };
    num.addEventListener("change", () => set(parseFloat(num.value), num));
    slider.addEventListener("input", () => set(parseFloat(slider.value), slider));
    lab.append(num, slider);
    box.append(lab);
  }
}

// What is known after `G.step` steps: forward values of the nodes computed so far, and the
// backward derivatives of the nodes whose backward step is done.
function known() {
  const d = G.data, fwd = new Set(), bwd = new Set();
  d.nodes.forEach((n) => { if (n.kind !== "op") fwd.add(n.id); });
  for (let k = 0; k < G.step; k++) {
    const s = d.steps[k];
    if (s.phase === "forward") fwd.add(s.node); else bwd.add(s.node);
  }
  return { fwd, bwd, current: G.step > 0 ? d.steps[G.step - 1] : null };
}

function render() {
  const d = G.data;
  if (!d) return;
  const { fwd, bwd, current } = known();
  const nFwd = d.steps.filter((s) => s.phase === "forward").length;
  const inBackward = G.step > nFwd;
  const COL = 170, ROW = 90, X0 = 120, Y0 = 50;
  const maxCol = Math.max(...d.nodes.map((n) => n.col));
  const maxRow = Math.max(...d.nodes.map((n) => n.row));
  const svg = $("graph-svg");
  svg.replaceChildren();
  const W = X0 + (maxCol + 1) * COL + 90, H = Y0 + (maxRow + 1) * ROW;
  svg.setAttribute("width", W); svg.setAttribute("height", H);
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const pos = (n) => [X0 + n.col * COL, Y0 + n.row * ROW];
  const rx = (n) => n.kind === "op" ? Math.max(20, n.symbol.length * 4.5 + 10) : 4;
  const edges = sv("g");
  const out = d.nodes[d.nodes.length - 1];
  const allEdges = d.edges.concat([{ from: out.id, to: null, forward_text: out.value_text, backward_text: "1" }]);
  for (const e of allEdges) {
    const a = d.nodes[e.from];
    const [x1, y1] = pos(a);
    const [x2, y2] = e.to === null ? [x1 + COL * 0.7, y1] : pos(d.nodes[e.to]);
    const b = e.to === null ? null : d.nodes[e.to];
    const g = sv("g", { class: "edge" });
    const sx = x1 + (a.kind === "op" ? rx(a) : 4), ex = x2 - (b ? rx(b) : 0);
    g.append(sv("line", { x1: sx, y1, x2: ex, y2, "marker-end": "url(#arrow)" }));
    const mx = (sx + ex) / 2, my = (y1 + y2) / 2;
    if (fwd.has(e.from)) g.append(sv("text", { x: mx, y: my - 7, "text-anchor": "middle", class: "fwd" }, e.forward_text));
    const backKnown = e.to === null ? inBackward : bwd.has(e.to);
    if (backKnown) g.append(sv("text", { x: mx, y: my + 17, "text-anchor": "middle", class: "bwd", id: `edge-${e.from}-${e.to === null ? "out" : e.to}-${e.slot ?? 0}` }, e.backward_text));
    edges.append(g);
  }
  const defs = sv("defs");
  const marker = sv("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto" });
  marker.append(sv("path", { d: "M0,0 L10,5 L0,10 z", fill: "#555" }));
  defs.append(marker);
  svg.append(defs, edges);
  for (const n of d.nodes) {
    const [x, y] = pos(n);
    const cls = ["node"];
    if (current && current.node === n.id) cls.push("current");
    else if (n.kind === "op" && fwd.has(n.id)) cls.push("done");
    const g = sv("g", { class: cls.join(" "), id: "node-" + n.id });
    if (n.kind === "op") {
      g.append(sv("ellipse", { cx: x, cy: y, rx: rx(n), ry: 19 }));
      g.append(sv("text", { x, y: y + 5, "text-anchor": "middle" }, n.symbol));
    } else {
      g.append(sv("text", { x: x - 8, y: y + 5, "text-anchor": "end" }, n.symbol));
    }
    g.append(sv("title", {}, `#${n.id} ${n.label}: value ${n.value}, derivative ${n.grad}`));
    svg.append(g);
  }
  const outName = d.output_name;
  svg.append(sv("text", { x: pos(out)[0] + COL * 0.7 + 6, y: pos(out)[1] + 5 }, outName));

  // The rule of the current step.
  let rule;
  if (!current) rule = "Press Step to start the forward pass: values flow left to right.";
  else {
    const n = d.nodes[current.node];
    rule = current.phase === "forward"
      ? `Forward, node #${n.id} (${n.label}): ${n.forward_rule}`
      : `Backward, node #${n.id} (${n.label}): ${n.backward_rule}`;
  }
  if (G.step === nFwd && nFwd > 0) rule += ` — forward pass done: ${outName} = ${d.value_text}. Next, the backward pass starts with ∂${outName}/∂${outName} = 1.`;
  if (G.step === d.steps.length && d.steps.length > 0) rule += " — backward pass done: the inputs' derivatives are in the table.";
  $("rule").textContent = rule;
  $("step-count").textContent = `step ${G.step} of ${d.steps.length}`;

  // Inputs table: a gradient is shown once every edge leaving the input has sent its part.
  for (const s of document.querySelectorAll(".out-name")) s.textContent = outName;
  const body = $("grads").querySelector("tbody");
  body.replaceChildren();
  for (const inp of d.inputs) {
    const id = d.nodes.find((n) => n.kind === "input" && n.symbol === inp.name).id;
    const users = d.edges.filter((e) => e.from === id);
    const done = users.length > 0 && users.every((e) => bwd.has(e.to)) || (d.nodes.length === 1 && inBackward);
    const tr = el("tr");
    tr.append(el("td", {}, inp.name), el("td", {}, fmt(inp.value)));
    tr.append(el("td", { id: "grad-" + inp.name, class: done ? "known" : "" }, done ? inp.grad_text : "?"));
    body.append(tr);
  }
  $("out-value").textContent = fwd.has(out.id) ? d.value_text : "?";
  $("defaulted").textContent = d.defaulted.length ? `(${d.defaulted.join(", ")} set to 1: change them above)` : "";
}

function stepTo(k) {
  if (!G.data) return;
  G.step = Math.max(0, Math.min(G.data.steps.length, k));
  render();
}
$("step").addEventListener("click", () => stepTo(G.step + 1));
$("step-back").addEventListener("click", () => stepTo(G.step - 1));
$("reset").addEventListener("click", () => stepTo(0));
$("to-forward-end").addEventListener("click", () => stepTo(G.data.steps.filter((s) => s.phase === "forward").length));
$("to-end").addEventListener("click", () => stepTo(G.data.steps.length));
$("evaluate").addEventListener("click", () => loadGraph($("expr").value, false));
$("expr").addEventListener("keydown", (e) => { if (e.key === "Enter") loadGraph($("expr").value, false); });
for (const name of ["apple", "apple-orange"]) {
  $("book-" + name).addEventListener("click", () => { $("expr").value = name; loadGraph(name, false); });
}

// ---------------------------------------------------------------- layer bench
function tensorView(title, t, id) {
  const box = el("div", { class: "tensor" });
  box.append(el("h4", {}, `${title} (${t.shape.length ? t.shape.join("×") : "scalar"})`));
  const shape = t.shape.length ? t.shape : [1];
  const cols = shape[shape.length - 1], rows = shape.length > 1 ? shape[shape.length - 2] : 1;
  const per = rows * cols, count = t.data.length / per;
  const wrap = el("div", { class: "matrices" });
  for (let m = 0; m < count; m++) {
    const table = el("table", { class: "matrix" });
    if (id) table.id = count > 1 ? `${id}-${m}` : id;
    for (let r = 0; r < rows; r++) {
      const tr = el("tr");
      for (let c = 0; c < cols; c++) tr.append(el("td", {}, fmt(t.data[m * per + r * cols + c])));
      table.append(tr);
    }
    wrap.append(table);
  }
  box.append(wrap);
  return box;
}

async function runBench() {
  showError("");
  try {
    const d = await api("/api/bench", { layer: $("layer").value, seed: parseInt($("bench-seed").value, 10) || 0 });
    const out = $("bench-out");
    out.replaceChildren();
    out.append(el("p", { class: "rule" }, `${d.layer} backward: ${d.rule}`));
    const fw = el("div", { class: "matrices" });
    fw.append(tensorView("input x", d.input, "bench-x"));
    for (const [name, t] of Object.entries(d.params)) fw.append(tensorView(name, t, "bench-" + name));
    fw.append(tensorView(d.loss !== undefined ? "softmax output y" : "output", d.output, "bench-out-y"));
    if (d.labels) fw.append(el("div", {}, `labels t = [${d.labels.join(", ")}], loss = ${fmt(d.loss)}`));
    fw.append(tensorView("upstream dout", d.dout, "bench-dout"));
    out.append(fw);
    for (const g of d.grads) {
      const box = el("div", { class: "check", id: "check-" + g.name });
      const ok = g.relative_error < 1e-6;
      box.append(el("h4", {}, `${g.name}: backprop beside numerical — relative error `),);
      const err = el("span", { class: ok ? "ok rel-err" : "bad rel-err" }, g.relative_error.toExponential(2) + (ok ? " ✓" : " ✗"));
      box.querySelector("h4").append(err);
      const m = el("div", { class: "matrices" });
      m.append(tensorView("backprop", g.backprop, `bench-${g.name}-backprop`), tensorView("numerical", g.numerical, `bench-${g.name}-numerical`));
      box.append(m);
      out.append(box);
    }
  } catch (e) { showError(e.message); }
}
$("bench-run").addEventListener("click", runBench);
$("layer").addEventListener("change", runBench);

// ---------------------------------------------------------------- live training
const R = { runs: new Map(), watched: null };

function runData(id, title) {
  if (!R.runs.has(id)) {
    R.runs.set(id, { id, title, steps: [], evals: [], snapshot: null, summary: null, error: null, done: false, compare: true, events: 0, t0: performance.now(), source: null });
  }
  return R.runs.get(id);
}

function subscribe(run) {
  if (run.source || run.done) return;
  // A reconnect resumes after the last event seen (Last-Event-ID); the server keeps the log.
  const src = new EventSource(`/api/runs/${run.id}/events`);
  run.source = src;
  let dirty = false;
  src.onmessage = (m) => {
    const ev = JSON.parse(m.data);
    run.events++;
    if (ev.type === "start") run.title = ev.title;
    else if (ev.type === "step") run.steps.push([ev.iter, ev.loss]);
    else if (ev.type === "eval") run.evals.push(ev);
    else if (ev.type === "snapshot") run.snapshot = ev;
    else if (ev.type === "total") run.total = ev.total_iters;
    else if (ev.type === "summary") run.summary = ev;
    else if (ev.type === "report") run.report = ev.url;
    else if (ev.type === "error") run.error = ev.message;
    else if (ev.type === "done") { run.done = true; run.t1 = performance.now(); src.close(); run.source = null; }
    if (!dirty) { dirty = true; requestAnimationFrame(() => { dirty = false; drawRuns(); }); }
  };
}

function lineChart(svg, series, opts = {}) {
  svg.replaceChildren();
  const W = svg.clientWidth || 420, H = svg.clientHeight || 220, L = 58, B = 22, T = 8, Rm = 8;
  const pts = series.flatMap((s) => s.points);
  if (!pts.length) return;
  let [x0, x1] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
  let [y0, y1] = opts.y || [Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1]))];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) y1 = y0 + 1;
  const X = (x) => L + (x - x0) / (x1 - x0) * (W - L - Rm), Y = (y) => H - B - (y - y0) / (y1 - y0) * (H - B - T);
  svg.append(sv("line", { x1: L, y1: H - B, x2: W - Rm, y2: H - B, stroke: "#999" }), sv("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#999" }));
  for (const v of [y0, (y0 + y1) / 2, y1]) svg.append(sv("text", { x: L - 4, y: Y(v) + 4, "text-anchor": "end", "font-size": "11" }, String(Number(v.toPrecision(3)))));
  svg.append(sv("text", { x: W - Rm, y: H - 6, "text-anchor": "end", "font-size": "11" }, `${opts.xlabel || "step"} ${fmt(x1)}`));
  series.forEach((s) => {
    if (!s.points.length) return;
    const d = s.points.map((p, i) => `${i ? "L" : "M"}${X(p[0]).toFixed(1)},${Y(Math.min(y1, Math.max(y0, p[1]))).toFixed(1)}`).join("");
    const attrs = { d, fill: "none", stroke: s.color, "stroke-width": s.width || 1.5, class: "series" };
    if (s.dash) attrs["stroke-dasharray"] = "5,3";
    svg.append(sv("path", attrs));
  });
  let ly = T + 12;
  for (const s of series.filter((s) => s.label)) {
    svg.append(sv("text", { x: L + 8, y: ly, fill: s.color, "font-size": "11" }, s.label));
    ly += 13;
  }
}

function histogram(h, color) {
  const svg = sv("svg", { class: "hist", viewBox: "0 0 200 130" });
  const max = Math.max(1, ...h.bins);
  const w = 190 / h.bins.length;
  h.bins.forEach((c, i) => svg.append(sv("rect", { x: 5 + i * w, y: 105 - c / max * 85, width: Math.max(1, w - 1), height: c / max * 85, fill: color })));
  svg.append(sv("text", { x: 5, y: 14, "font-size": "12" }, h.name));
  svg.append(sv("text", { x: 5, y: 124, "font-size": "10" }, fmt(h.lo)));
  svg.append(sv("text", { x: 195, y: 124, "font-size": "10", "text-anchor": "end" }, fmt(h.hi)));
  let note = "";
  if (h.saturated !== undefined) note = `saturated ${(h.saturated * 100).toFixed(0)}%`;
  if (h.dead !== undefined) note = `dead ${(h.dead * 100).toFixed(0)}%`;
  if (h.norm !== undefined) note = `‖g‖ ${fmt(h.norm)}` + (h.update_ratio != null ? `, Δw/w ${h.update_ratio.toExponential(1)}` : "");
  svg.append(sv("text", { x: 195, y: 27, "font-size": "10", "text-anchor": "end" }, note));
  return svg;
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];

function drawRuns() {
  const list = $("runs");
  list.replaceChildren();
  for (const run of R.runs.values()) {
    const row = el("div", { class: "run" + (run.id === R.watched ? " watched" : ""), id: "run-" + run.id });
    const cmp = el("input", { type: "checkbox", "aria-label": "compare run " + run.id });
    cmp.checked = run.compare;
    cmp.addEventListener("change", () => { run.compare = cmp.checked; drawRuns(); });
    const status = run.error ? "failed" : run.done ? (run.summary && run.summary.interrupted ? "stopped" : "finished") : "running";
    const watch = el("button", {}, "Watch");
    watch.addEventListener("click", () => { R.watched = run.id; drawRuns(); });
    const stop = el("button", { class: "stop" }, "Stop");
    stop.disabled = run.done;
    stop.addEventListener("click", () => api(`/api/runs/${run.id}/stop`, {}).catch((e) => showError(e.message)));
    const path = el("input", { placeholder: "/path/to/model.safetensors", size: "28", "aria-label": "save path" });
    const save = el("button", {}, "Save");
    save.disabled = !run.done || !!run.error;
    save.addEventListener("click", () => api(`/api/runs/${run.id}/save`, { path: path.value })
      .then((r) => { $("run-status").textContent = "saved to " + r.saved; })
      .catch((e) => showError(e.message)));
    row.append(cmp, el("b", {}, `#${run.id}`), el("span", {}, run.title || ""), el("span", { class: "muted status" }, status), watch, stop, path, save);
    list.append(row);
  }
  const run = R.runs.get(R.watched);
  const compare = [...R.runs.values()].filter((r) => r.compare);
  lineChart($("compare-chart"), compare.map((r, i) => ({ label: `#${r.id} ${r.title || ""}`, color: COLORS[i % COLORS.length], points: r.evals.map((e) => [e.iter, e.test_acc]) })), { y: [0, 1] });
  if (!run) return;
  const rate = run.events / (((run.t1 || performance.now()) - run.t0) / 1000);
  $("run-status").textContent = `run #${run.id}: ${run.steps.length}${run.total ? " of " + run.total : ""} steps` +
    (run.evals.length ? `, test accuracy ${fmt(run.evals[run.evals.length - 1].test_acc)}` : "") +
    ` — ${run.events} events (${rate.toFixed(0)}/s)` + (run.error ? " — error: " + run.error : "");
  $("run-status").dataset.events = String(run.events);
  lineChart($("loss-chart"), [
    { points: run.steps, color: "#9ab", width: 1 },
    { label: "loss at each evaluation", points: run.evals.map((e) => [e.iter, e.loss]), color: "#1f77b4", width: 2 },
  ]);
  lineChart($("acc-chart"), [
    { label: "train", points: run.evals.map((e) => [e.iter, e.train_acc]), color: "#2ca02c", dash: true },
    { label: "test", points: run.evals.map((e) => [e.iter, e.test_acc]), color: "#d62728" },
  ], { y: [0, 1] });
  const s = run.snapshot;
  if (s) {
    if (s.weights_png) $("weights").src = s.weights_png;
    $("hist-act").replaceChildren(...s.activations.map((h) => histogram(h, "#1f77b4")));
    $("hist-grad").replaceChildren(...s.gradients.map((h) => histogram(h, "#d62728")));
    $("hist-act").dataset.iter = String(s.iter);
    $("health").replaceChildren(...s.health.map((h) => el("li", { class: h.level }, h.text)));
  }
  const sum = $("summary");
  sum.replaceChildren();
  if (run.summary) {
    const m = run.summary;
    sum.append(el("h3", {}, "Report"), el("p", { id: "summary-text" },
      `${m.interrupted ? "Stopped" : "Finished"} after ${m.iters} steps in ${fmt(m.seconds)} s ` +
      `(${fmt(m.samples_per_sec)} samples/s): train accuracy ${fmt(m.train_acc)}, test accuracy ${fmt(m.test_acc)}.`));
    if (run.report) {
      const link = el("a", { href: run.report, target: "_blank", id: "report-link" }, "Open the full report (what train --report writes)");
      sum.append(link);
    }
  }
}

// The run as the library's RunSpec (its JSON form).
function trainSpec() {
  const arch = $("arch").value;
  const hidden = $("hidden").value.split(",").map((s) => parseInt(s.trim(), 10)).filter((n) => n > 0);
  const dropout = parseFloat($("dropout").value) || 0;
  const init = $("init").value;
  const std = parseFloat(init);
  let a;
  if (arch === "multi-layer") {
    a = { name: arch, hidden, activation: $("activation").value, init: isFinite(std) ? "std:" + std : init, batch_norm: $("batch-norm").checked, dropout: dropout > 0 ? dropout : null, weight_decay: 0 };
  } else if (arch === "two-layer") {
    a = { name: arch, hidden: hidden[0] || 50, weight_init_std: isFinite(std) ? std : 0.01 };
  } else {
    a = { name: arch, filter_num: 30, filter_size: 5, pad: 0, stride: 1, hidden: hidden[0] || 100, weight_init_std: isFinite(std) ? std : 0.01 };
  }
  const lr = parseFloat($("lr").value);
  return {
    data: { dataset: $("dataset").value, dir: null, seed: parseInt($("seed").value, 10) || 0 },
    arch: a,
    optimizer: { name: $("optimizer").value, lr: lr > 0 ? lr : null },
    schedule: { epochs: parseInt($("epochs").value, 10), iters: null, batch_size: parseInt($("batch").value, 10), eval_every: null, eval_samples: null, sampling: "shuffle" },
    precision: "F32",
  };
}

$("train-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  showError("");
  try {
    const r = await api("/api/runs", trainSpec());
    const run = runData(r.id, r.title);
    R.watched = r.id;
    subscribe(run);
    drawRuns();
  } catch (err) { showError(err.message); }
});

async function init() {
  try {
    const o = await api("/api/options");
    for (const l of o.layers) $("layer").append(el("option", { value: l }, l));
    for (const k of o.optimizers) $("optimizer").append(el("option", { value: k }, k));
    for (const d of o.datasets) {
      const opt = el("option", { value: d.name }, d.name + (d.installed ? "" : " (not installed)"));
      if (!d.installed) opt.disabled = true;
      $("dataset").append(opt);
    }
    // Runs started before this page was opened (another tab, or one closed and reopened).
    for (const r of await api("/api/runs")) {
      const run = runData(r.id, r.title);
      subscribe(run);
      R.watched = r.id;
    }
    drawRuns();
  } catch (e) { showError(e.message); }
  loadGraph($("expr").value, false);
}
init();
