/**
 * queuecast-client.js — live queue state from a queuecast proxy, for any page or framework.
 *
 * No build step, no dependencies: a plain ES module. It has three parts.
 *
 *  - `QueueStore`: the one place state lives. A `snapshot` frame replaces it, a `delta` frame
 *    merges whole `QueueView`s (DESIGN §3.5) and drops the `removed` ones; each frame is applied
 *    whole before listeners hear of it, so nobody ever sees half a frame. It also keeps, per
 *    queue, the waiting count over the last 15 minutes (for sparklines) and the connection and
 *    upstream status.
 *  - `StreamClient`: one `EventSource` on `GET /dashboard-stream`. While the browser retries on
 *    its own (readyState CONNECTING) it resumes with `Last-Event-ID` and we leave it alone; when
 *    the browser gives up (readyState CLOSED, e.g. after an HTTP 503), we recreate it after an
 *    exponential backoff with full jitter, passing `?lastEventId=` so the proxy can still replay
 *    exactly the missed deltas.
 *  - `connectBoard()`: a store fed by one stream shared by every tab of the same board (a
 *    SharedWorker; else BroadcastChannel with a Web Lock electing one leader tab; else a stream
 *    of its own), so many tabs never run into the six-connections-per-origin limit of HTTP/1.1.
 *
 * React:
 *   const board = connectBoard({ queues: ["q-billing"] });
 *   const version = useSyncExternalStore(board.store.subscribe, () => board.store.version);
 *   const billing = board.store.get("q-billing");
 * Vue:
 *   const version = shallowRef(0);
 *   board.store.subscribe(() => { version.value = board.store.version; });
 *
 * @module queuecast-client
 */

/** The five routing statuses every view carries in `agents`, in display order. */
export const ROUTING_STATUSES = ["IDLE", "INTERACTING", "COMMUNICATING", "NOT_RESPONDING", "OFF_QUEUE"];

/** Connection states reported by `StreamClient` and kept in `store.connection.state`. */
export const CONNECTION_STATES = ["connecting", "live", "reconnecting", "offline"];

/**
 * Delay before recreating a closed stream: "full jitter" (uniform in [0, min(maxMs, baseMs·2^attempt)]),
 * so a proxy restart does not bring every wallboard back in the same instant.
 * @param {number} attempt 0 for the first retry
 * @param {{baseMs?: number, maxMs?: number, random?: () => number}} [options]
 * @returns {number} milliseconds
 */
export function backoffDelay(attempt, { baseMs = 1000, maxMs = 30000, random = Math.random } = {}) {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * cap);
}

/**
 * The stream URL for a board.
 * @param {string} base e.g. "/dashboard-stream" or "https://proxy.example/dashboard-stream"
 * @param {{queues?: string[]|null, lastEventId?: string|null, accessToken?: string|null}} [options]
 *   accessToken: a viewer token (the proxy's QC_VIEWER_JWT_SECRET), sent as `?access_token=`
 *   because EventSource cannot set an Authorization header
 */
export function streamUrl(base, { queues = null, lastEventId = null, accessToken = null } = {}) {
  const url = new URL(base, globalThis.location?.href ?? "http://localhost/");
  if (queues && queues.length) url.searchParams.set("queues", queues.join(","));
  if (lastEventId) url.searchParams.set("lastEventId", lastEventId);
  if (accessToken) url.searchParams.set("access_token", accessToken);
  // Keep a relative base relative (same origin), so the URL reads naturally in logs.
  return /^[a-z]+:/i.test(base) ? url.href : url.pathname + url.search;
}

/**
 * Whether a viewer token's `exp` has passed, read from its payload (unverified: the proxy decides; this
 * only lets the page say why it is refused). False for anything that is not a JWT with an `exp`.
 * @param {string|null} token
 * @param {number} [nowMs]
 */
export function tokenExpired(token, nowMs = Date.now()) {
  try {
    const payload = token?.split(".")[1];
    if (!payload) return false;
    const exp = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/")))?.exp;
    return typeof exp === "number" && exp * 1000 <= nowMs;
  } catch {
    return false;
  }
}

/** Parses a frame id `<epoch>-<seq>`; null when it is not one. */
export function parseFrameId(id) {
  const m = /^(.+)-(\d+)$/.exec(id || "");
  return m ? { epoch: m[1], seq: Number(m[2]) } : null;
}

