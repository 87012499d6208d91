/**
 * app.js — the wallboard page: renders the store of queuecast-client.js as rows or tiles.
 *
 * Rendering is batched: store changes only mark queues dirty; one pass per animation frame
 * updates the items that changed, and within them only the cells whose text or state differ.
 * A one-second tick advances the clock and the longest-wait timers in the same kind of pass.
 * The layout (type size, column widths, pages) is recomputed only when the screen, the number of
 * items or a name changes; pages turn on their own timer. The page never reloads itself.
 */

import { connectBoard } from "./queuecast-client.js";
import { BADGE, age, clock, duration, percent, readConfig, sparkPath, thresholdsFor } from "./board-format.js";
import { BY_KEY, SPARK, drawLongest, makeCell, resolveColumns, tileDetail } from "./board-columns.js";
import { groupOf, groupTotals, orderGroups, parseGroups } from "./board-groups.js";
import { planRows, planTiles, textEm } from "./board-layout.js";
import { startKiosk } from "./board-kiosk.js";
import { attr, h, put, stats } from "./board-dom.js";

/* ------------------------------------------------------------------ settings */

/**
 * Viewer access (docs/wallboard.md): a token in `?access_token=` leaves the address bar at once
 * (history.replaceState: not on screen, not in bookmarks, not in the history) and is kept for this tab
 * in sessionStorage, so a reload still has it. It is sent only to the proxy and never rendered.
 */
function takeAccessToken() {
  const KEY = "queuecast:access_token";
  const url = new URL(location.href);
  const given = url.searchParams.get("access_token");
  if (given !== null) {
    url.searchParams.delete("access_token");
    history.replaceState(history.state, "", url);
    try {
      if (given) sessionStorage.setItem(KEY, given);
      else sessionStorage.removeItem(KEY); // `?access_token=` (empty) forgets it
    } catch { /* storage disabled: the token lives as long as the page */ }
    return given || null;
  }
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}
const accessToken = takeAccessToken();

// A saved board (`/b/<name>`) arrives inside the page; the URL's own parameters win over it.
const saved = JSON.parse(document.getElementById("saved-board")?.textContent || "null");
const params = new URLSearchParams(saved?.params || {});
for (const [k, v] of new URLSearchParams(location.search)) params.set(k, v);
const config = readConfig(params);
config.perQueue = saved?.thresholds || {};
const columns = resolveColumns(config.columns, config.layout);
const shownKeys = new Set(columns.map((c) => c.key));
if (!BY_KEY[config.sort]?.sort) config.sort = "name";
const groupSpec = parseGroups(config.groups);
const tiles = config.layout === "tiles";

/** Type sizes inside an item, in `--cell` units (the style sheet uses the same numbers). */
const SIZE = { pad: 1.0, head: 0.6, sub: 0.5, tileName: 1, tileLabel: 0.5, tileValue: 1.6, tilePad: 1.2 };
/** Most of a row the queue name may take; a longer name is cut, and whole in its tooltip. */
const NAME_SHARE = 0.34;

const $ = (id) => document.getElementById(id);
const els = {
  root: document.documentElement, body: document.body, main: $("main"), board: $("board"), tiles: $("tiles"),
  clock: $("clock"), conn: $("conn"), upstream: $("upstream"), age: $("age"), banner: $("stale-banner"),
  rows: $("rows"), bands: $("bands"), columns: $("columns"), empty: $("empty"), large: $("large-toggle"),
  legend: $("legend"), page: $("page"), alarms: $("alarms"), alarmList: $("alarm-list"), alarmCount: $("alarm-count"),
  title: $("title"),
};
const container = tiles ? els.tiles : els.rows;

const board = connectBoard({ queues: config.queues, share: config.share, accessToken });
const store = board.store;
const layoutState = { cell: 0, pages: 1, perPage: 0, page: 0, dense: false, mode: "", cols: 0 };
window.queuecast = { store, board, stats, config, layout: layoutState, showPage: (i) => turnTo(i) };

