/**
 * app.js — the wallboard page: renders the store of queuecast-client.js.
 *
 * Rendering is batched: store changes only mark queues dirty; one pass per animation frame
 * updates the rows that changed, and within them only the cells whose text or state differ.
 * A one-second tick advances the clock and the longest-wait timers in the same kind of pass.
 * The page never reloads itself; reconnection is the client's business.
 */

import { connectBoard, ROUTING_STATUSES } from "./queuecast-client.js";
import {
  BADGE, LEVEL_WORD, age, clock, count, duration, levelHigh, levelServiceLevel, percent, readConfig,
  sparkPath, waitMs,
} from "./board-format.js";

const params = new URLSearchParams(location.search);
const config = readConfig(params);
const SPARK = { width: 120, height: 30 };

const AGENT_LABELS = {
  IDLE: "Idle", INTERACTING: "Interact.", COMMUNICATING: "Comm.", NOT_RESPONDING: "Not resp.", OFF_QUEUE: "Off queue",
};

/** The columns, in order: key, header, sort value (bigger = "more"), and how the cell is drawn. */
const COLUMNS = [
  { key: "name", label: "Queue", sort: (v) => v.name.toLowerCase(), cls: "c-name", width: 11.5 },
  { key: "waiting", label: "Waiting", sort: (v) => v.waiting, num: true, width: 8 },
  { key: "longest", label: "Longest wait", sort: (v, now) => waitMs(v.longestWaitingSince, now) ?? -1, num: true,
    width: 8.5 },
  { key: "interacting", label: "Interacting", sort: (v) => v.interacting, num: true, width: 5.5 },
  { key: "alerting", label: "Alerting", sort: (v) => v.alerting, num: true, width: 5 },
  ...ROUTING_STATUSES.map((s) => ({
    key: `agents-${s}`, label: AGENT_LABELS[s], sort: (v) => v.agents?.[s] ?? 0, num: true, cls: "c-agent", width: 5,
  })),
  { key: "sl", label: "Service level", sort: (v) => v.interval?.serviceLevel ?? -1, num: true, width: 8.5 },
  { key: "abandon", label: "Abandoned", sort: (v) => v.interval?.abandonRate ?? -1, num: true, width: 6.5 },
  { key: "asa", label: "ASA", sort: (v) => v.interval?.asaMs ?? -1, num: true, width: 5 },
  { key: "aht", label: "AHT", sort: (v) => v.interval?.ahtMs ?? -1, num: true, width: 5 },
  { key: "offered", label: "Offered", sort: (v) => v.interval?.offered ?? -1, num: true, width: 5 },
  { key: "answered", label: "Answered", sort: (v) => v.interval?.answered ?? -1, num: true, width: 5.5 },
  { key: "trend", label: "Last 15 min", cls: "c-trend", width: 6 },
];
const BY_KEY = Object.fromEntries(COLUMNS.map((c) => [c.key, c]));
if (!BY_KEY[config.sort]?.sort) config.sort = "name";

const $ = (id) => document.getElementById(id);
const els = {
  root: document.documentElement, body: document.body, board: $("board"), clock: $("clock"), conn: $("conn"), upstream: $("upstream"),
  age: $("age"), banner: $("stale-banner"), rows: $("rows"), columns: $("columns"), empty: $("empty"),
  large: $("large-toggle"), legend: $("legend"),
};

const board = connectBoard({ queues: config.queues, share: config.share });
const store = board.store;

/** Counters for tests and for curious operators (`window.queuecast.stats` in the console). */
const stats = {
  framesApplied: 0, renderPasses: 0, cellWrites: 0, maxPassMs: 0,
  passStamps: [], // the rAF timestamp of each pass (the last 5000): one pass per frame means no repeats
};
window.queuecast = { store, board, stats, config };

/* ------------------------------------------------------------------ DOM helpers */

/** Sets text/attributes only when they differ (a write costs layout; a compare does not). */
function put(el, text) {
  if (el.textContent !== text) {
    el.textContent = text;
    stats.cellWrites++;
  }
}
function attr(el, name, value) {
  const v = value === null || value === undefined ? "" : String(value);
  if (el.getAttribute(name) !== v) el.setAttribute(name, v);
}
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") el.className = v;
    else el.setAttribute(k, v);
  }
  el.append(...children);
  return el;
}
const SVG_NS = "http://www.w3.org/2000/svg";

/* ------------------------------------------------------------------ header, legend, sorting */

