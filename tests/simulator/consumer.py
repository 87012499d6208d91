"""A test-side consumer of the simulator's emitted observations (written apart from the simulator).

It applies DESIGN 3.6's reducer rules (last writer wins per (queue, media) on observation time;
absent = unchanged; routing statuses from the newest observation carrying them) and builds the
QueueView of DESIGN 3.5, so tests can compare it with ``/sim/truth``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def _ms(text: str) -> int:
    return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _iso(ms: int) -> str:
    dt = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


STATUSES = ("IDLE", "INTERACTING", "COMMUNICATING", "NOT_RESPONDING", "OFF_QUEUE")


class Consumer:
    def __init__(self) -> None:
        self.media: dict[tuple[str, str], dict[str, Any]] = {}
        self.agents: dict[str, tuple[int, dict[str, int]]] = {}
        self.updated: dict[str, int] = {}
        self.names: dict[str, str] = {}
        self.stale = 0

    def _apply_media(self, qid: str, media: str, t: int, values: dict[str, Any]) -> bool:
        old = self.media.get((qid, media))
        if old is not None and old["t"] >= t:
            self.stale += 1
            return False
        self.media[(qid, media)] = {"t": t, **(old or {}), **values}
        self.updated[qid] = max(self.updated.get(qid, t), t)
        return True

    def _apply_agents(self, qid: str, t: int, counts: dict[str, int]) -> None:
        if qid not in self.agents or self.agents[qid][0] < t:
            self.agents[qid] = (t, {s: counts.get(s, 0) for s in STATUSES})
            self.updated[qid] = max(self.updated.get(qid, t), t)

    def queue_state(self, qs: dict[str, Any]) -> None:
        """Apply one Event Bus ``payload.queueState``."""
        qid, t = qs["queueId"], _ms(qs["observedAt"])
        iv = qs["interval"]
        values = {
            "waiting": qs["oWaiting"],
            "interacting": qs["oInteracting"],
            "alerting": qs["oAlerting"],
            "longest": qs["oLongestWaiting"],
            "iv_start": iv["start"],
            "iv_end": iv["end"],
            "offered": iv["nOffered"],
            "answered": iv["tAnswered"]["count"],
            "answered_sum": iv["tAnswered"]["sum"],
            "abandoned": iv["tAbandon"]["count"],
            "num": iv["oServiceLevel"]["numerator"],
            "den": iv["oServiceLevel"]["denominator"],
            "target": iv["oServiceLevel"]["target"],
        }
        self.names[qid] = qs["queueName"]
        if self._apply_media(qid, qs["mediaType"], t, values):
            self._apply_agents(qid, t, qs["oUserRoutingStatuses"])

    def observation_body(self, body: dict[str, Any]) -> None:
        """Apply one Notifications ``eventBody`` of ``v2.analytics.queues.{id}.observations``."""
        group = body["group"]
        qid = group["queueId"]
        values: dict[str, Any] = {}
        t = 0
        for entry in body["data"]:
            start, end = entry["interval"].split("/")
            metrics = {m["metric"] if "qualifier" not in m else m["qualifier"]: m["stats"] for m in entry["metrics"]}
            if start == end:
                t = _ms(start)
                if "mediaType" not in group:
                    self._apply_agents(qid, t, {s: int(v["count"]) for s, v in metrics.items()})
                    return
                values.update(
                    waiting=metrics["oWaiting"]["count"],
                    interacting=metrics["oInteracting"]["count"],
                    alerting=metrics["oAlerting"]["count"],
                )
                cmv = metrics["oLongestWaiting"].get("calculatedMetricValue")
                values["longest"] = None if cmv is None else _iso(int(cmv))
            else:
                sl = metrics["oServiceLevel"]
                values.update(
                    iv_start=start,
                    iv_end=end,
                    offered=metrics["nOffered"]["count"],
                    answered=metrics["tAnswered"]["count"],
                    answered_sum=metrics["tAnswered"]["sum"],
                    abandoned=metrics["tAbandon"]["count"],
                    num=sl["numerator"],
                    den=sl["denominator"],
                    target=sl["target"],
                )
        self._apply_media(qid, group["mediaType"], t, values)

    def views(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for qid in self.updated:
            media = {m: v for (q, m), v in self.media.items() if q == qid}
            newest = max(v["iv_start"] for v in media.values())
            cur = [v for v in media.values() if v["iv_start"] == newest]
            longest = [v["longest"] for v in media.values() if v["longest"] is not None]

            def ratio(a: int, b: int) -> float | None:
                return a / b if b else None

            offered = sum(v["offered"] for v in cur)
            answered = sum(v["answered"] for v in cur)
            abandoned = sum(v["abandoned"] for v in cur)
            out[qid] = {
                "queueId": qid,
                "waiting": sum(v["waiting"] for v in media.values()),
                "interacting": sum(v["interacting"] for v in media.values()),
                "alerting": sum(v["alerting"] for v in media.values()),
                "longestWaitingSince": min(longest, key=_ms) if longest else None,
                "media": {
                    m: {
                        "waiting": v["waiting"],
                        "interacting": v["interacting"],
                        "alerting": v["alerting"],
                        "longestWaitingSince": v["longest"],
                    }
                    for m, v in media.items()
                },
                "agents": self.agents.get(qid, (0, dict.fromkeys(STATUSES, 0)))[1],
                "interval": {
                    "start": newest,
                    "end": cur[0]["iv_end"],
                    "offered": offered,
                    "answered": answered,
                    "abandoned": abandoned,
                    "abandonRate": ratio(abandoned, offered),
                    "asaMs": ratio(sum(v["answered_sum"] for v in cur), answered),
                    "serviceLevel": ratio(sum(v["num"] for v in cur), sum(v["den"] for v in cur)),
                    "serviceLevelTarget": cur[0]["target"],
                },
                "updatedAt": _iso(self.updated[qid]),
            }
        return out


def without_names(views: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {q: {k: v for k, v in view.items() if k != "name"} for q, view in views.items()}
