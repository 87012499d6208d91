/**
 * board-groups.js — queues in groups, and a group's totals. Pure: no DOM.
 *
 * `groups=prefix` groups by the first word of a queue's name ("Sales Line", "Sales Chat" → Sales);
 * `groups=division` by the view's `division` (its name, from the routing API; a queue whose division
 * is unknown goes to "Other"); `groups=Sales:q1,q2;Support:q3` is an explicit map (queue ids or exact
 * names), in that order, queues in no group going to "Other".
 */

import { ROUTING_STATUSES } from "./queuecast-client.js";

export const OTHER = "Other";

/** `groups=` → `{kind: "prefix"}` | `{kind: "division"}` | `{kind: "map", groups: [[name, [members]]]}` | null. */
export function parseGroups(spec) {
  if (!spec) return null;
  if (typeof spec === "object") return { kind: "map", groups: Object.entries(spec) };
  if (spec === "prefix" || spec === "division") return { kind: spec };
  const groups = [];
  for (const part of spec.split(";")) {
    const i = part.indexOf(":");
    if (i <= 0) continue;
    const members = part.slice(i + 1).split(",").map((m) => m.trim()).filter(Boolean);
    groups.push([part.slice(0, i).trim(), members]);
  }
  return groups.length ? { kind: "map", groups } : null;
}

/** The group of one queue view. */
export function groupOf(spec, view) {
  if (spec.kind === "prefix") return (view.name || view.queueId).trim().split(/[\s\-_:/.]+/)[0] || OTHER;
  if (spec.kind === "division") return view.division || OTHER;
  for (const [name, members] of spec.groups) {
    if (members.includes(view.queueId) || members.includes(view.name)) return name;
  }
  return OTHER;
}

/** Group names in display order: the map's order (then Other), alphabetical for prefixes, and
 *  alphabetical for divisions with Other (division unknown) last. */
export function orderGroups(spec, names) {
  const present = new Set(names);
  if (spec.kind === "prefix") return [...present].sort((a, b) => a.localeCompare(b));
  if (spec.kind === "division") {
    const named = [...present].filter((n) => n !== OTHER).sort((a, b) => a.localeCompare(b));
    return present.has(OTHER) ? [...named, OTHER] : named;
  }
  const out = spec.groups.map(([n]) => n).filter((n) => present.has(n));
  if (present.has(OTHER) && !out.includes(OTHER)) out.push(OTHER);
  return out;
}

const sum = (views, get) => views.reduce((a, v) => a + (get(v) ?? 0), 0);

/**
 * A QueueView-shaped total of `views`: counts are sums, the longest wait is the earliest one, ASA and
 * AHT are weighted by answered and handled (exact: each is a sum over a count), abandon rate is
 * Σ abandoned / Σ offered.
 *
 * Service level is Σ numerators / Σ denominators over the group (each view's
 * `interval.serviceLevelNumerator` and `serviceLevelDenominator`), never an average of percentages:
 * exact whatever the tenant's service-level formula.
 */
export function groupTotals(name, views) {
  let longest = null;
  for (const v of views) {
    if (v.longestWaitingSince && (longest === null || Date.parse(v.longestWaitingSince) < Date.parse(longest))) {
      longest = v.longestWaitingSince;
    }
  }
  const media = {};
  for (const v of views) {
    for (const [m, s] of Object.entries(v.media || {})) {
      media[m] = media[m] || { waiting: 0 };
      media[m].waiting += s.waiting;
    }
  }
  const agents = Object.fromEntries(ROUTING_STATUSES.map((s) => [s, sum(views, (v) => v.agents?.[s])]));
  const ivs = views.map((v) => v.interval).filter(Boolean);
  let interval = null;
  if (ivs.length) {
    const offered = sum(ivs, (i) => i.offered);
    const answered = sum(ivs, (i) => i.answered);
    const abandoned = sum(ivs, (i) => i.abandoned);
    const handled = sum(ivs, (i) => i.handled);
    const answeredMs = sum(ivs, (i) => (i.asaMs == null ? 0 : i.asaMs * i.answered));
    const handledMs = sum(ivs, (i) => (i.ahtMs == null ? 0 : i.ahtMs * i.handled));
    const num = sum(ivs, (i) => i.serviceLevelNumerator);
    const den = sum(ivs, (i) => i.serviceLevelDenominator);
    const targets = new Set(ivs.map((i) => i.serviceLevelTarget).filter((t) => t != null));
    interval = {
      offered, answered, abandoned, handled,
      abandonRate: offered ? abandoned / offered : null,
      asaMs: answered ? answeredMs / answered : null,
      ahtMs: handled ? handledMs / handled : null,
      serviceLevel: den ? num / den : null,
      serviceLevelNumerator: num,
      serviceLevelDenominator: den,
      // one target when the group agrees on it; thresholds fall back to 0.8 otherwise
      serviceLevelTarget: targets.size === 1 ? [...targets][0] : null,
    };
  }
  return {
    queueId: `group:${name}`, name,
    waiting: sum(views, (v) => v.waiting), interacting: sum(views, (v) => v.interacting),
    alerting: sum(views, (v) => v.alerting), longestWaitingSince: longest, longestWaitingAsOf: null,
    media, agents, interval,
  };
}
