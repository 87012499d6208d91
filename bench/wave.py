"""A wave of queue-update callbacks: Q queues × two media at R events/s for S seconds, in batches.

Every body is built and signed when the :class:`Wave` is made, before anyone starts a clock, so the
harness's JSON encoding and HMAC are not what a wave measures. Observations are stamped 1 ms apart,
strictly increasing and in the past, so a correct proxy applies every one (none is stale).

The wave remembers what the proxy acknowledged and derives from it what a board must show at the
end (DESIGN 3.5: a queue's waiting, interacting and alerting are the sums over its media), without
importing the proxy. Used by the bench's wallboard figure and by the browser tests.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import trio

from bench.clients import Poster
from bench.workload import CALLBACK_PATH, TOPIC, iso_ms, signed_body

MEDIA = ("voice", "chat")


class WaveError(RuntimeError):
    """A priming callback was refused (the wave's own callbacks are counted, not raised)."""


@dataclass(frozen=True, slots=True)
class WaveShape:
    queues: int = 40
    events_per_s: float = 1500.0
    """Offered rate; bodies of ``batch`` envelopes go out every ``batch / events_per_s`` seconds."""
    duration_s: float = 4.0
    batch: int = 50
    lanes: int = 4
    """Keep-alive connections posting in parallel; each posts its share of bodies in sequence."""


@dataclass(frozen=True, slots=True)
class _Sent:
    """What one envelope set for (queue, media): enough to derive the final board."""

    queue_id: str
    media: str
    observed_ms: int
    counts: tuple[int, int, int]  # waiting, interacting, alerting


@dataclass(frozen=True, slots=True)
class _Body:
    raw: bytes
    headers: dict[str, str]
    sent: tuple[_Sent, ...]


@dataclass(frozen=True, slots=True)
class WaveResult:
    events: int
    """Envelopes in the wave (priming excluded)."""
    acked_events: int
    failed_callbacks: int
    seconds: float
    """First post started → last answer read (harness clock)."""

    @property
    def acked_per_s(self) -> float:
        return self.acked_events / max(1e-9, self.seconds)


class Wave:
    """The prepared bodies of one wave, and what the proxy acknowledged of them."""

    def __init__(self, shape: WaveShape, *, secret: str, prefix: str = "q-wave") -> None:
        self.shape = shape
        self.queue_ids = [f"{prefix}-{i:02d}" for i in range(shape.queues)]
        self._secret = secret
        self._n = 0
        wave_events = int(shape.events_per_s * shape.duration_s)
        self._next_ms = int(time.time() * 1000) - wave_events - len(self.queue_ids) * len(MEDIA) - 1
        self._acked: dict[tuple[str, str], _Sent] = {}
        self._prime = self._bodies(len(self.queue_ids) * len(MEDIA))
        self._wave = self._bodies(wave_events)

    def _envelope(self) -> tuple[dict[str, Any], _Sent]:
        n, self._n = self._n, self._n + 1
        self._next_ms += 1
        queue_id = self.queue_ids[n % len(self.queue_ids)]
        media = MEDIA[(n // len(self.queue_ids)) % len(MEDIA)]
        waiting, interacting, alerting = (n * 7) % 23, n % 17, n % 3
        state = {
            "queueId": queue_id, "queueName": f"Wave {queue_id[-2:]}", "mediaType": media,
            "observedAt": iso_ms(self._next_ms), "oWaiting": waiting, "oInteracting": interacting,
            "oAlerting": alerting, "oLongestWaiting": iso_ms(self._next_ms - 60_000) if waiting else None,
            "oUserRoutingStatuses": {"IDLE": n % 9, "INTERACTING": n % 11},
        }
        envelope = {"eventId": str(uuid.uuid4()), "subscriptionId": "sub-wave", "topic": TOPIC,
                    "timestamp": iso_ms(self._next_ms), "payload": {"queueState": state}}
        return envelope, _Sent(queue_id, media, self._next_ms, (waiting, interacting, alerting))

    def _bodies(self, count: int) -> list[_Body]:
        out = []
        for start in range(0, count, self.shape.batch):
            pairs = [self._envelope() for _ in range(min(self.shape.batch, count - start))]
            raw, headers = signed_body([e for e, _ in pairs], self._secret)
            out.append(_Body(raw, headers, tuple(s for _, s in pairs)))
        return out

    def _ack(self, body: _Body) -> None:
        for sent in body.sent:
            key = (sent.queue_id, sent.media)
            prev = self._acked.get(key)
            if prev is None or sent.observed_ms > prev.observed_ms:
                self._acked[key] = sent

    async def prime(self, url: str) -> None:
        """One event for every (queue, media), in sequence, so a board holds every row before the wave.
        Raises :class:`WaveError` if the proxy refuses one."""
        poster = Poster(url, CALLBACK_PATH)
        try:
            for body in self._prime:
                status, _ = await poster.post(body.raw, body.headers)
                if status != 200:
                    raise WaveError(f"priming callback to {url} answered {status or 'no response'}")
                self._ack(body)
        finally:
            await poster.aclose()

    async def run(self, url: str) -> WaveResult:
        """Post the wave to ``url``'s callback, paced per body; a lane that falls behind does not catch up
        by bursting (it posts as soon as it can), so the achieved rate says so."""
        every_s = self.shape.batch / self.shape.events_per_s
        lanes = max(1, self.shape.lanes)
        acked = failed = 0
        start = trio.current_time()
        t0 = time.perf_counter()

        async def lane(first: int) -> None:
            nonlocal acked, failed
            poster = Poster(url, CALLBACK_PATH)
            try:
                for k in range(first, len(self._wave), lanes):
                    await trio.sleep_until(start + k * every_s)
                    body = self._wave[k]
                    status, _ = await poster.post(body.raw, body.headers)
                    if status == 200:
                        self._ack(body)
                        acked += len(body.sent)
                    else:
                        failed += 1
            finally:
                await poster.aclose()

        async with trio.open_nursery() as nursery:
            for first in range(lanes):
                nursery.start_soon(lane, first)
        return WaveResult(events=sum(len(b.sent) for b in self._wave), acked_events=acked, failed_callbacks=failed,
                          seconds=time.perf_counter() - t0)

    def expected(self) -> dict[str, tuple[int, int, int]]:
        """Per queue, the (waiting, interacting, alerting) a board must end on: sums over the media of
        the newest acknowledged observation of each."""
        out: dict[str, tuple[int, int, int]] = {}
        for (queue_id, _), sent in self._acked.items():
            w, i, a = out.get(queue_id, (0, 0, 0))
            out[queue_id] = (w + sent.counts[0], i + sent.counts[1], a + sent.counts[2])
        return out
