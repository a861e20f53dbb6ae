// The lumos page: tabs, the model list, and the five views (Explain, Generate, Data, Compare, Feedback).
import { api, clear, el, fmt, heat, status, watchJob } from "./api.js";

const $ = (id) => document.getElementById(id);
const state = { models: [], current: null, last: null, page: 0, pageSize: 20 };

function model() { return state.models.find((m) => m.name === $("model").value) || state.models[0]; }

function show(view) {
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.view === view);
  for (const s of document.querySelectorAll(".view")) s.classList.toggle("hidden", s.id !== `view-${view}`);
  if (view === "data") loadPage();
  if (view === "feedback") loadFeedback();
}

function options(select, values, { blank = null, selected = null } = {}) {
  clear(select);
  if (blank !== null) select.append(el("option", { text: blank, attrs: { value: "" } }));
  for (const v of values) {
    const o = el("option", { text: v, attrs: { value: v } });
    if (v === selected) o.selected = true;
    select.append(o);
  }
}

// -- Explain ------------------------------------------------------------------------------------------------
function setupExplain() {
  const m = model();
  $("input-text").classList.toggle("hidden", m.reads !== "texts");
  $("input-row").classList.toggle("hidden", m.reads !== "tables");
  $("input-image").classList.toggle("hidden", m.reads !== "images");
  const box = clear($("explain-methods"));
  box.append(el("legend", { text: "methods" }));
  const defaults = m.reads === "images" ? ["grad_cam", "occlusion"] : ["integrated_gradients", "occlusion"];
  for (const name of m.methods) {
    const input = el("input", { attrs: { type: "checkbox", value: name, name: "method" } });
    input.checked = defaults.includes(name);
    box.append(el("label", {}, input, document.createTextNode(" " + name)));
  }
  options($("explain-target"), m.classes, { blank: "(predicted)" });
  options($("explain-contrast"), m.classes, { blank: "(none)" });
  const form = clear($("input-row"));
  for (const f of m.features) {
    form.append(el("label", { text: f }, el("input", { attrs: { type: "number", step: "any", name: f, value: "0" } })));
  }
  options($("gen-method"), ["occlusion", "integrated_gradients", "attention_x_gradient"]);
  options($("cmp-method"), m.reads === "images" ? [] : m.methods.filter((x) => x !== "kernel_shap"));
}

function unit() { return document.querySelector("input[name=unit]:checked").value; }

async function explain(extra = {}) {
  const m = model();
  const methods = [...document.querySelectorAll("#explain-methods input:checked")].map((i) => i.value);
  const target = $("explain-target").value || null;
  const contrast = $("explain-contrast").value || null;
  status("explaining…");
  $("explain-go").disabled = true;
  try {
    let result;
    if (m.reads === "images") {
      const file = $("explain-image").files[0];
      if (!file) throw new Error("Choose an image file first.");
      const form = new FormData();
      form.append("image", file);
      form.append("model", m.name);
      form.append("methods", methods.join(","));
      if (target) form.append("target", target);
      result = await api("explain/image", { method: "POST", form });
    } else {
      const body = { model: m.name, methods, target, contrast, ...extra };
      if (!("index" in extra)) {
        if (m.reads === "tables") {
          body.row = {};
          for (const input of $("input-row").querySelectorAll("input")) body.row[input.name] = Number(input.value);
        } else body.text = $("explain-text").value;
      }
      result = await api("explain", { method: "POST", body });
    }
    state.last = result;
    renderExplanation(result);
    status(`explained by ${result.methods.length} method(s)`);
  } catch (err) {
    status(err.message, true);
  } finally {
    $("explain-go").disabled = false;
  }
}

function renderExplanation(result) {
  const pred = clear($("explain-prediction"));
  for (const p of result.prediction) pred.append(el("span", { cls: "prob", text: `${p.name} ${fmt(p.p)}` }));
  const out = clear($("explain-results"));
  if (result.image) out.append(el("div", { cls: "card" }, el("h3", { text: "input" }),
    el("img", { cls: "overlay", attrs: { src: result.image, alt: "input image" } })));
  for (const m of result.methods) out.append(methodCard(m, result));
}

