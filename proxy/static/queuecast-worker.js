/**
 * queuecast-worker.js — a SharedWorker that holds one stream for every tab of the same board.
 *
 * Started by `connectBoard()` (queuecast-client.js) with the board key as the worker's name, so
 * each distinct board (stream URL + `?queues=`) gets its own worker and stream. Protocol on each
 * tab's MessagePort:
 *   tab → worker  {type: "hello", url, queues, client}   join (the first hello opens the stream)
 *                 {type: "bye"}                          the tab is going away
 *   worker → tab  {type: "init", state}                  the whole store (QueueStore.exportState)
 *                 {type: "frame", kind, data, id}        each frame, in order, after init
 *                 {type: "connection", state, info}      connection state changes
 * Parsing JSON happens here, off the tabs' main threads, and so does coalescing: deltas that
 * arrive within `COALESCE_MS` of each other reach the tabs as one delta (views are whole, so the
 * newest view of a queue wins), which caps the messages a tab handles under a flood of frames.
 */

import { QueueStore, feedStore } from "./queuecast-client.js";

const COALESCE_MS = 50;
const ports = new Set();
const store = new QueueStore();
let stream = null;
let pending = [];
let timer = null;

function flush() {
  clearTimeout(timer);
  timer = null;
  const out = pending;
  pending = [];
  for (const msg of out) for (const port of ports) port.postMessage(msg);
}

function broadcast(msg) {
  const last = pending[pending.length - 1];
  if (msg.type === "frame" && msg.kind === "delta" && last?.type === "frame" && last.kind === "delta"
      && last.data.epoch === msg.data.epoch) {
    mergeDelta(last, msg);
  } else {
    pending.push(msg.type === "frame" && msg.kind === "delta" ? copyDelta(msg) : msg);
  }
  if (timer === null) timer = setTimeout(flush, COALESCE_MS);
}

function copyDelta(msg) {
  return { ...msg, data: { ...msg.data, queues: { ...msg.data.queues }, removed: [...(msg.data.removed || [])] } };
}

/** Folds delta `b` into the pending delta `a` (b is newer). */
function mergeDelta(a, b) {
  const removed = new Set(a.data.removed);
  for (const [q, view] of Object.entries(b.data.queues || {})) {
    a.data.queues[q] = view;
    removed.delete(q);
  }
  for (const q of b.data.removed || []) {
    delete a.data.queues[q];
    removed.add(q);
  }
  Object.assign(a.data, { seq: b.data.seq, asOf: b.data.asOf, removed: [...removed] });
  a.id = b.id;
}

function join(port, { url, queues, client = {} }) {
  if (stream === null) {
    stream = feedStore(store, {
      url, queues, ...Object.fromEntries(Object.entries(client).filter(([, v]) => v !== undefined)),
      onFrame: (kind, data, id) => broadcast({ type: "frame", kind, data, id }),
      onConnection: (state, info) => broadcast({ type: "connection", state, info }),
    });
    stream.start();
  }
  flush(); // the tabs already joined get what is pending; the new one starts from the store
  ports.add(port);
  port.postMessage({ type: "init", state: store.exportState() });
}

self.onconnect = (event) => {
  const port = event.ports[0];
  port.onmessage = ({ data: msg }) => {
    if (msg.type === "hello") join(port, msg);
    else if (msg.type === "bye") ports.delete(port);
  };
  port.start();
};