function buildColumns() {
  // Fixed table layout with set widths: a changed number never re-measures the whole table.
  els.board.prepend(h("colgroup", {}, ...COLUMNS.map((col) => h("col", { style: `width: ${col.width}%` }))));
  for (const col of COLUMNS) {
    const th = h("th", { scope: "col", class: `${col.num ? "num " : ""}${col.cls || ""}`, "data-col": col.key });
    if (col.sort) {
      const button = h("button", { type: "button", class: "sort" }, col.label, h("span", { class: "arrow" }));
      button.addEventListener("click", () => setSort(col.key));
      th.append(button);
    } else {
      th.append(col.label);
    }
    els.columns.append(th);
  }
  markSort();
}

function markSort() {
  for (const th of els.columns.children) {
    const on = th.dataset.col === config.sort;
    attr(th, "aria-sort", on ? (config.dir === "asc" ? "ascending" : "descending") : "none");
    const arrow = th.querySelector(".arrow");
    if (arrow) put(arrow, on ? (config.dir === "asc" ? " ↑" : " ↓") : "");
  }
}

function setSort(key) {
  if (config.sort === key) config.dir = config.dir === "asc" ? "desc" : "asc";
  else {
    config.sort = key;
    config.dir = key === "name" ? "asc" : "desc";
  }
  updateUrl({ sort: config.sort, dir: config.dir });
  markSort();
  orderDirty = true;
  schedule();
}

/** Keeps the URL in step with the view (bookmarkable), without a reload. */
function updateUrl(changes) {
  const url = new URL(location.href);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null) url.searchParams.delete(k);
    else url.searchParams.set(k, v);
  }
  history.replaceState(null, "", url);
}

function setLarge(on) {
  config.large = on;
  els.root.classList.toggle("large", on);
  attr(els.large, "aria-pressed", on);
  updateUrl({ display: on ? "large" : null });
}

function buildLegend() {
  const sl = config.sl ? `below ${percent(config.sl[0])} / ${percent(config.sl[1])}` : "below target / 10 points under";
  els.legend.append(
    h("span", {}, h("span", { class: "badge", "data-level": "amber" }, BADGE.amber), " warning"),
    h("span", {}, h("span", { class: "badge", "data-level": "red" }, BADGE.red), " alarm"),
    h("span", {}, `longest wait ≥ ${config.wait[0]} s / ${config.wait[1]} s`),
    h("span", {}, `waiting ≥ ${config.waiting[0]} / ${config.waiting[1]}`),
    h("span", {}, `service level ${sl}`),
  );
}

/* ------------------------------------------------------------------ rows */

/** @type {Map<string, {tr: HTMLTableRowElement, cells: Record<string, any>, view: object|null, level: object}>} */
const rows = new Map();

function makeRow(queueId) {
  const tr = h("tr", { "data-queue": queueId });
  const cells = {};
  for (const col of COLUMNS) {
    const td = h(col.key === "name" ? "th" : "td", {
      class: `${col.num ? "num " : ""}${col.cls || ""}`, "data-col": col.key,
      ...(col.key === "name" ? { scope: "row" } : {}),
    });
    const cell = { td };
    if (col.key === "trend") {
      const svg = document.createElementNS(SVG_NS, "svg");
      svg.setAttribute("viewBox", `0 0 ${SPARK.width} ${SPARK.height}`);
      svg.setAttribute("preserveAspectRatio", "none");
      svg.setAttribute("role", "img");
      cell.title = document.createElementNS(SVG_NS, "title");
      cell.path = document.createElementNS(SVG_NS, "path");
      svg.append(cell.title, cell.path);
      td.append(svg);
      cell.svg = svg;
    } else {
      // Each line is a fixed-size, contained box: a changed number re-lays out that box only,
      // never the table around it.
      cell.badge = h("span", { class: "badge", "aria-hidden": "true" });
      cell.value = h("span", { class: "v" });
      td.append(h("div", { class: "line" }, cell.badge, cell.value));
      if (col.key === "waiting") td.append((cell.media = h("div", { class: "media" })));
      if (col.key === "sl") td.append((cell.target = h("div", { class: "target" })));
    }
    cells[col.key] = cell;
    tr.append(td);
  }
  const row = { tr, cells, view: null, sparkAt: 0 };
  rows.set(queueId, row);
  els.rows.append(tr);
  orderDirty = true;
  return row;
}

function setLevel(cell, level, what) {
  attr(cell.td, "data-level", level);
  put(cell.badge, BADGE[level]);
  attr(cell.td, "title", level ? `${what}: ${LEVEL_WORD[level]}` : "");
}

