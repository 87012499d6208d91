"""A test-side consumer of the simulator's emitted observations (written apart from the simulator).

It applies DESIGN 3.3/3.6's reducer rules — last writer wins per (queue, media, metric) on the
platform instant; absent = unchanged; a newer interval replaces an older one, an older never
overwrites a newer, within one interval counts never go down, and a metric absent from a real
interval message is 0; agent counts per qualifier from the newest message carrying them; the
interval rolls over by the clock — and builds the QueueView of DESIGN 3.5, so tests can compare it
with ``/sim/truth``.

Legacy bodies list routing statuses as a whole set with zero counts omitted (absent = 0); real
bodies update the qualifiers they list (``real=True``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

INTERVAL_MS = 30 * 60 * 1000
STATUSES = ("IDLE", "INTERACTING", "COMMUNICATING", "NOT_RESPONDING", "OFF_QUEUE")
_AGENT_METRICS = ("oUserRoutingStatuses", "oOnQueueUsers", "oOffQueueUsers")


def _ms(text: str) -> int:
    return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _iso(ms: int) -> str:
    dt = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def _zero_interval(start: int) -> dict[str, Any]:
    return {
        "start": start,
        "offered": 0,
        "answered": 0,
        "answered_sum": 0,
        "abandoned": 0,
        "handled": 0,
        "handled_sum": 0,
        "num": 0,
        "den": 0,
    }


class Consumer:
    def __init__(self, *, real: bool = False) -> None:
        self.real = real
        self.instant: dict[tuple[str, str], dict[str, tuple[int, Any]]] = {}
        """(queue, media) → metric → (instant ms, value)."""
        self.interval: dict[tuple[str, str], dict[str, Any]] = {}
        self.targets: dict[str, float] = {}
        self.agents: dict[str, dict[str, tuple[int, int]]] = {}
        """queue → status → (instant ms, count)."""
        self.updated: dict[str, int] = {}
        self.names: dict[str, str] = {}
        self.stale = 0

    # ------------------------------------------------------------------ applying
    def _instant(self, qid: str, media: str, t: int, values: dict[str, Any]) -> None:
        book = self.instant.setdefault((qid, media), {})
        for metric, value in values.items():
            if metric in book and book[metric][0] > t:
                self.stale += 1
                continue
            book[metric] = (t, value)
        self.updated[qid] = max(self.updated.get(qid, t), t)

    def _interval(self, qid: str, media: str, figures: dict[str, Any], target: float | None) -> None:
        if target is not None:
            self.targets[qid] = target
        old = self.interval.get((qid, media))
        if old is not None:
            if figures["start"] < old["start"]:
                self.stale += 1
                return
            counts = ("offered", "answered", "abandoned", "handled", "den")

            def size(f: dict[str, Any]) -> int:
                return sum(f[k] or 0 for k in counts)

            if figures["start"] == old["start"] and size(figures) < size(old):
                self.stale += 1
                return
        self.interval[(qid, media)] = figures

    def _agents(self, qid: str, t: int, counts: dict[str, int], *, whole: bool) -> None:
        book = self.agents.setdefault(qid, {})
        for status in STATUSES:
            if status not in counts and not whole:
                continue
            if status in book and book[status][0] > t:
                continue
            book[status] = (t, counts.get(status, 0))
        self.updated[qid] = max(self.updated.get(qid, t), t)

    def longest(self, qid: str, media: str, since: str | None) -> None:
        """Longest waiting of one (queue, media) from the observations query (real shape)."""
        book = self.instant.setdefault((qid, media), {})
        book["longest"] = (book.get("longest", (0, None))[0], since)

    def aggregates(self, response: dict[str, Any]) -> None:
        """Apply an aggregates-query answer (``groupBy`` queueId and mediaType) as interval figures."""
        for result in response["results"]:
            group = result["group"]
            for data in result["data"]:
                self.observation_body({"group": group, "data": [data]})

    def queue_state(self, qs: dict[str, Any]) -> None:
        """Apply one Event Bus ``payload.queueState`` (whole state of one (queue, media))."""
        qid, media, t = qs["queueId"], qs["mediaType"], _ms(qs["observedAt"])
        self.names[qid] = qs["queueName"]
        old = self.instant.get((qid, media), {}).get("waiting")
        if old is not None and old[0] >= t:
            self.stale += 1
            return
        self._instant(
            qid,
            media,
            t,
            {
                "waiting": qs["oWaiting"],
                "interacting": qs["oInteracting"],
                "alerting": qs["oAlerting"],
                "longest": qs["oLongestWaiting"],
            },
        )
        iv = qs["interval"]
        self._interval(
            qid,
            media,
            {
                "start": _ms(iv["start"]),
                "offered": iv["nOffered"],
                "answered": iv["tAnswered"]["count"],
                "answered_sum": iv["tAnswered"]["sum"],
                "abandoned": iv["tAbandon"]["count"],
                "handled": iv["tHandle"]["count"],
                "handled_sum": iv["tHandle"]["sum"],
                "num": iv["oServiceLevel"]["numerator"],
                "den": iv["oServiceLevel"]["denominator"],
            },
            iv["oServiceLevel"]["target"],
        )
        self._agents(qid, t, qs["oUserRoutingStatuses"], whole=True)

    def observation_body(self, body: dict[str, Any]) -> None:
        """Apply one ``eventBody`` of ``v2.analytics.queues.{id}.observations`` (either shape)."""
        group = body["group"]
        qid = group["queueId"]
        for entry in body["data"]:
            start, end = entry["interval"].split("/")
            metrics = entry["metrics"]
            if start == end:
                t = _ms(start)
                agents = {m["qualifier"]: int(m["stats"]["count"]) for m in metrics if m["metric"] in _AGENT_METRICS}
                if "mediaType" not in group:
                    self._agents(qid, t, agents, whole=not self.real)
                    continue
                names = {"oWaiting": "waiting", "oInteracting": "interacting", "oAlerting": "alerting"}
                values = {names[m["metric"]]: m["stats"]["count"] for m in metrics if m["metric"] in names}
                for m in metrics:
                    if m["metric"] == "oLongestWaiting":
                        cmv = m["stats"].get("calculatedMetricValue")
                        values["longest"] = None if cmv is None else _iso(int(cmv))
                self._instant(qid, group["mediaType"], t, values)
            else:
                stats = {m["metric"]: m["stats"] for m in metrics}
                zero = {"count": 0, "sum": 0}
                sl = stats.get("oServiceLevel", {"numerator": 0, "denominator": 0})
                handle = stats.get("tHandle")
                self._interval(
                    qid,
                    group["mediaType"],
                    {
                        "start": _ms(start),
                        "offered": stats.get("nOffered", zero)["count"],
                        "answered": stats.get("tAnswered", zero)["count"],
                        "answered_sum": stats.get("tAnswered", zero)["sum"],
                        "abandoned": stats.get("tAbandon", zero)["count"],
                        # the legacy body has no tHandle: unknown, not 0
                        "handled": handle["count"] if handle else (0 if self.real else None),
                        "handled_sum": handle["sum"] if handle else (0 if self.real else None),
                        "num": sl["numerator"],
                        "den": sl["denominator"],
                    },
                    sl.get("target"),
                )

    # ------------------------------------------------------------------ the view
    def views(self, now_ms: int | None = None) -> dict[str, dict[str, Any]]:
        """QueueViews; ``now_ms`` rolls intervals that ended by then over to empty ones (the clock)."""
        out: dict[str, dict[str, Any]] = {}
        for qid in self.updated:
            media_ids = sorted({m for (q, m) in self.instant if q == qid} | {m for (q, m) in self.interval if q == qid})
            media: dict[str, dict[str, Any]] = {}
            for m in media_ids:
                book = self.instant.get((qid, m), {})
                media[m] = {
                    "waiting": book.get("waiting", (0, 0))[1],
                    "interacting": book.get("interacting", (0, 0))[1],
                    "alerting": book.get("alerting", (0, 0))[1],
                    "longestWaitingSince": book.get("longest", (0, None))[1],
                }
            ivs = []
            for m in media_ids:
                iv = self.interval.get((qid, m))
                if iv is not None and now_ms is not None and iv["start"] + INTERVAL_MS <= now_ms:
                    iv = _zero_interval(now_ms - now_ms % INTERVAL_MS)
                if iv is not None:
                    ivs.append(iv)
            if not ivs:  # nothing counted yet in any interval this consumer has seen
                if now_ms is None:
                    continue
                ivs = [_zero_interval(now_ms - now_ms % INTERVAL_MS)]
            newest = max(iv["start"] for iv in ivs)
            cur = [iv for iv in ivs if iv["start"] == newest]

            def ratio(a: int | None, b: int | None) -> float | None:
                return a / b if a is not None and b else None

            def total(key: str, cur: list[dict[str, Any]] = cur) -> Any:
                values = [iv[key] for iv in cur]
                return None if None in values else sum(values)

            longest = [v["longestWaitingSince"] for v in media.values() if v["longestWaitingSince"] is not None]
            agents = self.agents.get(qid, {})
            out[qid] = {
                "queueId": qid,
                "waiting": sum(v["waiting"] for v in media.values()),
                "interacting": sum(v["interacting"] for v in media.values()),
                "alerting": sum(v["alerting"] for v in media.values()),
                "longestWaitingSince": min(longest, key=_ms) if longest else None,
                "media": media,
                "agents": {s: agents.get(s, (0, 0))[1] for s in STATUSES},
                "interval": {
                    "start": _iso(newest),
                    "end": _iso(newest + INTERVAL_MS),
                    "offered": total("offered"),
                    "answered": total("answered"),
                    "abandoned": total("abandoned"),
                    "abandonRate": ratio(total("abandoned"), total("offered")),
                    "asaMs": ratio(total("answered_sum"), total("answered")),
                    "handled": total("handled"),
                    "ahtMs": ratio(total("handled_sum"), total("handled")),
                    "serviceLevel": ratio(total("num"), total("den")),
                    "serviceLevelNumerator": total("num"),
                    "serviceLevelDenominator": total("den"),
                    "serviceLevelTarget": self.targets.get(qid),
                },
                "updatedAt": _iso(self.updated[qid]),
            }
        return out


#: What the routing API says of a queue and no message carries: the consumer cannot know them.
ROUTING_API = ("name", "division")


def without_names(views: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return without(views, *ROUTING_API)


def without(views: dict[str, dict[str, Any]], *keys: str) -> dict[str, dict[str, Any]]:
    """Views without the top-level ``keys``; ``interval.<k>`` drops a key of the interval."""
    out = {}
    for q, view in views.items():
        v = {k: val for k, val in view.items() if k not in keys}
        drop = {k.split(".", 1)[1] for k in keys if k.startswith("interval.")}
        if drop and "interval" in v:
            v["interval"] = {k: val for k, val in v["interval"].items() if k not in drop}
        out[q] = v
    return out