/* ------------------------------------------------------------------ header, legend, sorting */

function buildColumns() {
  els.board.hidden = tiles;
  els.tiles.hidden = !tiles;
  if (tiles) return;
  els.board.prepend(h("colgroup", {}, ...columns.map((col) => h("col", { "data-col": col.key }))));
  let band = null;
  for (const col of columns) { // the band row: "Agents" over the agent columns, "This interval" over those
    if (band && band.label === (col.band || "")) band.th.colSpan += 1;
    else {
      band = { label: col.band || "", th: h("th", col.band ? { scope: "colgroup" } : {}, col.band || "") };
      els.bands.append(band.th);
    }
  }
  for (const col of columns) {
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
  layoutDirty = true;
  schedule();
}

function buildLegend() {
  const sl = config.sl ? `below ${percent(config.sl[0])} / ${percent(config.sl[1])}` : "below target / 10 points under";
  const own = Object.keys(config.perQueue).length;
  els.legend.append(
    h("span", {}, h("span", { class: "badge", "data-level": "amber" }, BADGE.amber), " warning"),
    h("span", {}, h("span", { class: "badge", "data-level": "red" }, BADGE.red), " alarm"),
    h("span", {}, `longest wait ≥ ${config.wait[0]} s / ${config.wait[1]} s`),
    h("span", {}, `waiting ≥ ${config.waiting[0]} / ${config.waiting[1]}`),
    h("span", {}, `service level ${sl}`),
    ...(own ? [h("span", {}, `${own} queue${own > 1 ? "s" : ""} with their own thresholds`)] : []),
  );
  put(els.title, config.title || saved?.title || "");
}

/* ------------------------------------------------------------------ items: rows or tiles */

/** @type {Map<string, object>} queueId → item; group name → item */
const items = new Map();
const groupItems = new Map();

function makeItem(key, group) {
  const cells = {};
  let el;
  if (tiles) {
    el = h("div", { class: `tile${group ? " group" : ""}` });
    const figs = h("div", { class: "figs" });
    for (const col of columns) {
      const cell = (cells[col.key] = makeCell(col, "div", { tile: true }));
      (col.key === "name" ? el : figs).append(cell.el);
    }
    el.append(figs);
  } else {
    el = h("tr", group ? { class: "group" } : {});
    for (const col of columns) {
      const cell = (cells[col.key] = makeCell(col, col.key === "name" ? "th" : "td", { sub: true }));
      if (col.key === "name") attr(cell.el, "scope", "row");
      el.append(cell.el);
    }
  }
  attr(el, group ? "data-group" : "data-queue", key);
  const item = { key, el, cells, view: null, group: group ? { size: 0 } : null, sparkAt: 0, red: [] };
  (group ? groupItems : items).set(key, item);
  container.append(el);
  orderDirty = layoutDirty = true;
  return item;
}

function ctxFor(item, now) {
  return { now, th: item.group ? config : thresholdsFor(config, item.key), group: item.group };
}

function updateItem(item, view, now) {
  const ctx = ctxFor(item, now);
  if (item.view?.name !== view.name) layoutDirty = true; // a name may need another column width
  for (const col of columns) if (col.draw) col.draw(item.cells[col.key], view, ctx);
  if (item.view?.waiting !== view.waiting) item.sparkAt = 0; // redraw the line now
  item.view = view;
  noteLevels(item);
  if (tiles) attr(item.el, "title", tileDetail(view, shownKeys));
}

/** The item's worst level (tiles show it on their border) and its alarms (for the pinned strip). */
function noteLevels(item) {
  const red = columns.filter((c) => item.cells[c.key].level === "red").map((c) => c.key);
  const worst = red.length ? "red" : columns.some((c) => item.cells[c.key].level === "amber") ? "amber" : "";
  attr(item.el, "data-worst", worst);
  if (red.join() !== item.red.join()) alarmsDirty = true;
  item.red = red;
}

function tickLongest(item, now) {
  const cell = item.cells.longest;
  if (!cell || !item.view) return;
  drawLongest(cell, item.view, ctxFor(item, now));
  noteLevels(item);
  if (item.red.includes("longest")) alarmsDirty = true; // its figure ticks in the strip too
}

function updateSpark(item, now) {
  const cell = item.cells.trend;
  if (!cell) return;
  const { line, peak } = sparkPath(store.history(item.key), now, {
    windowMs: store.historyMs, bucketMs: store.bucketMs, ...SPARK,
  });
  if (cell.path.getAttribute("d") !== line) cell.path.setAttribute("d", line);
  put(cell.title, `waiting over the last 15 minutes, peak ${peak}`);
  item.sparkAt = now;
}

/** Group totals, recomputed from the members' views (cheap: sums over at most a few hundred views). */
function updateGroups(now) {
  const members = new Map();
  for (const item of items.values()) {
    if (!item.view) continue;
    const g = groupOf(groupSpec, item.view);
    if (!members.has(g)) members.set(g, []);
    members.get(g).push(item.view);
  }
  for (const [name, item] of groupItems) {
    if (!members.has(name)) {
      item.el.remove();
      groupItems.delete(name);
      orderDirty = layoutDirty = true;
    }
  }
  for (const [name, views] of members) {
    const item = groupItems.get(name) || makeItem(name, true);
    if (item.group.size !== views.length) orderDirty = true;
    item.group.size = views.length;
    updateItem(item, groupTotals(name, views), now);
  }
}

/* ------------------------------------------------------------------ the render pass */

const dirty = new Set();
let headerDirty = true;
let orderDirty = true;
let layoutDirty = true;
let pageDirty = true;
let alarmsDirty = true;
let tickDue = true;
let scheduled = false;
/** Items in display order (group totals before their members). */
let order = [];

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
    const item = items.get(q);
    if (!view) {
      if (item) {
        item.el.remove();
        items.delete(q);
        orderDirty = layoutDirty = alarmsDirty = true;
      }
      continue;
    }
    updateItem(item || makeItem(q, false), view, now);
  }
  const sparkDue = now - store.bucketMs;
  for (const [q, item] of items) {
    if (tickDue && !dirty.has(q)) tickLongest(item, now);
    if (item.sparkAt <= sparkDue) updateSpark(item, now);
  }
  if (groupSpec && (dirty.size || tickDue)) updateGroups(now);
  if (orderDirty || (tickDue && config.sort === "longest")) reorder(now);
  if (layoutDirty) layout();
  if (pageDirty) showPage();
  if (alarmsDirty) updateAlarms();
  if (headerDirty || tickDue) updateHeader(now);
  dirty.clear();
  headerDirty = orderDirty = tickDue = false;
  stats.maxPassMs = Math.max(stats.maxPassMs, performance.now() - t0);
}