function methodCard(m, result) {
  const card = el("div", { cls: "card method-card", attrs: { "data-method": m.method, "data-id": m.id } });
  card.append(el("h3", { text: m.method }));
  const bits = [`target ${m.target}`, `${fmt(m.seconds, 2)} s`, `${m.n_evals} evals`];
  if (m.delta !== null) bits.push(`convergence Δ ${fmt(m.delta)} (${fmt(100 * m.relative_delta, 2)}% of the gap)`);
  if (m.stderr) bits.push(`mean stderr ${fmt(m.stderr.reduce((a, b) => a + b, 0) / m.stderr.length)}`);
  for (const [k, v] of Object.entries(m.diagnostics || {})) bits.push(`${k} ${fmt(v)}`);
  card.append(el("div", { cls: "meta", text: bits.join(" · ") }));
  if (m.overlay) {
    const img = el("img", { cls: "overlay", attrs: { src: m.overlay, alt: `${m.method} overlay` } });
    card.append(m.regions ? regionBox(img, m.regions) : img);
  } else {
    const words = unit() === "words" && m.words;
    const shown = words ? m.words : m.pieces;
    const scale = Math.max(1e-12, ...shown.values.map(Math.abs));
    const line = el("div", { cls: "tokens", attrs: { "data-unit": words ? "words" : "pieces" } });
    shown.labels.forEach((label, i) => {
      const span = el("span", { cls: "tok", text: label, attrs: { "data-index": i, "data-value": shown.values[i],
        title: `${label}: ${fmt(shown.values[i])}` } });
      span.style.backgroundColor = heat(shown.values[i], scale);
      span.addEventListener("click", () => cycleMark(span));
      line.append(span, document.createTextNode(" "));
    });
    card.append(line);
  }
  card.append(feedbackForm(m, result));
  return card;
}

// The image's regions (the image masker's segments) on a canvas over the overlay: a click cycles the region under
// the pointer through irrelevant, relevant and unmarked; the marks live in the canvas's dataset.
const REGION_TINT = { irrelevant: [180, 35, 24, 150], relevant: [6, 118, 71, 150] };

function regionBox(img, regions) {
  const canvas = el("canvas", { cls: "regions", attrs: { width: regions.width, height: regions.height,
    title: "click a region to mark it irrelevant (again: relevant; again: unmarked)" } });
  const marks = new Map();
  canvas.addEventListener("click", (event) => {
    const box = canvas.getBoundingClientRect();
    const col = Math.min(regions.width - 1, Math.floor(((event.clientX - box.left) / box.width) * regions.width));
    const row = Math.min(regions.height - 1, Math.floor(((event.clientY - box.top) / box.height) * regions.height));
    const region = regions.labels[row * regions.width + col];
    const now = marks.get(region);
    if (now === undefined) marks.set(region, "irrelevant");
    else if (now === "irrelevant") marks.set(region, "relevant");
    else marks.delete(region);
    for (const mark of ["irrelevant", "relevant"]) {
      canvas.dataset[mark] = [...marks].filter(([, m]) => m === mark).map(([r]) => r).sort((a, b) => a - b).join(",");
    }
    drawRegions(canvas, regions, marks);
  });
  drawRegions(canvas, regions, marks);
  return el("div", { cls: "region-box" }, img, canvas);
}

function drawRegions(canvas, regions, marks) {
  const { width, height, labels } = regions;
  const ctx = canvas.getContext("2d");
  const pixels = ctx.createImageData(width, height);
  for (let i = 0; i < labels.length; i++) {
    const x = i % width;
    const edge = (x + 1 < width && labels[i + 1] !== labels[i]) || (i + width < labels.length && labels[i + width] !== labels[i]);
    const tint = REGION_TINT[marks.get(labels[i])] || (edge ? [255, 255, 255, 90] : [0, 0, 0, 0]);
    pixels.data.set(tint, 4 * i);
  }
  ctx.putImageData(pixels, 0, 0);
}

function markedRegions(card, mark) {
  const canvas = card.querySelector("canvas.regions");
  return canvas && canvas.dataset[mark] ? canvas.dataset[mark].split(",").map(Number) : [];
}

function cycleMark(span) {
  if (span.classList.contains("mark-irrelevant")) { span.classList.replace("mark-irrelevant", "mark-relevant"); }
  else if (span.classList.contains("mark-relevant")) { span.classList.remove("mark-relevant"); }
  else span.classList.add("mark-irrelevant");
}