/**
 * The state of one board: queue views, the waiting history, upstream and connection status.
 *
 * Listeners get one call per applied change: `{kind, changed, removed}` where `kind` is
 * "snapshot" | "delta" | "status" | "connection" | "import", `changed` the ids whose view changed
 * and `removed` the ids that left. `version` grows by one per change (for `useSyncExternalStore`).
 */
export class QueueStore {
  /**
   * @param {{historyMs?: number, bucketMs?: number, now?: () => number}} [options]
   *   historyMs: how much waiting history to keep per queue (default 15 min);
   *   bucketMs: history resolution, each bucket keeps its highest waiting (default 5 s);
   *   now: the clock (ms since the epoch), for tests.
   */
  constructor({ historyMs = 15 * 60_000, bucketMs = 5_000, now = () => Date.now() } = {}) {
    this.historyMs = historyMs;
    this.bucketMs = bucketMs;
    this.now = now;
    /** @type {Map<string, object>} queueId → QueueView */
    this.queues = new Map();
    /** @type {Map<string, number[][]>} queueId → [[bucketStartMs, maxWaiting, lastWaiting], ...] */
    this._history = new Map();
    this.epoch = null;
    this.seq = 0;
    this.lastEventId = null;
    /** Server time of the newest frame (`asOf`), as sent. */
    this.asOf = null;
    /** Local time (ms) when we last heard from the proxy (a frame or a status): the data's age counts from it. */
    this.syncedAt = null;
    /** The newest `event: status` body: {upstream, since, lastEventAt, detail}. */
    this.upstream = null;
    /** {state, since, attempt, detail}: state is one of CONNECTION_STATES. */
    this.connection = { state: "connecting", since: now(), attempt: 0, detail: "" };
    this.version = 0;
    this._listeners = new Set();
    this.subscribe = this.subscribe.bind(this);
  }

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener) {
    this._listeners.add(listener);
    return () => this._listeners.delete(listener);
  }

  /** The view of one queue, or undefined. */
  get(queueId) {
    return this.queues.get(queueId);
  }

  /** Milliseconds since we last heard from the proxy; null before the first frame. */
  dataAgeMs(now = this.now()) {
    return this.syncedAt === null ? null : Math.max(0, now - this.syncedAt);
  }

  /**
   * Applies one stream frame. `kind` is "snapshot", "delta" or "status"; `data` the parsed JSON;
   * `id` the frame's SSE id. Returns false when a delta cannot be applied (another epoch, or no
   * snapshot yet): the caller should reconnect without a Last-Event-ID to get a fresh snapshot.
   */
  applyFrame(kind, data, id = null) {
    if (kind === "snapshot") return this._snapshot(data, id);
    if (kind === "delta") return this._delta(data, id);
    if (kind === "status") {
      this.upstream = data;
      this.syncedAt = this.now();
      this._emit("status", [], []);
      return true;
    }
    return true;
  }

  _snapshot(frame, id) {
    const now = this.now();
    const next = new Map(Object.entries(frame.queues || {}));
    const removed = [...this.queues.keys()].filter((q) => !next.has(q));
    for (const q of removed) this._history.delete(q);
    this.queues = next;
    for (const [q, view] of next) this._record(q, view.waiting, now);
    this.epoch = frame.epoch;
    this.seq = frame.seq;
    this.lastEventId = id || `${frame.epoch}-${frame.seq}`;
    this.asOf = frame.asOf;
    this.syncedAt = now;
    if (frame.upstream && Object.keys(frame.upstream).length) this.upstream = frame.upstream;
    this._emit("snapshot", [...next.keys()], removed);
    return true;
  }

  _delta(frame, id) {
    if (this.epoch === null || frame.epoch !== this.epoch) return false;
    if (frame.seq <= this.seq) return true; // already applied (a replay overlapping what we had)
    const now = this.now();
    const changed = [];
    for (const [q, view] of Object.entries(frame.queues || {})) {
      this.queues.set(q, view);
      this._record(q, view.waiting, now);
      changed.push(q);
    }
    const removed = [];
    for (const q of frame.removed || []) {
      if (this.queues.delete(q)) removed.push(q);
      this._history.delete(q);
    }
    this.seq = frame.seq;
    this.lastEventId = id || `${frame.epoch}-${frame.seq}`;
    this.asOf = frame.asOf;
    this.syncedAt = now;
    this._emit("delta", changed, removed);
    return true;
  }

  /** Records the connection state (called by the stream client or the tab-sharing layer). */
  setConnection(state, { attempt = 0, detail = "", since = null } = {}) {
    const c = this.connection;
    if (c.state === state && c.attempt === attempt && c.detail === detail) return;
    this.connection = { state, since: since ?? (c.state === state ? c.since : this.now()), attempt, detail };
    this._emit("connection", [], []);
  }

  /**
   * Waiting over the last `historyMs` for one queue: [[timeMs, maxWaiting, lastWaiting], ...], oldest
   * first, one entry per bucket in which the count changed. The value holds until the next entry.
   */
  history(queueId) {
    return this._history.get(queueId) || [];
  }

  _record(queueId, waiting, now) {
    let h = this._history.get(queueId);
    if (!h) this._history.set(queueId, (h = []));
    const bucket = now - (now % this.bucketMs);
    const last = h[h.length - 1];
    if (last && last[0] === bucket) {
      last[1] = Math.max(last[1], waiting);
      last[2] = waiting;
    } else if (!last || last[2] !== waiting) {
      // a new bucket opens at the last value carried over, so its max covers the whole bucket
      h.push([bucket, Math.max(waiting, last ? last[2] : waiting), waiting]);
    }
    // keep one entry older than the window: it gives the value at the window's left edge
    const horizon = now - this.historyMs;
    let drop = 0;
    while (drop + 1 < h.length && h[drop + 1][0] <= horizon) drop++;
    if (drop) h.splice(0, drop);
  }

  /** A structured-clone-safe copy of everything (to hand the state to another tab). */
  exportState() {
    return {
      queues: Object.fromEntries(this.queues),
      history: Object.fromEntries(this._history),
      epoch: this.epoch,
      seq: this.seq,
      lastEventId: this.lastEventId,
      asOf: this.asOf,
      syncedAt: this.syncedAt,
      upstream: this.upstream,
      connection: this.connection,
    };
  }

  /** Replaces everything with an `exportState()` copy. */
  importState(s) {
    const removed = [...this.queues.keys()].filter((q) => !(q in s.queues));
    this.queues = new Map(Object.entries(s.queues));
    this._history = new Map(Object.entries(s.history).map(([q, h]) => [q, h.map((e) => [...e])]));
    Object.assign(this, {
      epoch: s.epoch, seq: s.seq, lastEventId: s.lastEventId, asOf: s.asOf,
      syncedAt: s.syncedAt, upstream: s.upstream, connection: { ...s.connection },
    });
    this._emit("import", [...this.queues.keys()], removed);
  }

  _emit(kind, changed, removed) {
    this.version++;
    const change = { kind, changed, removed };
    for (const listener of [...this._listeners]) {
      try {
        listener(change);
      } catch (err) {
        console.error("queuecast: store listener failed", err);
      }
    }
  }
}