function reorder(now) {
  const col = BY_KEY[config.sort];
  const sign = config.dir === "asc" ? 1 : -1;
  const keyed = [...items.values()].filter((it) => it.view).map((it) => [col.sort(it.view, now), it.key, it]);
  keyed.sort(([a, qa], [b, qb]) => (a < b ? -sign : a > b ? sign : qa < qb ? -1 : qa > qb ? 1 : 0));
  let next = keyed.map(([, , it]) => it);
  if (groupSpec) {
    const byGroup = new Map();
    for (const it of next) {
      const g = groupOf(groupSpec, it.view);
      if (!byGroup.has(g)) byGroup.set(g, []);
      byGroup.get(g).push(it);
    }
    next = orderGroups(groupSpec, [...byGroup.keys()])
      .flatMap((g) => [groupItems.get(g), ...byGroup.get(g)].filter(Boolean));
  }
  if (next.length !== order.length || next.some((it, i) => it !== order[i])) {
    if (next.length !== order.length) layoutDirty = true;
    container.append(...next.map((it) => it.el)); // moves elements; unchanged cells stay untouched
    order = next;
    pageDirty = true;
  }
  els.empty.hidden = items.size > 0;
}

/* ------------------------------------------------------------------ layout: type size, widths, pages */

/** The board's font at its boldest weight: measuring with it never under-sizes a column. */
function fontOf(el) {
  return `800 ${getComputedStyle(el).fontFamily}`;
}

