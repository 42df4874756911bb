// The quote page: fills the table as drafts finish, re-plans a row when the maker changes
// it (debounced), keeps the send form in step with the chosen row, and starts the 3D view.
const box = document.getElementById("quote");
const W = JSON.parse(box.dataset.words);
const OPS = JSON.parse(box.dataset.operations || "{}");
const machines = Object.fromEntries(JSON.parse(box.dataset.machines).map((m) => [m.id, m]));
const lang = box.dataset.language === "en" ? "en" : "fr";
let quote = JSON.parse(box.dataset.quote);
let chosen = null;
let timer = null;
let pollTimer = null;
const sent = {}; // machine id → version we asked for, so an old answer does not overwrite a change

const tr = (t) => (t && typeof t === "object" ? t[lang] || t.fr || t.en || "" : t || "");
const num = (v, digits) =>
  new Intl.NumberFormat(lang === "fr" ? "fr-FR" : "en-GB", { maximumFractionDigits: digits, minimumFractionDigits: 0 }).format(v);
const el = (tag, attrs, ...children) => {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([k, v]) => {
    if (k === "text") node.textContent = v;
    else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : v);
  });
  children.forEach((c) => c && node.append(c));
  return node;
};
const opLabel = (op) => OPS[String(op).split(":")[0]] ? OPS[String(op).split(":")[0]] + (String(op).includes(":") ? " " + String(op).split(":")[1] + " mm" : "") : op;
const planOf = (id) => quote.plans.find((p) => p.machine === id);

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const minutes = seconds / 60;
  if (minutes < 60) return num(minutes, minutes < 10 ? 1 : 0) + " " + W.min;
  const h = Math.floor(minutes / 60);
  return h + " " + W.h + " " + String(Math.round(minutes - 60 * h)).padStart(2, "0");
}

function quantity(line) {
  const q = line.quantity;
  const digits = q >= 100 ? 0 : q >= 1 ? 1 : q >= 0.01 ? 3 : 4;
  const unit = W["unit_" + line.unit] || line.unit;
  return num(q, digits) + " " + unit;
}

function limitOf(plan) {
  const rule = quote.rules.find((r) => r.plugin === plan.plugin) || quote.limits.default;
  return rule.max_copies;
}

function renderRow(plan) {
  const row = box.querySelector(`tr[data-machine="${plan.machine}"]`);
  if (!row) return;
  row.dataset.state = plan.state;
  const material = machines[plan.machine] && machines[plan.machine].materials.find((m) => m.id === plan.material);
  row.querySelector(".material").textContent = material ? tr(material.name) : plan.material;
  row.querySelector(".copies").textContent = plan.copies;
  const time = row.querySelector(".time");
  const cost = row.querySelector(".cost");
  const verdict = row.querySelector(".verdict");
  const warnings = row.querySelector(".warnings");
  [time, cost, verdict, warnings].forEach((c) => c.replaceChildren());
  if (plan.state !== "done") {
    verdict.append(el("span", { class: "pending", text: plan.state === "failed" ? W.failed : W[plan.state] }));
    if (plan.state === "failed" && plan.error) warnings.append(el("p", { class: "problem", text: tr(plan.error) }));
    return;
  }
  time.textContent = duration(plan.machine_time_s);
  plan.materials.forEach((line) => cost.append(el("div", { text: quantity(line) + (line.cost_eur !== null ? " · " + num(line.cost_eur, 2) + " €" : "") })));
  const v = plan.verdict || {};
  verdict.append(el("strong", { class: "verdict-" + v.kind, "data-testid": "verdict", text: W[v.kind] || v.kind }));
  const reasons = el("ul", { class: "reasons" });
  (v.reasons || []).forEach((r) => reasons.append(el("li", { text: tr(r) })));
  verdict.append(reasons);
  if (plan.warnings.length) {
    const list = el("ul", { class: "warnings" });
    plan.warnings.forEach((w) => list.append(el("li", { text: tr(w) })));
    warnings.append(list);
  }
}

function renderAll() {
  quote.plans.forEach(renderRow);
  if (chosen) renderSteerResult();
}

function seriesNote() {
  const plan = planOf(chosen);
  const copies = Number(document.getElementById("steer-copies").value || 1);
  const limit = limitOf(plan);
  const text = (copies > limit ? W.series_copies : W.prototype_copies).replace("{n}", copies).replace("{limit}", limit);
  document.getElementById("series-note").textContent = text;
}