/**
 * One EventSource on the proxy's stream, with reconnection. It does not hold state itself: it
 * hands parsed frames to `onFrame(kind, data, id)` and connection changes to
 * `onConnection(state, {attempt, detail})`. `lastEventId()` tells it where to resume from when it
 * has to create a new EventSource (default: the last id it saw).
 */
export class StreamClient {
  /**
   * @param {object} options
   * @param {string} [options.url] the stream endpoint (default "/dashboard-stream")
   * @param {string[]|null} [options.queues] subset of queues (`?queues=`)
   * @param {(kind: string, data: object, id: string|null) => boolean|void} options.onFrame
   *   returns false to ask for a fresh snapshot (reconnect without a Last-Event-ID)
   * @param {(state: string, info: {attempt: number, detail: string}) => void} [options.onConnection]
   * @param {() => string|null} [options.lastEventId] where to resume when recreating the EventSource
   * @param {{baseMs?: number, maxMs?: number}} [options.backoff] recreate backoff (default 1 s … 30 s)
   * @param {number} [options.offlineAfterMs] "reconnecting" becomes "offline" after this long (default 15 s)
   * @param {string|null} [options.accessToken] viewer token (`?access_token=`), when the proxy asks for one
   * @param {typeof EventSource} [options.EventSource] for tests
   */
  constructor({
    url = "/dashboard-stream", queues = null, onFrame, onConnection = () => {}, lastEventId = null,
    backoff = {}, offlineAfterMs = 15_000, accessToken = null, EventSource: ES = globalThis.EventSource,
  }) {
    Object.assign(this, { url, queues, onFrame, onConnection, backoff, offlineAfterMs, accessToken, ES });
    this._resumeFrom = lastEventId || (() => this._lastId);
    this._lastId = null;
    this._es = null;
    this._attempt = 0;
    this._retryTimer = null;
    this._offlineTimer = null;
    this._downSince = null;
    this._stopped = true;
    this._state = null;
    this._onOnline = () => { if (this._es === null && !this._stopped) this._open(); else this._report(); };
  }