// Piece indices behind the marked spans (a word stands for all its pieces).
function markedPieces(card, m, mark) {
  const line = card.querySelector(".tokens");
  if (!line) return [];
  const chosen = [...line.querySelectorAll(`.tok.mark-${mark}`)].map((s) => Number(s.dataset.index));
  if (line.dataset.unit !== "words" || !m.words.index) return chosen;
  return m.words.index.map((w, piece) => (chosen.includes(w) ? piece : -1)).filter((p) => p >= 0);
}

function feedbackForm(m, result) {
  const m2 = model();
  const label = el("select", { attrs: { name: "label" } });
  options(label, m2.classes, { blank: "(label is right)" });
  const rating = el("select", { attrs: { name: "rating" } });
  options(rating, ["1", "2", "3", "4", "5"], { blank: "(rate)" });
  const comment = el("input", { attrs: { type: "text", name: "comment", placeholder: "comment" } });
  const save = el("button", { text: "Save feedback", cls: "save-feedback" });
  const said = el("span", { cls: "meta saved" });
  const box = el("div", { cls: "fb" }, label, rating, comment, save, said);
  save.addEventListener("click", async () => {
    const card = save.closest(".method-card");
    const body = { explanation: m.id, irrelevant: markedPieces(card, m, "irrelevant"),
      relevant: markedPieces(card, m, "relevant"), irrelevant_regions: markedRegions(card, "irrelevant"),
      relevant_regions: markedRegions(card, "relevant"), label: label.value || null,
      rating: rating.value ? Number(rating.value) : null, comment: comment.value || null };
    try {
      const saved = await api("feedback", { method: "POST", body });
      said.textContent = `saved as feedback ${saved.id}`;
    } catch (err) { said.textContent = err.message; }
  });
  return box;
}

// -- Generate -----------------------------------------------------------------------------------------------
async function generate() {
  const lm = state.models.find((m) => m.reads === "generations");
  if (!lm) { status("No generative model is served (start with --model smollm2-135m).", true); return; }
  status("generating…");
  try {
    const r = await api("generate", { method: "POST", body: { model: lm.name, prompt: $("gen-prompt").value,
      methods: [$("gen-method").value], max_new_tokens: Number($("gen-n").value) } });
    renderGeneration(r);
    status("generated");
  } catch (err) { status(err.message, true); }
}

function renderGeneration(r) {
  const out = clear($("gen-output"));
  for (const view of r.views) {
    const card = el("div", { cls: "card" }, el("h3", { text: `${view.method} (${view.output})` }));
    const line = el("div", { cls: "tokens" });
    const spans = view.units.map((u) => {
      const s = el("span", { cls: u.gen === null ? "tok" : "tok gen", text: u.text });
      if (u.gen !== null) s.dataset.gen = u.gen;
      line.append(s);
      return s;
    });
    // Hover a generated token: its sources light up in their attribution colours.
    spans.forEach((s, j) => {
      if (view.units[j].gen === null) return;
      const k = view.units[j].gen;
      s.addEventListener("mouseenter", () => {
        s.classList.add("lit");
        view.units.forEach((u, i) => {
          const c = u.colors.find(([step]) => step === k);
          spans[i].style.backgroundColor = c ? c[1] : "";
        });
      });
      s.addEventListener("mouseleave", () => { s.classList.remove("lit"); spans.forEach((x) => { x.style.backgroundColor = ""; }); });
    });
    card.append(line);
    const table = el("table", { cls: "matrix" });
    for (const row of view.matrix) {
      const tr = el("tr", {}, el("th", { text: row.token }));
      for (const [src, value, colour] of row.cells) {
        const td = el("td", { text: src, attrs: { title: fmt(value) } });
        td.style.backgroundColor = colour;
        tr.append(td);
      }
      table.append(tr);
    }
    card.append(el("p", { cls: "meta", text: "token-by-token matrix (rows: generated tokens)" }), table);
    out.append(card);
  }
  if (r.lens) {
    const table = el("table", { cls: "lens" });
    table.append(el("tr", {}, el("th", { text: "layer" }), ...r.lens.tokens.map((t) => el("th", { text: t }))));
    r.lens.layers.forEach((layer, i) => {
      table.append(el("tr", {}, el("th", { text: layer }),
        ...r.lens.top_tokens[i].map((cell, j) => el("td", { text: cell[0], attrs: { title: `p(final top) ${fmt(r.lens.target_prob[i][j])}` } }))));
    });
    out.append(el("div", { cls: "card" }, el("h3", { text: "logit lens (top token per layer and position)" }), table));
  }
}