function updateRow(row, view, now) {
  const c = row.cells;
  const iv = view.interval || {};
  put(c.name.value, view.name);
  attr(c.name.td, "data-value", view.name);
  attr(c.name.td, "title", view.queueId);

  put(c.waiting.value, count(view.waiting));
  attr(c.waiting.td, "data-value", view.waiting);
  setLevel(c.waiting, levelHigh(view.waiting, config.waiting), "waiting");
  const media = Object.entries(view.media || {});
  const mediaKey = media.length > 1 ? media.map(([m, s]) => `${m}:${s.waiting}`).join(" ") : "";
  if (c.waiting.media.dataset.key !== mediaKey) {
    c.waiting.media.dataset.key = mediaKey;
    c.waiting.media.replaceChildren(...(media.length > 1 ? media.map(([m, s]) =>
      h("span", { class: "m", "data-media": m, "data-value": s.waiting }, `${m} ${s.waiting}`)) : []));
    stats.cellWrites++;
  }

  attr(c.longest.td, "data-value", view.longestWaitingSince);
  updateLongest(row, view, now);

  for (const key of ["interacting", "alerting"]) {
    put(c[key].value, count(view[key]));
    attr(c[key].td, "data-value", view[key]);
  }
  for (const s of ROUTING_STATUSES) {
    const cell = c[`agents-${s}`];
    put(cell.value, count(view.agents?.[s] ?? 0));
    attr(cell.td, "data-value", view.agents?.[s] ?? 0);
  }

  put(c.sl.value, percent(iv.serviceLevel));
  put(c.sl.target, iv.serviceLevelTarget == null ? "" : `target ${percent(iv.serviceLevelTarget)}`);
  attr(c.sl.td, "data-value", iv.serviceLevel);
  attr(c.sl.td, "data-target", iv.serviceLevelTarget);
  setLevel(c.sl, levelServiceLevel(iv.serviceLevel, iv.serviceLevelTarget, config.sl), "service level");

  put(c.abandon.value, percent(iv.abandonRate));
  attr(c.abandon.td, "data-value", iv.abandonRate);
  put(c.asa.value, duration(iv.asaMs));
  attr(c.asa.td, "data-value", iv.asaMs);
  put(c.aht.value, duration(iv.ahtMs));
  attr(c.aht.td, "data-value", iv.ahtMs);
  put(c.offered.value, count(iv.offered));
  attr(c.offered.td, "data-value", iv.offered);
  put(c.answered.value, count(iv.answered));
  attr(c.answered.td, "data-value", iv.answered);

  if (row.view?.waiting !== view.waiting) row.sparkAt = 0; // redraw the line now
  row.view = view;
}

/** A longest wait from a REST answer (`longestWaitingAsOf` set) older than this is marked as older than live. */
const LONGEST_AGED_MS = 15000;

function updateLongest(row, view, now) {
  const cell = row.cells.longest;
  const ms = waitMs(view.longestWaitingSince, now);
  const unknown = ms === null && view.waiting > 0; // someone waits; the REST refresh has not answered yet
  put(cell.value, ms !== null ? duration(ms) : unknown ? "…" : "—");
  setLevel(cell, ms === null ? "" : levelHigh(ms / 1000, config.wait), "longest wait");
  const asOf = view.longestWaitingAsOf ? Date.parse(view.longestWaitingAsOf) : null;
  const aged = ms !== null && asOf !== null && now - asOf > LONGEST_AGED_MS;
  attr(cell.td, "data-aged", aged || unknown);
  if (aged) attr(cell.td, "title", `longest wait as of ${clock(asOf)} (from the platform's query, not live)`);
  else if (unknown) attr(cell.td, "title", "someone waits; the longest wait is being fetched");
}

function updateSpark(row, queueId, now) {
  const { line, peak } = sparkPath(store.history(queueId), now, {
    windowMs: store.historyMs, bucketMs: store.bucketMs, ...SPARK,
  });
  const cell = row.cells.trend;
  if (cell.path.getAttribute("d") !== line) cell.path.setAttribute("d", line);
  put(cell.title, `waiting over the last 15 minutes, peak ${peak}`);
  row.sparkAt = now;
}

/* ------------------------------------------------------------------ the render pass */

const dirty = new Set();
let headerDirty = true;
let orderDirty = true;
let tickDue = true;
let scheduled = false;
const order = [];

let lastPassAt = -Infinity;

/** Asks for a render pass: on the next animation frame, and no sooner than `minPassMs` after the last. */
function schedule() {
  if (scheduled) return;
  scheduled = true;
  const wait = lastPassAt + config.minPassMs - performance.now();
  if (wait > 0) setTimeout(() => requestAnimationFrame(render), wait);
  else requestAnimationFrame(render);
}

store.subscribe(({ kind, changed, removed }) => {
  if (kind === "snapshot" || kind === "delta" || kind === "import") stats.framesApplied++;
  for (const q of changed) dirty.add(q);
  for (const q of removed) dirty.add(q);
  if (changed.length || removed.length) orderDirty = true;
  headerDirty = true;
  schedule();
});