  /** Opens the stream (idempotent). */
  start() {
    if (!this._stopped) return;
    this._stopped = false;
    globalThis.addEventListener?.("online", this._onOnline);
    globalThis.addEventListener?.("offline", this._onOnline);
    this._open();
  }

  /** Closes the stream for good. */
  stop() {
    this._stopped = true;
    globalThis.removeEventListener?.("online", this._onOnline);
    globalThis.removeEventListener?.("offline", this._onOnline);
    clearTimeout(this._retryTimer);
    clearTimeout(this._offlineTimer);
    this._close();
  }

  /** Drops the resume point and reconnects: the proxy answers with a fresh snapshot. */
  resync() {
    this._lastId = null;
    this._forceSnapshot = true;
    this._close();
    this._open();
  }

  _open() {
    if (this._stopped) return;
    const resume = this._forceSnapshot ? null : this._resumeFrom();
    this._forceSnapshot = false;
    const es = new this.ES(streamUrl(this.url, { queues: this.queues, lastEventId: resume, accessToken: this.accessToken }));
    this._es = es;
    const frame = (kind) => (e) => {
      if (es !== this._es) return;
      let data;
      try {
        data = JSON.parse(e.data);
      } catch {
        return; // not ours to render; the next snapshot or delta puts things right
      }
      if (e.lastEventId) this._lastId = e.lastEventId;
      this._up();
      if (this.onFrame(kind, data, e.lastEventId || null) === false) this.resync();
    };
    es.addEventListener("snapshot", frame("snapshot"));
    es.addEventListener("delta", frame("delta"));
    es.addEventListener("status", frame("status"));
    es.onopen = () => { if (es === this._es) this._up(); };
    es.onerror = () => {
      if (es !== this._es) return;
      if (es.readyState === 2 /* CLOSED: the browser gave up (HTTP error, wrong type) */) {
        this._close();
        const delay = backoffDelay(this._attempt, this.backoff);
        this._attempt++;
        const why = tokenExpired(this.accessToken) ? "viewer token expired; open the board with a new one"
          : "stream closed";
        this._down(`${why}; retrying in ${(delay / 1000).toFixed(1)} s`);
        clearTimeout(this._retryTimer);
        this._retryTimer = setTimeout(() => this._open(), delay);
      } else {
        // CONNECTING: the browser retries by itself and resumes with Last-Event-ID.
        this._down("connection lost; the browser is retrying");
      }
    };
  }

  _close() {
    if (this._es) {
      this._es.close();
      this._es = null;
    }
  }

  _up() {
    this._attempt = 0;
    this._downSince = null;
    clearTimeout(this._offlineTimer);
    this._offlineTimer = null;
    this._set("live", "");
  }

  _down(detail) {
    if (this._downSince === null) this._downSince = Date.now();
    this._detail = detail;
    if (this._offlineTimer === null) {
      this._offlineTimer = setTimeout(() => this._report(), this.offlineAfterMs + 10);
    }
    this._report();
  }

  _report() {
    if (this._downSince === null) return;
    const offline = globalThis.navigator?.onLine === false
      || Date.now() - this._downSince >= this.offlineAfterMs;
    this._set(offline ? "offline" : "reconnecting", this._detail || "");
  }

  _set(state, detail) {
    const key = `${state}|${this._attempt}|${detail}`;
    if (key === this._state) return;
    this._state = key;
    this.onConnection(state, { attempt: this._attempt, detail });
  }
}

/**
 * The key under which tabs of the same board share one stream. Tabs holding different viewer tokens
 * (which may see different queues) never share; the key carries a short hash, never the token.
 */
export function boardKey(url, queues, accessToken = null) {
  return `queuecast:${streamUrl(url, { queues })}${accessToken ? `#${hashText(accessToken)}` : ""}`;
}

/** FNV-1a, 32 bits, as 8 hex digits: tells keys apart, reveals nothing usable of the text. */
function hashText(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}