// -- Data ---------------------------------------------------------------------------------------------------
async function loadPage() {
  const m = model();
  const tbody = clear($("data-table").querySelector("tbody"));
  if (!["texts", "tables"].includes(m.reads)) { $("data-info").textContent = `The Data view shows texts and tables; ${m.name} reads ${m.reads}.`; return; }
  const query = new URLSearchParams({ model: m.name, offset: state.page * state.pageSize, limit: state.pageSize });
  if ($("data-slice").value !== "") query.set("slice", $("data-slice").value);
  if ($("data-errors").checked) query.set("errors", "true");
  try {
    const page = await api(`data?${query}`);
    const first = page.total ? page.offset + 1 : 0;
    $("data-info").textContent = `${page.name}: rows ${first}–${page.offset + page.rows.length} of ${page.total}`;
    $("data-prev").disabled = state.page === 0;
    $("data-next").disabled = page.offset + page.rows.length >= page.total;
    for (const row of page.rows) {
      const shown = typeof row.input === "string" ? row.input : Object.entries(row.input).slice(0, 6).map(([k, v]) => `${k}=${v}`).join(", ");
      const tr = el("tr", { cls: "clickable", attrs: { "data-index": row.index } },
        el("td", { text: row.index }), el("td", { text: shown }), el("td", { text: row.label }),
        el("td", { text: row.predicted }), el("td", { text: fmt(row.confidence) }),
        el("td", { text: row.error ? "error" : "", cls: row.error ? "err" : null }));
      tr.addEventListener("click", () => {
        show("explain");
        if (typeof row.input === "string") { $("explain-text").value = row.input; explain(); }
        else explain({ index: row.index });
      });
      tbody.append(tr);
    }
  } catch (err) { status(err.message, true); }
}

async function evaluateAll() {
  const m = model();
  try {
    const job = await api("jobs", { method: "POST", body: { kind: "evaluate", model: m.name } });
    state.job = job.id;
    $("data-cancel").classList.remove("hidden");
    $("data-progress").classList.remove("hidden");
    const done = await watchJob(job.id, (j) => {
      $("data-progress").max = j.total; $("data-progress").value = j.done;
      $("data-job").textContent = `${j.kind}: ${j.done} / ${j.total} (${j.state})`;
    });
    $("data-cancel").classList.add("hidden");
    if (done.state === "done") {
      const r = done.result;
      $("data-job").textContent = `accuracy ${fmt(r.accuracy)} on ${r.n} rows, ${r.n_errors} errors, ${r.slices.length} error slices`;
      const select = $("data-slice");
      clear(select).append(el("option", { text: "all rows", attrs: { value: "" } }));
      r.slices.forEach((s, i) => select.append(el("option", { text: `${s.slice} (${s.errors}/${s.size} errors)`, attrs: { value: i } })));
    } else $("data-job").textContent = `job ${done.state}${done.error ? ": " + done.error : ""}`;
  } catch (err) { status(err.message, true); }
}

// -- Compare ------------------------------------------------------------------------------------------------
async function compare() {
  status("comparing…");
  try {
    const r = await api("compare", { method: "POST", body: { models: [$("cmp-a").value, $("cmp-b").value],
      text: $("cmp-text").value, method: $("cmp-method").value } });
    const drift = clear($("cmp-drift"));
    drift.append(el("span", { cls: "prob", text: `rank agreement ${fmt(r.drift.rank_agreement)}` }),
      el("span", { cls: "prob", text: `top-3 overlap ${fmt(r.drift.top3_overlap)}` }),
      el("span", { cls: "prob", text: `max probability change ${fmt(r.drift.max_probability_change)}` }),
      el("span", { cls: "prob", text: r.drift.same_prediction ? "same prediction" : "prediction changed" }));
    const out = clear($("cmp-output"));
    for (const side of r.sides) {
      const scale = Math.max(1e-12, ...side.words.values.map(Math.abs));
      const line = el("div", { cls: "tokens" });
      side.words.labels.forEach((w, i) => {
        const s = el("span", { cls: "tok", text: w, attrs: { "data-value": side.words.values[i], title: fmt(side.words.values[i]) } });
        s.style.backgroundColor = heat(side.words.values[i], scale);
        line.append(s, document.createTextNode(" "));
      });
      out.append(el("div", { cls: "card" }, el("h3", { text: side.model }),
        el("div", { cls: "meta", text: `predicted ${side.predicted} · target ${side.target} · ${fmt(side.seconds, 2)} s` }), line));
    }
    status("compared");
  } catch (err) { status(err.message, true); }
}

