/**
 * board-columns.js — what the board can show about a queue: one entry per column (or tile figure),
 * with its header, its sort value, the size of its type and how a cell of it is drawn.
 *
 * A cell is `{el, badge, value, ...}`; `draw(cell, view, ctx)` writes only what differs. The same
 * cells serve table rows, tiles and group totals (a group total is drawn from a summed view).
 */

import { ROUTING_STATUSES } from "./queuecast-client.js";
import {
  BADGE, LEVEL_WORD, clock, count, duration, levelHigh, levelServiceLevel, percent, waitMs,
} from "./board-format.js";
import { attr, h, put, SVG_NS, stats } from "./board-dom.js";

const AGENT_LABELS = {
  IDLE: "Idle", INTERACTING: "Interact\u00ading", COMMUNICATING: "Comm.", NOT_RESPONDING: "Not resp.", OFF_QUEUE: "Off queue",
};

/** A longest wait from a REST answer (`longestWaitingAsOf` set) older than this is marked as older than live. */
const LONGEST_AGED_MS = 15000;

/** Sparkline drawing box (SVG user units). */
export const SPARK = { width: 120, height: 30 };

function setLevel(cell, level, what) {
  cell.level = level;
  attr(cell.el, "data-level", level);
  put(cell.badge, BADGE[level]);
  attr(cell.el, "title", level ? `${what}: ${LEVEL_WORD[level]}` : "");
}

function plain(get, fmt = count) {
  return (cell, view) => {
    const x = get(view);
    put(cell.value, fmt(x));
    attr(cell.el, "data-value", x);
  };
}

function drawName(cell, view, ctx) {
  const text = ctx.group ? `${view.name} (${ctx.group.size})` : view.name;
  put(cell.value, text);
  attr(cell.el, "data-value", view.name);
  // the full name is always in the tooltip, so a name cut by the layout can still be read
  attr(cell.el, "title", ctx.group ? `group ${view.name}: ${ctx.group.size} queues` : `${view.name} (${view.queueId})`);
}

function drawWaiting(cell, view, ctx) {
  put(cell.value, count(view.waiting));
  attr(cell.el, "data-value", view.waiting);
  // a group's total is not held against one queue's thresholds
  setLevel(cell, ctx.group ? "" : levelHigh(view.waiting, ctx.th.waiting), "waiting");
  if (!cell.media) return;
  const media = Object.entries(view.media || {});
  const key = media.length > 1 ? media.map(([m, s]) => `${m}:${s.waiting}`).join(" ") : "";
  if (cell.media.dataset.key !== key) {
    cell.media.dataset.key = key;
    cell.media.replaceChildren(...(media.length > 1 ? media.map(([m, s]) =>
      h("span", { class: "m", "data-media": m, "data-value": s.waiting }, `${m} ${s.waiting}`)) : []));
    stats.cellWrites++;
  }
}

/** The longest wait, counted from `longestWaitingSince` at `ctx.now` (also called by the 1 s tick). */
export function drawLongest(cell, view, ctx) {
  attr(cell.el, "data-value", view.longestWaitingSince);
  const ms = waitMs(view.longestWaitingSince, ctx.now);
  const unknown = ms === null && view.waiting > 0; // someone waits; the REST refresh has not answered yet
  put(cell.value, ms !== null ? duration(ms) : unknown ? "…" : "—");
  setLevel(cell, ms === null ? "" : levelHigh(ms / 1000, ctx.th.wait), "longest wait");
  const asOf = view.longestWaitingAsOf ? Date.parse(view.longestWaitingAsOf) : null;
  const aged = ms !== null && asOf !== null && ctx.now - asOf > LONGEST_AGED_MS;
  attr(cell.el, "data-aged", aged || unknown);
  if (aged) attr(cell.el, "title", `longest wait as of ${clock(asOf)} (from the platform's query, not live)`);
  else if (unknown) attr(cell.el, "title", "someone waits; the longest wait is being fetched");
}

function drawServiceLevel(cell, view, ctx) {
  const iv = view.interval || {};
  put(cell.value, percent(iv.serviceLevel));
  if (cell.target) put(cell.target, iv.serviceLevelTarget == null ? "" : `target ${percent(iv.serviceLevelTarget)}`);
  attr(cell.el, "data-value", iv.serviceLevel);
  attr(cell.el, "data-target", iv.serviceLevelTarget);
  setLevel(cell, levelServiceLevel(iv.serviceLevel, iv.serviceLevelTarget, ctx.th.sl), "service level");
}

const interval = (key) => (v) => v.interval?.[key] ?? null;

/**
 * Every column, in the default order. `size` is the type size in `--cell` units; `sample` the widest
 * text it normally shows (the layout sizes columns from it); `band` the header over a run of columns.
 */