function optionField(plugin, option, value) {
  const id = `opt-${plugin}-${option.name}`;
  const wrap = el("div", { class: "option" });
  const label = el("label", { for: id, text: tr(option.label) + (option.unit ? ` (${option.unit})` : "") });
  let input;
  if (option.type === "bool") {
    input = el("input", { type: "checkbox", id, name: id, value: "1" });
    input.checked = Boolean(value);
    wrap.append(el("label", { class: "check" }, input, " " + tr(option.label)));
  } else if (option.type === "choice") {
    input = el("select", { id, name: id });
    option.choices.forEach((c, i) => {
      const o = el("option", { value: c, text: option.choice_labels[i] ? tr(option.choice_labels[i]) : c });
      o.selected = String(value) === c;
      input.append(o);
    });
    wrap.append(label, input);
  } else {
    input = el("input", { type: "text", id, name: id, value: value === null || value === undefined ? "" : String(value) });
    wrap.append(label, input);
  }
  if (option.help) wrap.append(el("p", { class: "hint", text: tr(option.help) }));
  input.dataset.option = option.name;
  input.addEventListener("change", changed);
  return wrap;
}

function colourRows(plan) {
  const block = document.getElementById("colours-block");
  const body = document.querySelector("#colours tbody");
  body.replaceChildren();
  const m = machines[plan.machine];
  const colours = quote.design.colours;
  block.hidden = !(m.operations.length && colours.length);
  colours.forEach((c) => {
    const current = plan.operations[c.key] || c.operations[plan.machine] || "ignore";
    const select = el("select", { "data-key": c.key, "aria-label": W.operation_for.replace("{colour}", tr(c.label)) });
    const choices = m.operations.includes(current) ? m.operations : [current, ...m.operations];
    choices.forEach((op) => {
      const o = el("option", { value: op, text: opLabel(op) });
      o.selected = op === current;
      select.append(o);
    });
    select.addEventListener("change", changed);
    const swatch = el("span", { class: "swatch", "aria-hidden": "true" });
    if (c.swatch) swatch.style.backgroundColor = c.swatch;
    body.append(
      el("tr", { "data-key": c.key },
        el("td", {}, swatch, " " + tr(c.label)),
        el("td", { text: num(c.length_mm, 0) + " mm" }),
        el("td", { text: c.area_mm2 ? num(c.area_mm2 / 100, 1) + " cm²" : "—" }),
        el("td", {}, select))
    );
  });
}

function legend(plan) {
  // Which operation each colour gets on this machine: matches the preview's colours.
  const box2 = document.getElementById("legend");
  box2.replaceChildren();
  const groups = {};
  quote.design.colours.forEach((c) => {
    const op = plan.operations[c.key] || c.operations[plan.machine] || "ignore";
    (groups[op] = groups[op] || []).push(c);
  });
  Object.entries(groups).forEach(([op, colours]) => {
    const item = el("li", { "data-operation": op }, el("strong", { text: opLabel(op) + " — " }));
    colours.forEach((c) => {
      const s = el("span", { class: "swatch", "aria-hidden": "true" });
      if (c.swatch) s.style.backgroundColor = c.swatch;
      item.append(s, " " + tr(c.label) + " ");
    });
    box2.append(item);
  });
  box2.hidden = !quote.design.colours.length;
}

function openSteer(id) {
  chosen = id;
  const plan = planOf(id);
  const m = machines[id];
  document.getElementById("steer").hidden = false;
  document.getElementById("steer-title").textContent = tr(m.name);
  box.querySelectorAll('input[name="choice"]').forEach((r) => { r.checked = r.value === id; });
  box.querySelectorAll("tr[data-machine]").forEach((r) => r.classList.toggle("chosen", r.dataset.machine === id));
  const material = document.getElementById("steer-material");
  material.replaceChildren(...m.materials.map((x) => {
    const o = el("option", { value: x.id, text: tr(x.name) });
    o.selected = x.id === plan.material;
    return o;
  }));
  document.getElementById("steer-copies").value = plan.copies;
  const options = document.getElementById("steer-options");
  options.replaceChildren(...m.options.filter((o) => !o.advanced).map((o) => optionField(m.plugin, o, plan.options[o.name])));
  colourRows(plan);
  seriesNote();
  renderSteerResult();
  syncSendForm();
  if (window.fabViewer) window.fabViewer.bed(m.work_area);
}

