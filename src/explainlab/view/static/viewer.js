// explainlab's run viewer: draws the model data.js sets (window.EXPLAINLAB_VIEW).
// Vanilla JavaScript, no network: every view is drawn on first visit, from that model.
"use strict";

const DATA = window.EXPLAINLAB_VIEW;
const drawn = {};

function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
  })[c]);
}

function fmt(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") {
    if (Number.isInteger(value)) return String(value);
    return Math.abs(value) >= 1000 ? value.toFixed(1) : value.toPrecision(3);
  }
  if (typeof value === "boolean") return value ? "True" : "False";
  return String(value);
}

function pct(p) {
  return p === null || p === undefined ? "" : `${(100 * p).toFixed(1)}%`;
}

// --- sortable tables --------------------------------------------------------------------

function compareCells(a, b) {
  const emptyA = a === null || a === undefined || a === "";
  const emptyB = b === null || b === undefined || b === "";
  if (emptyA || emptyB) return emptyA - emptyB; // empty cells last
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

function tableBody(rows) {
  return rows.map((row) => "<tr>" + row.map((v) =>
    typeof v === "number" ? `<td class="num">${fmt(v)}</td>` : `<td>${esc(fmt(v))}</td>`
  ).join("") + "</tr>").join("");
}

// A table (columns, rows) as HTML; clicking a header sorts by that column (again: reversed).
function tableHTML(table) {
  const head = table.columns.map((c, i) => `<th data-col="${i}">${esc(c)}</th>`).join("");
  return `<table class="sortable" data-table="${esc(table.id)}"><thead><tr>${head}</tr></thead>` +
    `<tbody>${tableBody(table.rows)}</tbody></table>`;
}

const tablesById = {};

function registerTable(table) {
  tablesById[table.id] = table;
  return table;
}

function sortTable(th) {
  const element = th.closest("table");
  const table = tablesById[element.dataset.table];
  const col = Number(th.dataset.col);
  const ascending = th.getAttribute("aria-sort") !== "ascending";
  const order = table.rows.map((row, i) => [row, i]);
  order.sort((x, y) => (ascending ? 1 : -1) * compareCells(x[0][col], y[0][col]) || x[1] - y[1]);
  table.rows = order.map((x) => x[0]);
  element.querySelectorAll("th").forEach((h) => h.removeAttribute("aria-sort"));
  th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  element.tBodies[0].innerHTML = tableBody(table.rows);
}

document.addEventListener("click", (event) => {
  const th = event.target.closest("table.sortable th");
  if (th) sortTable(th);
});

// A table in a <details>: open (drawn at once) when short, else drawn when opened.
function tableBlock(table) {
  registerTable(table);
  const shown = table.total && table.total > table.rows.length
    ? ` (first ${table.rows.length} of ${table.total} rows)` : ` (${table.rows.length} rows)`;
  const open = table.rows.length <= 60;
  return `<details class="table-block" data-for="${esc(table.id)}"${open ? " open" : ""}>` +
    `<summary>${esc(table.title)} <span class="note">${esc(table.file || "")}${shown}</span>` +
    `</summary>${open ? tableHTML(table) : ""}</details>`;
}

document.addEventListener("toggle", (event) => {
  const block = event.target;
  if (block.classList && block.classList.contains("table-block") && block.open &&
      !block.querySelector("table")) {
    block.insertAdjacentHTML("beforeend", tableHTML(tablesById[block.dataset.for]));
  }
}, true);

// --- explanations -----------------------------------------------------------------------

function methodTitle(name) {
  const method = DATA.methods.find((m) => m.name === name);
  return method ? method.title : name;
}

function predicted(image) {
  const top = image.top5[0];
  return top ? `${esc(top[0])} <span class="note">${pct(top[1])}</span>` : "";
}

function outcomeBadge(image) {
  if (image.correct === false) return '<span class="badge">misclassified</span>';
  if (image.correct === true) return '<span class="badge ok">correct</span>';
  return "";
}

function stackHTML(image, method, size, key) {
  const crop = image.crop ? `<img class="crop" src="${esc(image.crop[key])}" alt="">` : "";
  const map = image.maps[method];
  const overlay = map ? `<img class="overlay" src="${esc(map[key])}" alt="${esc(method)}">` : "";
  return `<div class="stack s${size}">${crop}${overlay}</div>`;
}

function imageCard(image) {
  const cells = DATA.methods.map((m) => image.maps[m.name]
    ? `<figure>${stackHTML(image, m.name, 160, "thumb")}<figcaption>${esc(m.title)}</figcaption></figure>`
    : `<figure><div class="stack s160"></div><figcaption>${esc(m.title)}: none</figcaption></figure>`
  ).join("");
  const truth = image.true ? `true: ${esc(image.true)}` : "true class not known";
  return `<div class="image-card${image.correct === false ? " misclassified" : ""}" ` +
    `data-image="${esc(image.key)}" data-correct="${image.correct}">` +
    `<div class="info"><b>${esc(image.key)}</b><br>predicted: ${predicted(image)}<br>` +
    `${truth}<br>${outcomeBadge(image)}</div><div class="cells">${cells}</div></div>`;
}

function drawExplanations(view) {
  const classes = [...new Set(DATA.images.map((i) => i.top5[0] && i.top5[0][0]))].filter(Boolean);
  view.innerHTML =
    `<div class="controls">` +
    `<label>overlay opacity <input id="opacity" type="range" min="0" max="100" value="50"></label>` +
    `<label>show <select id="outcome-filter"><option value="all">all images</option>` +
    `<option value="true">correct</option><option value="false">misclassified</option></select></label>` +
    `<label>predicted class <select id="class-filter"><option value="">any</option>` +
    classes.sort().map((c) => `<option>${esc(c)}</option>`).join("") + `</select></label>` +
    `<span class="note" id="image-count"></span></div>` +
    (DATA.images.length ? "" : '<p class="note">This run has no explained images.</p>') +
    `<div class="grid" id="image-grid">${DATA.images.map(imageCard).join("")}</div>`;
  const opacity = view.querySelector("#opacity");
  opacity.addEventListener("input", () =>
    document.documentElement.style.setProperty("--overlay-opacity", opacity.value / 100));
  const filter = () => {
    const outcome = view.querySelector("#outcome-filter").value;
    const cls = view.querySelector("#class-filter").value;
    let shown = 0;
    view.querySelectorAll(".image-card").forEach((card) => {
      const image = DATA.images.find((i) => i.key === card.dataset.image);
      const hide = (outcome !== "all" && String(image.correct) !== outcome) ||
        (cls && !(image.top5[0] && image.top5[0][0] === cls));
      card.hidden = hide;
      shown += !hide;
    });
    view.querySelector("#image-count").textContent = `${shown} of ${DATA.images.length} images`;
  };
  view.querySelector("#outcome-filter").addEventListener("change", filter);
  view.querySelector("#class-filter").addEventListener("change", filter);
  view.querySelector("#image-grid").addEventListener("click", (event) => {
    const card = event.target.closest(".image-card");
    if (card) location.hash = `#image/${encodeURIComponent(card.dataset.image)}`;
  });
  filter();
}

function decodeSegments(lime) {
  const raw = atob(lime.segments);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return lime.bytes === 2 ? new Uint16Array(bytes.buffer) : bytes;
}

// LIME's superpixels: the one under the pointer outlined, its weight in a tooltip.
function limeHover(figure, lime) {
  const canvas = figure.querySelector("canvas");
  const [h, w] = lime.size;
  canvas.width = w;
  canvas.height = h;
  const segments = decodeSegments(lime);
  const context = canvas.getContext("2d");
  const tip = document.getElementById("tip");
  let current = -1;
  canvas.addEventListener("mousemove", (event) => {
    const box = canvas.getBoundingClientRect();
    const x = Math.min(w - 1, Math.floor((event.clientX - box.left) * w / box.width));
    const y = Math.min(h - 1, Math.floor((event.clientY - box.top) * h / box.height));
    const segment = segments[y * w + x];
    if (segment !== current) {
      current = segment;
      const pixels = context.createImageData(w, h);
      for (let i = 0; i < segments.length; i++) {
        if (segments[i] === segment) {
          pixels.data[4 * i] = 255; pixels.data[4 * i + 1] = 230; pixels.data[4 * i + 3] = 110;
        }
      }
      context.putImageData(pixels, 0, 0);
    }
    const weight = lime.weights[String(segment)];
    tip.textContent = `superpixel ${segment}: ` +
      (weight === undefined ? "no weight" : `weight ${weight >= 0 ? "+" : ""}${weight.toFixed(4)}`);
    tip.style.left = `${event.clientX + 12}px`;
    tip.style.top = `${event.clientY + 12}px`;
    tip.hidden = false;
  });
  canvas.addEventListener("mouseleave", () => {
    tip.hidden = true;
    current = -1;
    context.clearRect(0, 0, w, h);
  });
}

function drawImage(view, key) {
  const image = DATA.images.find((i) => i.key === key);
  if (!image) {
    view.innerHTML = `<p>No image ${esc(key)} in this run. <a href="#explanations">Back</a></p>`;
    return;
  }
  const top5 = registerTable({
    id: `image/${key}/top5`, title: "top-5",
    columns: ["rank", "class", "probability"],
    rows: image.top5.map((t, i) => [i + 1, t[0], t[1]]),
  });
  const maps = Object.keys(image.maps).filter((m) => m !== "lime").map((m) =>
    `<figure>${stackHTML(image, m, 224, "full")}<figcaption>${esc(methodTitle(m))}</figcaption></figure>`
  ).join("");
  const crop = image.crop
    ? `<figure><div class="stack s224"><img src="${esc(image.crop.full)}" alt=""></div>` +
      `<figcaption>crop</figcaption></figure>` : "";
  let lime = "";
  if (image.lime) {
    const weights = Object.entries(image.lime.weights).map(([s, v]) => [Number(s), v]);
    weights.sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
    const table = registerTable({
      id: `image/${key}/lime`, title: "superpixel weights", columns: ["superpixel", "weight"],
      rows: weights,
    });
    lime = `<h3>LIME: superpixels for "${esc(image.lime.label)}" (hover for a weight)</h3>` +
      `<div class="detail-row"><figure class="lime-figure">` +
      `<div class="stack s224">${image.crop ? `<img src="${esc(image.crop.full)}" alt="">` : ""}` +
      `<img class="overlay" src="${esc(image.maps.lime.full)}" alt="LIME weights"><canvas></canvas></div>` +
      `<figcaption>green: for the label, red: against</figcaption></figure>` +
      `<div>${tableBlock(table)}</div></div>`;
  }
  const agreementColumns = [...new Set(image.agreement.flatMap((r) => Object.keys(r)))];
  const agreement = registerTable({
    id: `image/${key}/agreement`, title: "agreement with LIME", file: "compare/agreement.csv",
    columns: agreementColumns, rows: image.agreement.map((r) => agreementColumns.map((c) => r[c])),
  });
  const faithColumns = [...new Set(image.faithfulness.flatMap((r) => Object.keys(r)))];
  const faithfulness = registerTable({
    id: `image/${key}/faithfulness`, title: "faithfulness", file: "compare/faithfulness.csv",
    columns: faithColumns, rows: image.faithfulness.map((r) => faithColumns.map((c) => r[c])),
  });
  view.innerHTML =
    `<p><a href="#explanations">← all images</a></p>` +
    `<h2 data-detail="${esc(key)}">${esc(key)}: predicted ${predicted(image)} ${outcomeBadge(image)}</h2>` +
    `<p>${image.true ? `true class: ${esc(image.true)}` : "true class not known"}</p>` +
    `<div class="controls"><label>overlay opacity <input id="detail-opacity" type="range" ` +
    `min="0" max="100" value="${Math.round(100 * Number(getComputedStyle(document.documentElement)
      .getPropertyValue("--overlay-opacity") || 0.5))}"></label></div>` +
    `<div class="columns"><div>${tableBlock(top5)}</div>` +
    `<div class="detail-row">${crop}${maps}</div></div>` + lime +
    (image.agreement.length ? `<h3>Agreement of each map with LIME's mask</h3>${tableBlock(agreement)}` : "") +
    (image.faithfulness.length ? `<h3>Faithfulness (deletion and insertion AUC)</h3>${tableBlock(faithfulness)}` : "");
  const opacity = view.querySelector("#detail-opacity");
  opacity.addEventListener("input", () =>
    document.documentElement.style.setProperty("--overlay-opacity", opacity.value / 100));
  if (image.lime) limeHover(view.querySelector(".lime-figure"), image.lime);
}

// --- measures -----------------------------------------------------------------------------

function drawMeasures(view) {
  const groups = DATA.measures.groups;
  view.innerHTML = (groups.length ? "" : '<p class="note">This run has no tables yet.</p>') +
    groups.map((g) =>
      `<h2 id="measures-${esc(g.name)}">${esc(g.name)}</h2>` + g.tables.map(tableBlock).join("") +
      (g.figures.length ? `<div class="figures">` + g.figures.map((f) =>
        `<figure><img loading="lazy" src="${esc(f.src)}" alt="${esc(f.title)}">` +
        `<figcaption>${esc(f.file)}</figcaption></figure>`).join("") + `</div>` : "")
    ).join("");
}

// --- dissection ---------------------------------------------------------------------------

function unitRecords() {
  const columns = DATA.dissection.columns;
  return DATA.dissection.units.map((row) => Object.fromEntries(columns.map((c, i) => [c, row[i]])));
}

function unitCard(u, largest) {
  const width = u.similarity === null ? 0 : Math.round(100 * u.similarity / largest);
  const stable = u.runs === null ? "" : u.same === u.runs
    ? `<div class="stable">same label in ${u.runs === 1 ? "the other run" : `all ${u.runs} other runs`}</div>`
    : `<div class="unstable">same label in ${u.same} of ${u.runs} other runs; ` +
      `there: ${esc(u.others.join(", "))}</div>`;
  // the unit's region drawn on each image (dimmed outside, outlined)
  const region = u.region ? ' data-region="1" title="the unit\'s region outlined"' : "";
  const probes = u.top.length
    ? `<div class="probes">${u.top.map((p) => `<img loading="lazy" src="${esc(p)}" alt=""${region}>`).join("")}</div>` : "";
  const id = `${u.model}/${u.layer}/${u.unit}`;
  return `<div class="unit" data-unit="${esc(id)}" data-label="${esc(u.label)}" ` +
    `data-category="${esc(u.category)}" data-wordnet="${esc(u.wordnet)}" data-similarity="${u.similarity ?? ""}" data-index="${u.unit}">` +
    `<div class="label">${esc(u.label)}</div>` +
    `<div class="meta">unit ${u.unit} · ${esc(u.layer)} · <span class="chip" title="Broden category">${esc(u.category || "uncategorised")}</span>` +
    (u.wordnet ? ` <span class="chip wordnet" title="WordNet category">${esc(u.wordnet)}</span>` : "") + `</div>` +
    `<div class="meta">similarity ${fmt(u.similarity)}</div><div class="bar" style="width:${width}%"></div>` +
    stable + probes + `</div>`;
}

function drawDissection(view) {
  const units = unitRecords();
  const notes = DATA.dissection.notes.map((n) => `<p class="note">${esc(n)}</p>`).join("");
  if (!units.length) {
    view.innerHTML = notes + '<p class="note">This run has no labelled units.</p>';
    return;
  }
  const largest = Math.max(...units.map((u) => u.similarity || 0)) || 1;
  const categories = [...new Set(units.map((u) => u.category || ""))].sort();
  const wordnet = [...new Set(units.map((u) => u.wordnet || ""))].sort();
  const labels = [...new Set(units.map((u) => u.label))].sort();
  const groups = [];
  for (const u of units) {
    const name = `${u.model}/${u.layer}`;
    if (!groups.length || groups[groups.length - 1].name !== name) groups.push({ name, units: [] });
    groups[groups.length - 1].units.push(u);
  }
  const options = (values) => values.map((v) => `<option value="${esc(v)}">${esc(v || "uncategorised")}</option>`).join("");
  view.innerHTML = notes +
    `<div class="controls">` +
    `<label>concept <input id="concept-filter" type="search" list="concepts" placeholder="e.g. dotted"></label>` +
    `<datalist id="concepts">${labels.map((l) => `<option value="${esc(l)}">`).join("")}</datalist>` +
    `<label>category <select id="category-filter"><option value="*">any</option>${options(categories)}</select></label>` +
    (wordnet.some((w) => w) ? `<label>WordNet <select id="wordnet-filter"><option value="*">any</option>${options(wordnet)}</select></label>` : "") +
    `<label>model <select id="model-filter"><option value="">any</option>` +
    `${options(DATA.dissection.models.map((m) => m.name))}</select></label>` +
    `<label>sort <select id="unit-sort"><option value="similarity">similarity, highest first</option>` +
    `<option value="similarity-asc">similarity, lowest first</option><option value="unit">unit</option>` +
    `<option value="label">label</option></select></label>` +
    `<span class="note" id="unit-count"></span></div>` +
    groups.map((g) => `<section class="unit-group" data-group="${esc(g.name)}">` +
      `<h3>${esc(g.name)} <span class="note">${g.units.length} units</span></h3>` +
      `<div class="units">${g.units.map((u) => unitCard(u, largest)).join("")}</div></section>`).join("");
  const filter = () => {
    const text = view.querySelector("#concept-filter").value.trim().toLowerCase();
    const category = view.querySelector("#category-filter").value;
    const lexical = view.querySelector("#wordnet-filter")?.value ?? "*";
    const model = view.querySelector("#model-filter").value;
    let shown = 0;
    view.querySelectorAll(".unit-group").forEach((group) => {
      let inGroup = 0;
      const groupModel = group.dataset.group.split("/")[0];
      group.querySelectorAll(".unit").forEach((card) => {
        const show = (!text || card.dataset.label.toLowerCase().includes(text)) &&
          (category === "*" || card.dataset.category === category) &&
          (lexical === "*" || card.dataset.wordnet === lexical) && (!model || groupModel === model);
        card.hidden = !show;
        inGroup += show;
      });
      group.hidden = inGroup === 0;
      shown += inGroup;
    });
    view.querySelector("#unit-count").textContent = `${shown} of ${units.length} units`;
  };
  const sort = () => {
    const how = view.querySelector("#unit-sort").value;
    const key = {
      "similarity": (c) => -(Number(c.dataset.similarity) || 0),
      "similarity-asc": (c) => Number(c.dataset.similarity) || 0,
      "unit": (c) => Number(c.dataset.index),
    }[how];
    view.querySelectorAll(".units").forEach((box) => {
      const cards = [...box.children];
      cards.sort(key ? (a, b) => key(a) - key(b) || Number(a.dataset.index) - Number(b.dataset.index)
        : (a, b) => a.dataset.label.localeCompare(b.dataset.label));
      box.append(...cards);
    });
  };
  view.querySelector("#concept-filter").addEventListener("input", filter);
  view.querySelector("#category-filter").addEventListener("change", filter);
  view.querySelector("#wordnet-filter")?.addEventListener("change", filter);
  view.querySelector("#model-filter").addEventListener("change", filter);
  view.querySelector("#unit-sort").addEventListener("change", sort);
  sort();
  filter();
}

// --- models compared -------------------------------------------------------------------

function conceptCounts(units, model, layer) {
  const counts = new Map();
  for (const u of units) {
    if (u.model === model && (!layer || u.layer === layer)) counts.set(u.label, (counts.get(u.label) || 0) + 1);
  }
  return counts;
}

function drawModels(view) {
  const units = unitRecords();
  const models = DATA.dissection.models;
  if (models.length < 2) {
    view.innerHTML = '<p class="note">The run dissected fewer than two models: nothing to compare.</p>';
    return;
  }
  const names = models.map((m) => `<option>${esc(m.name)}</option>`).join("");
  const layers = [...new Set(models.flatMap((m) => m.layers))];
  view.innerHTML = `<div class="controls">` +
    `<label>model A <select id="model-a">${names}</select></label>` +
    `<label>model B <select id="model-b">${names}</select></label>` +
    `<label>layer <select id="model-layer"><option value="">all layers</option>` +
    layers.map((l) => `<option>${esc(l)}</option>`).join("") + `</select></label></div>` +
    `<p class="note" id="model-summary"></p><div class="columns" id="model-columns"></div>`;
  view.querySelector("#model-b").selectedIndex = 1;
  const draw = () => {
    const a = view.querySelector("#model-a").value;
    const b = view.querySelector("#model-b").value;
    const layer = view.querySelector("#model-layer").value;
    const countsA = conceptCounts(units, a, layer);
    const countsB = conceptCounts(units, b, layer);
    const shared = [...countsA.keys()].filter((c) => countsB.has(c));
    const onlyA = [...countsA.keys()].filter((c) => !countsB.has(c));
    const onlyB = [...countsB.keys()].filter((c) => !countsA.has(c));
    const byUnits = (rows) => rows.sort((x, y) => y[y.length - 1] - x[x.length - 1] || compareCells(x[0], y[0]));
    const tables = [
      { id: "models/shared", title: `shared concepts (${shared.length})`, columns: ["concept", `units ${a}`, `units ${b}`, "units"],
        rows: byUnits(shared.map((c) => [c, countsA.get(c), countsB.get(c), countsA.get(c) + countsB.get(c)])) },
      { id: "models/only-a", title: `only ${a} (${onlyA.length})`, columns: ["concept", "units"],
        rows: byUnits(onlyA.map((c) => [c, countsA.get(c)])) },
      { id: "models/only-b", title: `only ${b} (${onlyB.length})`, columns: ["concept", "units"],
        rows: byUnits(onlyB.map((c) => [c, countsB.get(c)])) },
    ];
    const all = new Set([...countsA.keys(), ...countsB.keys()]).size;
    view.querySelector("#model-summary").textContent =
      `${a}: ${countsA.size} distinct concepts, ${b}: ${countsB.size}; ${shared.length} shared ` +
      `(Jaccard ${(all ? shared.length / all : 0).toFixed(2)}), ${layer || "all layers"}.`;
    view.querySelector("#model-columns").innerHTML = tables.map((t) =>
      `<div><h3>${esc(t.title)}</h3>${tableHTML(registerTable({ ...t, title: t.title }))}</div>`).join("");
  };
  view.querySelectorAll("select").forEach((s) => s.addEventListener("change", draw));
  draw();
}

// --- run ------------------------------------------------------------------------------------

function drawRun(view) {
  view.innerHTML = `<p class="note">run folder ${esc(DATA.run.folder)}; viewer built ${esc(DATA.run.built)} ` +
    `by explainlab ${esc(DATA.run.by)}</p>` +
    DATA.sections.map((s) => `<h2>${esc(s.title)}</h2>` +
      (s.note ? `<p class="note">${esc(s.note)}</p>` : "") +
      (s.tables || []).map((t) => tableBlock({ ...t, total: t.rows.length })).join("") +
      (s.json ? `<details><summary>as JSON</summary><pre>${esc(JSON.stringify(s.json, null, 2))}</pre></details>` : "")
    ).join("");
}

// --- routing ------------------------------------------------------------------------------

const DRAW = {
  explanations: drawExplanations, measures: drawMeasures, dissection: drawDissection,
  models: drawModels, run: drawRun,
};

function route() {
  const hash = decodeURIComponent(location.hash.slice(1)) || "explanations";
  const [name, ...rest] = hash.split("/");
  const viewName = name === "image" ? "image" : (DRAW[name] ? name : "explanations");
  document.querySelectorAll(".view").forEach((v) => { v.hidden = v.id !== `view-${viewName}`; });
  document.querySelectorAll("#tabs a").forEach((a) => {
    a.classList.toggle("active", a.dataset.view === (viewName === "image" ? "explanations" : viewName));
  });
  const view = document.getElementById(`view-${viewName}`);
  if (viewName === "image") {
    drawImage(view, rest.join("/"));
  } else if (!drawn[viewName]) {
    DRAW[viewName](view);
    drawn[viewName] = true;
  }
  document.body.dataset.view = viewName;
  window.scrollTo(0, 0);
}

document.getElementById("run-title").textContent = `explainlab run: ${DATA.run.name}`;
document.title = `${DATA.run.name}: explainlab run`;
window.addEventListener("hashchange", route);
route();
document.body.dataset.ready = "true";
window.EXPLAINLAB_READY_MS = performance.now(); // the benchmark's first render