// -- Feedback -----------------------------------------------------------------------------------------------
async function loadFeedback() {
  try {
    const r = await api("feedback");
    const s = r.stats;
    $("fb-stats").textContent = `${s.records} records in ${r.store}: ${s.irrelevant_marks} irrelevant and ${s.relevant_marks} relevant marks, ${s.label_corrections} label corrections, ${s.ratings} ratings`;
    const tbody = clear($("fb-table").querySelector("tbody"));
    for (const f of r.records) {
      const feats = f.features && Array.isArray(f.features) ? f.features : [];
      const named = (ids) => (ids || []).map((i) => feats[i] ?? i).join(", ");
      const irr = f.irrelevant || [];
      const rel = f.relevant || [];
      tbody.append(el("tr", { attrs: { "data-id": f.id } }, el("td", { text: f.id }),
        el("td", { text: f.text ?? f.image_path ?? (f.row || []).join(", ") }), el("td", { text: f.method ?? "" }),
        el("td", { text: named(irr) }), el("td", { text: named(rel) }), el("td", { text: f.label ?? "" }),
        el("td", { text: f.rating ?? "" }), el("td", { text: f.author })));
    }
  } catch (err) { status(err.message, true); }
}

async function retrain() {
  try {
    const job = await api("retrain", { method: "POST", body: { model: model().name } });
    $("fb-progress").classList.remove("hidden");
    const done = await watchJob(job.id, (j) => { $("fb-job").textContent = `retraining: ${j.state}, ${fmt(j.seconds, 1)} s`; });
    $("fb-progress").classList.add("hidden");
    if (done.state === "done") {
      $("fb-job").textContent = `retrained: ${done.result.model} is served (pick it in the model list)`;
      await loadModels(done.result.model);
    } else $("fb-job").textContent = `retraining ${done.state}: ${done.error || ""}`;
  } catch (err) { status(err.message, true); }
}

// -- start ----------------------------------------------------------------------------------------------------
async function loadModels(selected = null) {
  const r = await api("models");
  state.models = r.models;
  const names = r.models.filter((m) => m.reads !== "generations").map((m) => m.name);
  options($("model"), names, { selected });
  options($("cmp-a"), names);
  options($("cmp-b"), names, { selected: names[1] || names[0] });
  setupExplain();
}

async function start() {
  for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => show(b.dataset.view));
  $("model").addEventListener("change", () => { setupExplain(); state.page = 0; clear($("explain-results")); });
  $("explain-go").addEventListener("click", () => explain());
  for (const r of document.querySelectorAll("input[name=unit]")) r.addEventListener("change", () => { if (state.last) renderExplanation(state.last); });
  $("explain-target").addEventListener("change", () => { if (state.last) explain(); });
  $("gen-go").addEventListener("click", generate);
  $("data-prev").addEventListener("click", () => { state.page = Math.max(0, state.page - 1); loadPage(); });
  $("data-next").addEventListener("click", () => { state.page += 1; loadPage(); });
  $("data-errors").addEventListener("change", () => { state.page = 0; loadPage(); });
  $("data-slice").addEventListener("change", () => { state.page = 0; loadPage(); });
  $("data-evaluate").addEventListener("click", evaluateAll);
  $("data-cancel").addEventListener("click", () => { if (state.job) api(`jobs/${state.job}`, { method: "DELETE" }); });
  $("cmp-go").addEventListener("click", compare);
  $("fb-refresh").addEventListener("click", loadFeedback);
  $("fb-retrain").addEventListener("click", retrain);
  try { await loadModels(); status("ready"); document.body.dataset.ready = "1"; }
  catch (err) { status(err.message, true); }
}

start();
