/**
 * board-format.js — pure helpers of the wallboard: settings from the URL, formatting, thresholds,
 * sparkline paths. No DOM here, so each piece can be read (and tested) on its own.
 */

/** Board settings from the page's query string. Every default is stated here. */
export function readConfig(params) {
  const pair = (name, fallback) => {
    const raw = params.get(name);
    if (!raw) return fallback;
    const [a, b] = raw.split(",").map(Number);
    return Number.isFinite(a) && Number.isFinite(b) ? [a, b] : fallback;
  };
  const list = (name) => {
    const items = (params.get(name) || "").split(",").map((q) => q.trim()).filter(Boolean);
    return items.length ? items : null;
  };
  const queues = list("queues");
  return {
    /** `?queues=a,b`: show (and stream) only these queues. Default: all. */
    queues,
    /** `?sort=<column>&dir=asc|desc`. Default: by name, ascending. */
    sort: params.get("sort") || "name",
    dir: params.get("dir") === "desc" ? "desc" : "asc",
    /** `?display=large`: scale type to fill the screen. */
    large: params.get("display") === "large",
    /** `?wait=amber,red`: longest wait in seconds. Default 60,180. */
    wait: pair("wait", [60, 180]),
    /** `?waiting=amber,red`: contacts waiting. Default 5,10. */
    waiting: pair("waiting", [5, 10]),
    /** `?sl=amber,red`: service level as a fraction, amber/red below it. Default: the queue's own
     *  target (0.8 when it has none) and 10 points under it. */
    sl: pair("sl", null),
    /** `?staleAfter=s`: the board says it is stale when its newest data is older. Default 120 s. */
    staleAfterMs: (Number(params.get("staleAfter")) || 120) * 1000,
    /** `?minPassMs=ms`: at least this long between two render passes (a wall screen needs no
     *  60 updates a second, and each pass costs a layout). Default 100 ms. */
    minPassMs: Math.max(0, Number(params.get("minPassMs") ?? 100) || 0),
    /** `?share=auto|worker|channel|off`: how tabs share one stream. Default auto. */
    share: params.get("share") || "auto",
    /** `?layout=rows|tiles`. Default rows. */
    layout: params.get("layout") === "tiles" ? "tiles" : "rows",
    /** `?columns=waiting,longest,sl,...`: which columns (or tile figures), in order; the name always
     *  comes first. `agents` stands for the five agent columns. Default: every column (tiles: waiting,
     *  longest, sl, agents-IDLE). */
    columns: list("columns"),
    /** `?groups=prefix`, `?groups=division` or `?groups=Sales:q1,q2;Support:q3`: group rows with a total
     *  each. Default none. */
    groups: params.get("groups") || null,
    /** `?page=auto|fit|off`: auto shrinks the type to fit every queue down to `minType`, then pages;
     *  fit always shrinks (no floor); off keeps the type and lets the page scroll. Default auto. */
    page: ["auto", "fit", "off"].includes(params.get("page")) ? params.get("page") : "auto",
    /** `?pageSeconds=s`: how long each page shows. Default 10, at least 2. */
    pageSeconds: Math.max(2, Number(params.get("pageSeconds")) || 10),
    /** `?minType=px`: the legibility floor of the board's type at 1080 px of screen height (scaled
     *  with the height: twice that on a 2160 px screen). Default 18. */
    minType: Math.max(6, Number(params.get("minType")) || 18),
    /** `?kiosk=off`: keep the cursor, selection and screen sleep as they are. Default on. */
    kiosk: params.get("kiosk") !== "off",
    /** `?title=`: a name for the board in the header. Default none. */
    title: params.get("title") || "",
    /** Per-queue thresholds (queueId → {wait, waiting, sl}); only a saved board sets them. */
    perQueue: {},
  };
}

/** The thresholds of one queue: its own (from a saved board) over the board's. */
export function thresholdsFor(config, queueId) {
  const own = config.perQueue[queueId];
  if (!own) return config;
  return { wait: own.wait || config.wait, waiting: own.waiting || config.waiting, sl: own.sl || config.sl };
}

/** `n` as a count; an em dash when unknown. */
export function count(n) {
  return n === null || n === undefined ? "—" : String(n);
}

/** A fraction as a percentage with at most one decimal: 0.857 → "85.7%", 1 → "100%". */
export function percent(x) {
  return x === null || x === undefined ? "—" : `${+(x * 100).toFixed(1)}%`;
}

/** Milliseconds as m:ss or h:mm:ss: 42_000 → "0:42", 3_723_000 → "1:02:03". */
export function duration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** Wall clock HH:MM:SS in the browser's time zone. */
export function clock(now) {
  const d = new Date(now);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}

/** "data 3 s old" style text. */
export function age(ms) {
  if (ms === null) return "no data yet";
  if (ms < 1500) return "data current";
  if (ms < 90_000) return `data ${Math.round(ms / 1000)} s old`;
  return `data ${duration(ms)} old`;
}

/** Current wait in ms from `longestWaitingSince`, or null when nobody waits. */
export function waitMs(since, now) {
  return since ? Math.max(0, now - Date.parse(since)) : null;
}

/** "amber", "red" or "" for a value that is bad when high. */
export function levelHigh(value, [amber, red]) {
  if (value === null || value === undefined) return "";
  if (value >= red) return "red";
  if (value >= amber) return "amber";
  return "";
}

/** "amber", "red" or "" for a service level, against the configured pair or the queue's target. */
export function levelServiceLevel(sl, target, configured) {
  if (sl === null || sl === undefined) return "";
  const [amber, red] = configured || [target ?? 0.8, (target ?? 0.8) - 0.1];
  if (sl < red) return "red";
  if (sl < amber) return "amber";
  return "";
}

/** Badge text per level: a shape as well as a colour, so the board never speaks by colour alone. */
export const BADGE = { amber: "▲", red: "◆", "": "" };
export const LEVEL_WORD = { amber: "warning", red: "alarm", "": "" };

/**
 * SVG path of a step line over `history` ([[t, max, last], ...]) for the window ending at `now`.
 * Returns {line, peak}; `line` is "" when there is nothing to draw.
 */
export function sparkPath(history, now, { windowMs, bucketMs, width, height, floor = 5 }) {
  const start = now - windowMs;
  let peak = 0;
  for (const [t, mx] of history) if (t + bucketMs > start) peak = Math.max(peak, mx);
  if (!history.length) return { line: "", peak: 0 };
  const top = Math.max(peak, floor);
  const X = (t) => (Math.max(0, Math.min(windowMs, t - start)) / windowMs * width).toFixed(1);
  const Y = (v) => (height - 1 - (v / top) * (height - 2)).toFixed(1);
  let d = "";
  for (let i = 0; i < history.length; i++) {
    const [t, mx, last] = history[i];
    const next = i + 1 < history.length ? history[i + 1][0] : now;
    const bucketEnd = Math.min(t + bucketMs, next);
    d += i === 0 ? `M${X(t)} ${Y(mx)}` : `V${Y(mx)}`;
    d += `H${X(bucketEnd)}V${Y(last)}H${X(next)}`;
  }
  return { line: d, peak };
}