/** Ems of the widest of `texts` in `font`. */
const widest = (texts, font) => Math.max(0, ...texts.map((t) => textEm(t, font)));

/** Each column's need in cells (ems of `--cell`): its widest text at its size, its header word, padding. */
function columnNeeds(full) {
  const font = fontOf(els.body);
  const head = (col) => widest(`${col.label} ↓`.split(/[\s\u00ad]+/), font) * SIZE.head;
  const needs = columns.map((col) => {
    if (col.key === "name") {
      const names = [...items.values(), ...groupItems.values()].filter((it) => it.view)
        .map((it) => it.group ? `${it.view.name} (888)` : it.view.name);
      return Math.max(widest(names, font), head(col)) + SIZE.pad;
    }
    let text = widest([col.sample], font) * col.size;
    if (full && col.key === "waiting") { // the media line under it: "chat 88 · voice 88"
      const media = new Set([...items.values()].flatMap((it) => Object.keys(it.view?.media || {})));
      if (media.size > 1) text = Math.max(text, textEm([...media].map((m) => `${m} 88`).join(" · "), font) * SIZE.sub * col.size);
    }
    if (full && col.key === "sl") text = Math.max(text, textEm("target 88.8%", font) * SIZE.sub);
    return Math.max(text, head(col)) + SIZE.pad;
  });
  // the name takes what it needs, up to NAME_SHARE of the row
  const rest = needs.reduce((a, b) => a + b, 0) - needs[0];
  needs[0] = Math.min(needs[0], (rest * NAME_SHARE) / (1 - NAME_SHARE));
  return needs;
}

function setWidths(needs) {
  const total = needs.reduce((a, b) => a + b, 0);
  const cols = els.board.querySelectorAll("col");
  needs.forEach((n, i) => { cols[i].style.width = `${((n / total) * 100).toFixed(3)}%`; });
  return total;
}

/** Height of `el` in cells, measured at a 20 px cell. */
function measure(el, dense) {
  els.main.dataset.dense = String(dense);
  const hidden = el.hidden;
  el.hidden = false;
  const k = el.getBoundingClientRect().height / 20;
  el.hidden = hidden;
  return k;
}

function floorPx() {
  if (config.page === "fit") return 6;
  return config.minType * (innerHeight / 1080) * (config.large ? 1.5 : 1);
}