/**
 * A live store for a board, sharing one stream between the tabs of the same board.
 *
 * @param {object} [options]
 * @param {string} [options.url] stream endpoint (default "/dashboard-stream")
 * @param {string[]|null} [options.queues] subset of queues
 * @param {"auto"|"worker"|"channel"|"off"} [options.share] how tabs share the stream: a SharedWorker,
 *   a BroadcastChannel with a Web Lock electing the leader tab, or not at all. "auto" (default)
 *   takes the first one the browser has.
 * @param {string|URL} [options.workerUrl] the SharedWorker module (default: queuecast-worker.js next to this file)
 * @param {object} [options.store] QueueStore options
 * @param {object} [options.client] extra StreamClient options (backoff, offlineAfterMs)
 * @param {string|null} [options.accessToken] viewer token, when the proxy runs with QC_VIEWER_JWT_SECRET
 * @returns {{store: QueueStore, mode: string, close: () => void}}
 */
export function connectBoard({
  url = "/dashboard-stream", queues = null, share = "auto",
  workerUrl = new URL("./queuecast-worker.js", import.meta.url), store: storeOptions = {}, client = {},
  accessToken = null,
} = {}) {
  const store = new QueueStore(storeOptions);
  const key = boardKey(url, queues, accessToken);
  client = { ...client, accessToken };
  let mode = share;
  if (mode === "auto") {
    if (typeof SharedWorker === "function") mode = "worker";
    else if (typeof BroadcastChannel === "function" && globalThis.navigator?.locks) mode = "channel";
    else mode = "off";
  }
  if (mode === "worker") return { store, mode, close: shareByWorker(store, key, workerUrl, { url, queues, client }) };
  if (mode === "channel") return { store, mode, close: shareByChannel(store, key, { url, queues, client }) };
  const stream = feedStore(store, { url, queues, ...client });
  stream.start();
  return { store, mode: "off", close: () => stream.stop() };
}

/** A StreamClient that applies what it receives to `store` (used by tabs, leaders and the worker). */
export function feedStore(store, options) {
  return new StreamClient({
    ...options,
    lastEventId: () => store.lastEventId,
    onFrame: (kind, data, id) => {
      const ok = store.applyFrame(kind, data, id);
      options.onFrame?.(kind, data, id, ok);
      return ok;
    },
    onConnection: (state, info) => {
      store.setConnection(state, info);
      options.onConnection?.(state, info);
    },
  });
}

function shareByWorker(store, key, workerUrl, { url, queues, client }) {
  const worker = new SharedWorker(workerUrl, { type: "module", name: key });
  const port = worker.port;
  port.onmessage = ({ data: msg }) => {
    if (msg.type === "init") store.importState(msg.state);
    else if (msg.type === "frame") store.applyFrame(msg.kind, msg.data, msg.id);
    else if (msg.type === "connection") store.setConnection(msg.state, msg.info);
  };
  port.start();
  const { backoff, offlineAfterMs, accessToken } = client;
  port.postMessage({ type: "hello", url: new URL(url, location.href).href, queues,
    client: { backoff, offlineAfterMs, accessToken } });
  const bye = () => port.postMessage({ type: "bye" });
  addEventListener("pagehide", bye);
  return () => {
    removeEventListener("pagehide", bye);
    bye();
    port.close();
  };
}

/**
 * BroadcastChannel sharing: the tab holding the Web Lock `key` is the leader; it owns the stream
 * and broadcasts each frame. A follower asks for the state when it joins. When the leader tab
 * closes, its lock is released and the next tab takes over, resuming from its own last event id.
 */
function shareByChannel(store, key, { url, queues, client }) {
  const channel = new BroadcastChannel(key);
  let leader = null;
  let closed = false;
  let release = null;
  channel.onmessage = ({ data: msg }) => {
    if (leader) {
      if (msg.type === "hello") channel.postMessage({ type: "init", state: store.exportState() });
      return;
    }
    if (msg.type === "init") store.importState(msg.state);
    else if (msg.type === "frame") store.applyFrame(msg.kind, msg.data, msg.id);
    else if (msg.type === "connection") store.setConnection(msg.state, msg.info);
  };
  channel.postMessage({ type: "hello" });
  navigator.locks.request(key, () => {
    if (closed) return undefined;
    leader = feedStore(store, {
      url, queues, ...client,
      onFrame: (kind, data, id) => channel.postMessage({ type: "frame", kind, data, id }),
      onConnection: (state, info) => channel.postMessage({ type: "connection", state, info }),
    });
    leader.start();
    return new Promise((resolve) => { release = resolve; }); // held until this tab closes
  });
  return () => {
    closed = true;
    leader?.stop();
    release?.();
    channel.close();
  };
}
