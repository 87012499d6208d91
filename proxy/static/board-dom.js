/**
 * board-dom.js — the few DOM helpers of the wallboard, and its counters.
 *
 * Every write goes through `put`/`attr`, which compare first: a write costs layout, a compare does not.
 */

/** Counters for tests and for curious operators (`window.queuecast.stats` in the console). */
export const stats = {
  framesApplied: 0, renderPasses: 0, cellWrites: 0, maxPassMs: 0, layouts: 0,
  passStamps: [], // the rAF timestamp of each pass (the last 5000): one pass per frame means no repeats
};

/** Sets an element's text only when it differs. */
export function put(el, text) {
  if (el.textContent !== text) {
    el.textContent = text;
    stats.cellWrites++;
  }
}

/** Sets an attribute only when it differs; null/undefined write "". */
export function attr(el, name, value) {
  const v = value === null || value === undefined ? "" : String(value);
  if (el.getAttribute(name) !== v) el.setAttribute(name, v);
}

/** `h("td", {class: "num"}, child, ...)`. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") el.className = v;
    else el.setAttribute(k, v);
  }
  el.append(...children);
  return el;
}

export const SVG_NS = "http://www.w3.org/2000/svg";