function layout() {
  layoutDirty = false;
  if (!order.length) return;
  stats.layouts++;
  const main = els.main;
  const box = () => {
    const s = getComputedStyle(main);
    return {
      width: main.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight),
      height: main.clientHeight - parseFloat(s.paddingTop) - parseFloat(s.paddingBottom) - 2,
    };
  };
  const floor = floorPx();
  main.style.setProperty("--cell", "20px");
  let plan;
  if (tiles) {
    const font = fontOf(els.body);
    const figs = columns.filter((c) => c.key !== "name");
    const perRow = figs.length <= 4 ? 2 : 3;
    const fig = Math.max(...figs.map((c) => Math.max(
      widest([c.sample], font) * SIZE.tileValue, widest([c.tile || c.label], font) * SIZE.tileLabel)));
    const names = [...items.values()].filter((it) => it.view).map((it) => it.view.name);
    const tileW = Math.max(widest(names, font) * SIZE.tileName * 0.8, Math.min(perRow, figs.length) * (fig + 1.2)) +
      SIZE.tilePad;
    main.style.setProperty("--fig-cols", String(Math.min(perRow, figs.length)));
    const tileH = measure(order[0].el, false);
    const place = (b) => planTiles({ n: order.length, box: { ...b, tileW, tileH, gap: 0.4 }, floor, max: floor * 4 });
    plan = place(box());
    if (plan.pages > 1 && els.alarms.hidden) {
      els.alarms.hidden = false;
      plan = place(box());
    } else if (plan.pages === 1) els.alarms.hidden = true;
    main.style.setProperty("--tile-cols", String(plan.cols));
    layoutState.cols = plan.cols;
  } else {
    const headK = () => els.board.tHead.getBoundingClientRect().height / 20;
    const fullNeeds = columnNeeds(true);
    const denseNeeds = columnNeeds(false);
    const fullK = measure(order[0].el, false);
    const denseK = measure(order[0].el, true);
    const place = (b) => {
      const full = planRows({ n: order.length, avail: b.height, rowK: fullK, headK: headK(),
        floor: Math.max(floor, 24 * innerHeight / 1080), max: b.width / fullNeeds.reduce((a, c) => a + c, 0) });
      if (full.pages === 1) return { ...full, dense: false };
      return { ...planRows({ n: order.length, avail: b.height, rowK: denseK, headK: headK(), floor,
        max: b.width / denseNeeds.reduce((a, c) => a + c, 0) }), dense: true };
    };
    if (config.page === "off") {
      const b = box();
      plan = { cell: Math.max(floor, b.width / fullNeeds.reduce((a, c) => a + c, 0)), pages: 1,
        perPage: order.length, dense: false };
      plan.cell = Math.min(plan.cell, b.width / fullNeeds.reduce((a, c) => a + c, 0));
    } else {
      plan = place(box());
      if (plan.pages > 1 && els.alarms.hidden) {
        els.alarms.hidden = false;
        plan = place(box());
      } else if (plan.pages === 1) els.alarms.hidden = true;
    }
    setWidths(plan.dense ? denseNeeds : fullNeeds);
    main.dataset.dense = String(plan.dense);
    layoutState.dense = plan.dense;
  }
  main.style.setProperty("--cell", `${plan.cell.toFixed(2)}px`);
  main.dataset.scroll = String(config.page === "off");
  Object.assign(layoutState, { cell: plan.cell, pages: plan.pages, perPage: plan.perPage, floor,
    mode: plan.pages > 1 ? "rotate" : "fit" });
  if (layoutState.page >= plan.pages) layoutState.page = 0;
  markCut();
  pageDirty = alarmsDirty = true;
}

/** Flags the names the layout had to cut (their tooltip has them whole). */
function markCut() {
  for (const it of [...items.values(), ...groupItems.values()]) {
    const line = it.cells.name.el.querySelector(".line");
    const wasHidden = it.el.hidden;
    it.el.hidden = false;
    attr(it.cells.name.el, "data-cut", line.scrollWidth > line.clientWidth + 1);
    it.el.hidden = wasHidden;
  }
}

/* ------------------------------------------------------------------ pages and the alarm strip */

let pageTimer = 0;

function turnTo(index) {
  layoutState.page = ((index % layoutState.pages) + layoutState.pages) % layoutState.pages;
  pageDirty = true;
  schedule();
  clearTimeout(pageTimer);
  pageTimer = setTimeout(() => turnTo(layoutState.page + 1), config.pageSeconds * 1000);
}

function showPage() {
  pageDirty = false;
  const { pages, perPage } = layoutState;
  const start = layoutState.page * perPage;
  order.forEach((it, i) => {
    const hide = pages > 1 && (i < start || i >= start + perPage);
    if (it.el.hidden !== hide) it.el.hidden = hide;
  });
  els.page.hidden = pages <= 1;
  put(els.page.querySelector(".text"), `${layoutState.page + 1} / ${pages}`);
  attr(els.page, "title", `page ${layoutState.page + 1} of ${pages}; the next in ${config.pageSeconds} s (keys ← →)`);
  alarmsDirty = true;
}