function render(stamp) {
  scheduled = false;
  const t0 = (lastPassAt = performance.now());
  const now = Date.now();
  stats.renderPasses++;
  stats.passStamps.push(stamp);
  if (stats.passStamps.length > 5000) stats.passStamps.splice(0, 1000);

  for (const q of dirty) {
    const view = store.get(q);
    const row = rows.get(q);
    if (!view) {
      if (row) {
        row.tr.remove();
        rows.delete(q);
      }
      continue;
    }
    updateRow(row || makeRow(q), view, now);
  }
  const sparkDue = now - store.bucketMs;
  for (const [q, row] of rows) {
    if (tickDue && !dirty.has(q) && row.view) updateLongest(row, row.view, now);
    if (row.sparkAt <= sparkDue) updateSpark(row, q, now);
  }
  if (orderDirty || (tickDue && config.sort === "longest")) reorder(now);
  if (headerDirty || tickDue) updateHeader(now);
  dirty.clear();
  headerDirty = orderDirty = tickDue = false;
  stats.maxPassMs = Math.max(stats.maxPassMs, performance.now() - t0);
}

function reorder(now) {
  const col = BY_KEY[config.sort];
  const sign = config.dir === "asc" ? 1 : -1;
  const keyed = [...rows.entries()].filter(([, r]) => r.view).map(([q, r]) => [col.sort(r.view, now), q]);
  keyed.sort(([a, qa], [b, qb]) => (a < b ? -sign : a > b ? sign : qa < qb ? -1 : qa > qb ? 1 : 0));
  const next = keyed.map(([, q]) => q);
  if (next.length !== order.length || next.some((q, i) => q !== order[i])) {
    els.rows.append(...next.map((q) => rows.get(q).tr)); // moves rows; unchanged cells stay untouched
    order.splice(0, order.length, ...next);
  }
  els.empty.hidden = rows.size > 0;
}

/** The proxy sends a fixed vocabulary (never an exception text); these are the words a supervisor reads. */
const REASON_TEXT = {
  waiting: "waiting for the first event", no_events: "no events lately", connecting: "connecting",
  credentials: "the proxy's platform credentials were refused", token: "cannot get a platform token",
  rate_limited: "rate limited by the platform", network: "platform unreachable", platform_5xx: "platform error",
  platform: "platform refused a request", socket: "notification socket lost", subscription: "subscription inactive",
  no_queues: "no queues to show", no_topics: "no topics to subscribe", crashed: "restarting",
};

const CONN_ICON = { connecting: "◌", live: "●", reconnecting: "↻", offline: "✕" };
const UP_ICON = { live: "●", degraded: "▲", down: "✕", unknown: "?" };

function updateHeader(now) {
  put(els.clock, clock(now));
  const conn = store.connection;
  attr(els.conn, "data-state", conn.state);
  put(els.conn.querySelector(".icon"), CONN_ICON[conn.state] || "?");
  put(els.conn.querySelector(".text"), conn.state);
  attr(els.conn, "title", conn.detail || conn.state);

  const up = store.upstream?.upstream || "unknown";
  attr(els.upstream, "data-state", up);
  put(els.upstream.querySelector(".icon"), UP_ICON[up] || "?");
  put(els.upstream.querySelector(".text"), up);
  const why = REASON_TEXT[store.upstream?.detail] || store.upstream?.detail || "";
  const where = store.upstream?.source ? ` — ${store.upstream.source}` : "";
  attr(els.upstream, "title", why ? `upstream ${up}: ${why}${where}` : `upstream ${up}`);

  const ageMs = store.dataAgeMs(now);
  put(els.age, age(ageMs));

  const reasons = [];
  if (ageMs !== null) {
    if (conn.state !== "live") reasons.push(`connection ${conn.state}`);
    if (up !== "live") reasons.push(`upstream ${up}${why ? ` (${why})` : ""}`);
    if (ageMs > config.staleAfterMs) reasons.push(`no data for ${duration(ageMs)}`);
  }
  const stale = reasons.length > 0;
  attr(els.body, "data-stale", stale);
  attr(els.age, "data-stale", ageMs !== null && ageMs > config.staleAfterMs);
  els.banner.hidden = !stale;
  put(els.banner.querySelector(".text"), stale ? `— ${reasons.join("; ")}. Figures may be out of date.` : "");
}

/* ------------------------------------------------------------------ start */

buildColumns();
buildLegend();
setLarge(config.large);
els.large.addEventListener("click", () => setLarge(!config.large));
addEventListener("keydown", (e) => {
  if (e.key === "l" || e.key === "L") setLarge(!config.large);
});

// The one-second tick, aligned to the wall clock's second so every timer turns together.
(function tick() {
  tickDue = true;
  schedule();
  setTimeout(tick, 1000 - (Date.now() % 1000) + 5);
})();

// Large mode fits every row on the screen: the type scales with the number of rows.
new ResizeObserver(() => els.root.style.setProperty("--rows", String(Math.max(rows.size, 4))))
  .observe(els.rows);