function renderSteerResult() {
  const plan = planOf(chosen);
  const state = document.getElementById("steer-state");
  state.textContent = plan.state === "done" ? W.done : plan.state === "failed" ? tr(plan.error) || W.failed : W.replanning;
  const img = document.getElementById("steer-preview");
  if (plan.state === "done" && plan.preview) {
    const url = box.dataset.previewUrl.replace(/\/0\/preview\.svg$/, `/${plan.id}/preview.svg`) + `?v=${plan.version}`;
    if (img.getAttribute("src") !== url) img.src = url;
    img.hidden = false;
  } else if (plan.state === "failed") {
    img.hidden = true;
  }
  const verdict = document.getElementById("steer-verdict");
  verdict.replaceChildren();
  if (plan.state === "done" && plan.verdict) {
    verdict.append(el("p", { class: "verdict verdict-" + plan.verdict.kind, "data-testid": "steer-verdict-kind", "data-kind": plan.verdict.kind, text: W[plan.verdict.kind] }));
  }
  legend(plan);
}

function choice() {
  const m = machines[chosen];
  const options = {};
  document.querySelectorAll("#steer-options [data-option]").forEach((i) => {
    options[i.dataset.option] = i.type === "checkbox" ? i.checked : i.value;
  });
  const plan = planOf(chosen);
  if (m.operations_option) options[m.operations_option] = plan.options[m.operations_option] || "";
  const operations = {};
  document.querySelectorAll("#colours select[data-key]").forEach((s) => {
    const c = quote.design.colours.find((x) => x.key === s.dataset.key);
    const machineDefault = plan.operations[s.dataset.key] || (c && c.operations[chosen]);
    if (s.value !== machineDefault || plan.operations[s.dataset.key] !== undefined) operations[s.dataset.key] = s.value;
  });
  return {
    machine: chosen,
    material: document.getElementById("steer-material").value,
    copies: Number(document.getElementById("steer-copies").value || 1),
    options,
    operations,
  };
}

function syncSendForm() {
  const c = choice();
  const m = machines[chosen];
  document.getElementById("send-machine").value = c.machine;
  document.getElementById("send-material").value = c.material;
  document.getElementById("send-copies").value = c.copies;
  const hidden = document.getElementById("send-hidden");
  hidden.replaceChildren();
  Object.entries(c.options).forEach(([k, v]) => {
    hidden.append(el("input", { type: "hidden", name: `opt-${m.plugin}-${k}`, value: typeof v === "boolean" ? (v ? "1" : "0") : String(v) }));
  });
  Object.entries(c.operations).forEach(([k, v]) => hidden.append(el("input", { type: "hidden", name: `op-${k}`, value: v })));
}

function changed() {
  seriesNote();
  syncSendForm();
  const plan = planOf(chosen);
  plan.state = "queued";
  renderRow(plan);
  renderSteerResult();
  clearTimeout(timer);
  timer = setTimeout(replan, 400);
}

async function replan() {
  const body = choice();
  const response = await fetch(box.dataset.plansUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  const plan = planOf(body.machine);
  if (!response.ok) {
    Object.assign(plan, { state: "failed", error: answer.error });
  } else {
    sent[body.machine] = answer.version;
    Object.assign(plan, answer);
  }
  renderRow(plan);
  if (chosen === body.machine) renderSteerResult();
  poll(true);
}

async function poll(soon) {
  clearTimeout(pollTimer);
  if (!soon) {
    try {
      const response = await fetch(box.dataset.quoteUrl, { headers: { Accept: "application/json" }, cache: "no-store" });
      if (response.ok) {
        const fresh = await response.json();
        fresh.plans.forEach((p) => {
          const mine = planOf(p.machine);
          if (mine && sent[p.machine] && p.version < sent[p.machine]) return; // an older answer
          if (mine) Object.assign(mine, p);
          else quote.plans.push(p);
        });
        renderAll();
      }
    } catch (e) { /* the next poll tries again */ }
  }
  const busy = quote.plans.some((p) => p.state === "queued" || p.state === "planning");
  pollTimer = setTimeout(poll, busy || soon ? 700 : 5000);
}

box.querySelectorAll('input[name="choice"]').forEach((r) => r.addEventListener("change", () => openSteer(r.value)));
document.getElementById("steer-material").addEventListener("change", changed);
document.getElementById("steer-copies").addEventListener("input", changed);
renderAll();
const first = quote.plans[0];
if (first) openSteer(first.machine);
poll(true);

const viewer = document.getElementById("viewer");
if (viewer) {
  import("./model3d.js").then((m) => {
    window.fabViewer = m.start(viewer);
    if (chosen) window.fabViewer.bed(machines[chosen].work_area);
  });
}