/** queueId → its chip in the alarm strip. */
const chipEls = new Map();
const ALARM_WORD = { waiting: "waiting", longest: "longest wait", sl: "service level" };

/**
 * Every queue in alarm, whatever page shows: while the board pages, a strip above it names the
 * queues in alarm that are not on the page shown (those are there, in red), and counts them all.
 * More than fit on one line end in "+N more".
 */
function updateAlarms() {
  alarmsDirty = false;
  if (els.alarms.hidden) return;
  const red = order.filter((it) => !it.group && it.red.length);
  const away = red.filter((it) => it.el.hidden);
  put(els.alarmCount, red.length ? `${red.length} in alarm${away.length < red.length ? ` (${red.length -
    away.length} on this page)` : ""}` : "no alarms");
  attr(els.alarms, "data-level", red.length ? "red" : "");
  // chips are kept per queue and only their text changes as a figure ticks: no element churn
  const chips = away.map((it) => {
    const what = it.red.map((k) => `${ALARM_WORD[k] || k} ${it.cells[k].value.textContent}`).join(", ");
    let chip = chipEls.get(it.key);
    if (!chip) {
      chip = h("li", { class: "chip", "data-queue": it.key }, h("span", { class: "badge" }, BADGE.red),
        h("span", { class: "t" }));
      chipEls.set(it.key, chip);
    }
    put(chip.lastChild, `${it.view.name}: ${what}`);
    attr(chip, "title", chip.lastChild.textContent);
    return chip;
  });
  for (const q of chipEls.keys()) if (!items.get(q)?.red.length) chipEls.delete(q);
  const list = els.alarmList;
  if (chips.length !== list.children.length || chips.some((c, i) => c !== list.children[i])) list.replaceChildren(...chips);
  // the chips that do not fit the line are taken out, and counted
  const right = list.getBoundingClientRect().right;
  const cut = [...list.children].filter((li) => li.getBoundingClientRect().right > right + 1);
  if (!cut.length) return;
  let hidden = cut.length;
  for (const li of cut) li.remove();
  const more = h("li", { class: "more" });
  list.append(more);
  for (;;) {
    more.textContent = `+${hidden} more`;
    const last = more.previousElementSibling;
    if (more.getBoundingClientRect().right <= right + 1 || !last) break;
    last.remove();
    hidden++;
  }
}

/* ------------------------------------------------------------------ header */

/** The proxy sends a fixed vocabulary (never an exception text); these are the words a supervisor reads. */
const REASON_TEXT = {
  waiting: "waiting for the first event", no_events: "no events lately", connecting: "connecting",
  credentials: "the proxy's platform credentials were refused", token: "cannot get a platform token",
  rate_limited: "rate limited by the platform", network: "platform unreachable", platform_5xx: "platform error",
  platform: "platform refused a request", socket: "notification socket lost", subscription: "subscription inactive",
  no_queues: "no queues to show", no_topics: "no topics to subscribe", crashed: "restarting",
  redis: "this server lost its cluster store (Redis): showing the last state",
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
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === "l" || e.key === "L") setLarge(!config.large);
  if (e.key === "ArrowRight") turnTo(layoutState.page + 1);
  if (e.key === "ArrowLeft") turnTo(layoutState.page - 1);
});
if (config.kiosk) window.queuecast.kiosk = startKiosk({ root: els.root });

// The one-second tick, aligned to the wall clock's second so every timer turns together.
(function tick() {
  tickDue = true;
  schedule();
  setTimeout(tick, 1000 - (Date.now() % 1000) + 5);
})();
turnTo(0);

// A new screen size (or the stale banner coming and going) lays the board out again.
new ResizeObserver(() => {
  layoutDirty = true;
  schedule();
}).observe(els.main);
