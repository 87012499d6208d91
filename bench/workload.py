"""What the bench sends, and what it therefore expects every client to end up showing.

Each generated observation carries every field of one (queue, ``voice``), with ``observedAt`` set
to the wall clock at generation (strictly increasing per queue), so:

- a client can compute the delivery latency of any view as ``arrival - updatedAt``;
- the expected final view of a queue is derived here, from the newest acknowledged observation,
  by the rules of DESIGN 3.5, independently of the proxy's code (never imported).
"""

from __future__ import annotations

import hashlib
import hmac
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

TOPIC = "com.genesyscloud.telephony.queue.update"
CALLBACK_PATH = "/api/v1/event-stream/callback"
STATUSES = ("IDLE", "INTERACTING", "COMMUNICATING", "NOT_RESPONDING", "OFF_QUEUE")
INTERVAL_MS = 30 * 60 * 1000
_encode = msgspec.json.Encoder().encode
_iso_cache: dict[int, str] = {}


def iso_ms(t_ms: int) -> str:
    """``2026-11-27T21:00:00.123Z`` for epoch milliseconds (the proxy's wire format)."""
    sec, ms = divmod(t_ms, 1000)
    prefix = _iso_cache.get(sec)
    if prefix is None:
        if len(_iso_cache) > 4096:
            _iso_cache.clear()
        prefix = _iso_cache[sec] = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
    return f"{prefix}{ms:03d}Z"


_parse_cache: dict[str, float] = {}


def parse_iso_s(text: str) -> float:
    """Epoch seconds of an RFC 3339 time (memoised: every client sees the same few strings)."""
    value = _parse_cache.get(text)
    if value is None:
        if len(_parse_cache) > 100_000:
            _parse_cache.clear()
        value = _parse_cache[text] = datetime.fromisoformat(text).timestamp()
    return value


@dataclass(slots=True)
class Observation:
    """One (queue, voice) observation the bench sent."""

    queue_id: str
    observed_ms: int
    waiting: int
    interacting: int
    alerting: int
    longest_ms: int | None
    agents: tuple[int, ...]
    interval_start_ms: int
    offered: int
    answered: int
    answered_sum_ms: int
    abandoned: int
    sl_num: int
    sl_den: int
    sl_target: float

    def envelope(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "queueId": self.queue_id,
            "queueName": f"Bench {self.queue_id}",
            "mediaType": "voice",
            "observedAt": iso_ms(self.observed_ms),
            "oWaiting": self.waiting,
            "oInteracting": self.interacting,
            "oAlerting": self.alerting,
            "oLongestWaiting": None if self.longest_ms is None else iso_ms(self.longest_ms),
            "oUserRoutingStatuses": dict(zip(STATUSES, self.agents, strict=True)),
            "interval": {
                "start": iso_ms(self.interval_start_ms),
                "end": iso_ms(self.interval_start_ms + INTERVAL_MS),
                "nOffered": self.offered,
                "tAnswered": {"count": self.answered, "sum": self.answered_sum_ms},
                "tAbandon": {"count": self.abandoned, "sum": self.abandoned * 30_000},
                "oServiceLevel": {"numerator": self.sl_num, "denominator": self.sl_den, "target": self.sl_target},
            },
        }
        return {"eventId": str(uuid.uuid4()), "subscriptionId": "sub-bench", "topic": TOPIC,
                "timestamp": iso_ms(self.observed_ms), "payload": {"queueState": state}}

    def expected_view(self) -> dict[str, Any]:
        """The QueueView (DESIGN 3.5) a correct proxy shows after this observation is the newest."""
        longest = None if self.longest_ms is None else iso_ms(self.longest_ms)

        def ratio(num: int, den: int) -> float | None:
            return None if den == 0 else num / den

        return {
            "queueId": self.queue_id, "name": f"Bench {self.queue_id}",
            "waiting": self.waiting, "interacting": self.interacting, "alerting": self.alerting,
            "longestWaitingSince": longest,
            "media": {"voice": {"waiting": self.waiting, "interacting": self.interacting, "alerting": self.alerting,
                                "longestWaitingSince": longest}},
            "agents": dict(zip(STATUSES, self.agents, strict=True)),
            "interval": {
                "start": iso_ms(self.interval_start_ms), "end": iso_ms(self.interval_start_ms + INTERVAL_MS),
                "offered": self.offered, "answered": self.answered, "abandoned": self.abandoned,
                "abandonRate": ratio(self.abandoned, self.offered), "asaMs": ratio(self.answered_sum_ms, self.answered),
                "serviceLevel": ratio(self.sl_num, self.sl_den), "serviceLevelTarget": self.sl_target,
            },
            "updatedAt": iso_ms(self.observed_ms),
        }


class Workload:
    """Generates observations over ``queues`` queues; remembers the newest *acknowledged* one per queue."""

    def __init__(self, queues: int, *, seed: int = 7, prefix: str = "bq") -> None:
        self.queue_ids = [f"{prefix}-{i:05d}" for i in range(queues)]
        self._rng = random.Random(seed)
        self._last_ms: dict[str, int] = {}
        self._counts: dict[str, int] = {}
        self.acked: dict[str, Observation] = {}
        self.sent_at: dict[str, list[int]] = {q: [] for q in self.queue_ids}

    def next(self, queue_id: str | None = None, *, waiting: int | None = None) -> Observation:
        rng = self._rng
        q = queue_id or self.queue_ids[rng.randrange(len(self.queue_ids))]
        now = int(time.time() * 1000)
        t = max(now, self._last_ms.get(q, 0) + 1)  # strictly newer, or the proxy drops it as stale
        self._last_ms[q] = t
        n = self._counts[q] = self._counts.get(q, 0) + 1
        offered = n
        answered = n * 3 // 4
        abandoned = n // 10
        w = rng.randrange(0, 30) if waiting is None else waiting
        obs = Observation(
            queue_id=q, observed_ms=t, waiting=w, interacting=rng.randrange(0, 50), alerting=rng.randrange(0, 3),
            longest_ms=(t - rng.randrange(1000, 600_000)) if w else None,
            agents=tuple(rng.randrange(0, 20) for _ in STATUSES), interval_start_ms=t - t % INTERVAL_MS,
            offered=offered, answered=answered, answered_sum_ms=answered * rng.randrange(5_000, 60_000),
            abandoned=abandoned, sl_num=answered * 4 // 5, sl_den=answered, sl_target=0.8)
        self.sent_at[q].append(t)
        return obs

    def ack(self, observations: list[Observation]) -> None:
        """Record that these were accepted (200): the newest per queue is what clients must show."""
        for obs in observations:
            prev = self.acked.get(obs.queue_id)
            if prev is None or obs.observed_ms > prev.observed_ms:
                self.acked[obs.queue_id] = obs


def sign(body: bytes, secret: str) -> str:
    """``X-Hub-Signature-256`` value (computed here: the bench imports nothing from the proxy)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signed_body(envelopes: list[dict[str, Any]] | dict[str, Any], secret: str) -> tuple[bytes, dict[str, str]]:
    """The raw JSON body and the callback headers (HMAC-SHA256 over exactly these bytes)."""
    body = _encode(envelopes)
    return body, {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, secret)}