export const COLUMNS = [
  { key: "name", label: "Queue", sort: (v) => v.name.toLowerCase(), cls: "c-name", size: 1, draw: drawName },
  { key: "waiting", label: "Waiting", sort: (v) => v.waiting, num: true, size: 1.2, sample: "◆ 888",
    draw: drawWaiting, tile: "Waiting" },
  { key: "longest", label: "Longest wait", sort: (v, now) => waitMs(v.longestWaitingSince, now) ?? -1, num: true,
    size: 1.2, sample: "◆ 88:88", draw: drawLongest, tile: "Longest" },
  { key: "interacting", label: "Interact\u00ading", sort: (v) => v.interacting, num: true, size: 1, sample: "888",
    draw: plain((v) => v.interacting) },
  { key: "alerting", label: "Alert\u00ading", sort: (v) => v.alerting, num: true, size: 1, sample: "88",
    draw: plain((v) => v.alerting) },
  ...ROUTING_STATUSES.map((s) => ({
    key: `agents-${s}`, label: AGENT_LABELS[s], sort: (v) => v.agents?.[s] ?? 0, num: true, cls: "c-agent",
    size: 0.85, sample: "888", band: "Agents", draw: plain((v) => v.agents?.[s] ?? 0),
    tile: s === "IDLE" ? "Available" : AGENT_LABELS[s],
  })),
  { key: "sl", label: "Service level", sort: (v) => v.interval?.serviceLevel ?? -1, num: true, size: 1,
    sample: "◆ 88.8%", band: "This interval", draw: drawServiceLevel, tile: "Service level" },
  { key: "abandon", label: "Aband\u00adoned", sort: (v) => v.interval?.abandonRate ?? -1, num: true, size: 1,
    sample: "88.8%", band: "This interval", draw: plain(interval("abandonRate"), percent) },
  { key: "asa", label: "ASA", sort: (v) => v.interval?.asaMs ?? -1, num: true, size: 1, sample: "88:88",
    band: "This interval", draw: plain(interval("asaMs"), duration) },
  { key: "aht", label: "AHT", sort: (v) => v.interval?.ahtMs ?? -1, num: true, size: 1, sample: "88:88",
    band: "This interval", draw: plain(interval("ahtMs"), duration) },
  { key: "offered", label: "Offered", sort: (v) => v.interval?.offered ?? -1, num: true, size: 1, sample: "8888",
    band: "This interval", draw: plain(interval("offered")) },
  { key: "answered", label: "Answered", sort: (v) => v.interval?.answered ?? -1, num: true, size: 1,
    sample: "8888", band: "This interval", draw: plain(interval("answered")) },
  { key: "trend", label: "Last 15 min", cls: "c-trend", size: 1, sample: "88888888" },
];
export const BY_KEY = Object.fromEntries(COLUMNS.map((c) => [c.key, c]));

/** What a tile shows when `columns=` does not say: the four figures a supervisor reads first. */
export const TILE_DEFAULT = ["waiting", "longest", "sl", "agents-IDLE"];

/** Column keys a `columns=` list may use besides the keys above. */
const ALIASES = { agents: ROUTING_STATUSES.map((s) => `agents-${s}`), available: ["agents-IDLE"], idle: ["agents-IDLE"] };

/**
 * The columns a board shows: `keys` (from `columns=`, aliases expanded, unknown keys dropped) or the
 * default; the name always comes first. `layout` "tiles" defaults to `TILE_DEFAULT`.
 */
export function resolveColumns(keys, layout) {
  const wanted = keys && keys.length ? keys : layout === "tiles" ? TILE_DEFAULT : COLUMNS.map((c) => c.key);
  const out = ["name"];
  for (const key of wanted.flatMap((k) => ALIASES[k] || [k])) {
    if (BY_KEY[key] && !out.includes(key)) out.push(key);
  }
  return out.map((k) => BY_KEY[k]);
}

/** Builds one cell of `col` inside `tag` (td, th or div); `sub` adds the small second lines. */
export function makeCell(col, tag, { sub, tile } = {}) {
  const cls = `${col.num ? "num " : ""}${col.cls || ""}${tile && col.key !== "name" ? " fig" : ""}`;
  const el = h(tag, { class: cls.trim(), "data-col": col.key });
  const cell = { el, level: "" };
  if (tile && col.key !== "name") el.append(h("div", { class: "label" }, col.tile || col.label.replace(/\u00ad/g, "")));
  if (col.key === "trend") {
    const svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", `0 0 ${SPARK.width} ${SPARK.height}`);
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("role", "img");
    cell.title = document.createElementNS(SVG_NS, "title");
    cell.path = document.createElementNS(SVG_NS, "path");
    svg.append(cell.title, cell.path);
    el.append(svg);
    return cell;
  }
  // Each line is a fixed-size, contained box: a changed number re-lays out that box only.
  cell.badge = h("span", { class: "badge", "aria-hidden": "true" });
  cell.value = h("span", { class: "v" });
  el.append(h("div", { class: "line" }, cell.badge, cell.value));
  if (sub && col.key === "waiting") el.append((cell.media = h("div", { class: "media sub" })));
  if (sub && col.key === "sl") el.append((cell.target = h("div", { class: "target sub" })));
  return cell;
}

/** The words of a tile's tooltip: every figure the tile does not show. */
export function tileDetail(view, shown) {
  const iv = view.interval || {};
  const parts = [];
  const add = (key, text) => { if (!shown.has(key)) parts.push(text); };
  add("interacting", `interacting ${count(view.interacting)}`);
  add("alerting", `alerting ${count(view.alerting)}`);
  for (const s of ROUTING_STATUSES) add(`agents-${s}`, `${AGENT_LABELS[s].replace(/\u00ad/g, "").toLowerCase()} ${count(view.agents?.[s] ?? 0)}`);
  add("sl", `service level ${percent(iv.serviceLevel)}`);
  add("abandon", `abandoned ${percent(iv.abandonRate)}`);
  add("asa", `ASA ${duration(iv.asaMs)}`);
  add("aht", `AHT ${duration(iv.ahtMs)}`);
  add("offered", `offered ${count(iv.offered)}`);
  add("answered", `answered ${count(iv.answered)}`);
  return `${view.name}\n${parts.join(" · ")}`;
}
