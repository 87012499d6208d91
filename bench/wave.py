"""A wave of observation callbacks: Q queues × two media at R events/s for S seconds, in batches.

Every body is built and signed when the :class:`Wave` is made, before anyone starts a clock, so the
harness's JSON encoding and HMAC are not what a wave measures. The messages are real-shaped
(:mod:`bench.messages`): mostly instant messages with ``oWaiting`` and some of ``oInteracting`` and
``oAlerting``, an interval message every tenth and an agent message every tenth. Platform instants
are 1 ms apart, strictly increasing and in the past, so a correct proxy applies every one (none is
stale).

The wave folds what the proxy acknowledged into an :class:`ExpectedBoard` and derives from it what
a board must show at the end (DESIGN 3.5: a queue's waiting, interacting and alerting are the sums
over its media), without importing the proxy. Used by the bench's wallboard figure and by the
browser tests.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import trio

from bench.callback import CALLBACK_PATH, signed_body
from bench.clients import Poster
from bench.expected import ExpectedBoard
from bench.messages import STATUSES, Agents, Figures, Instant, Interval, Message
from bench.timefmt import interval_start_ms

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
class _Body:
    raw: bytes
    headers: dict[str, str]
    sent: tuple[Message, ...]


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
        self._acked = ExpectedBoard()
        self._prime = self._bodies(len(self.queue_ids) * len(MEDIA))
        self._wave = self._bodies(wave_events)

    def _message(self) -> Message:
        n, self._n = self._n, self._n + 1
        self._next_ms += 1
        at = self._next_ms
        queue_id = self.queue_ids[n % len(self.queue_ids)]
        media = MEDIA[(n // len(self.queue_ids)) % len(MEDIA)]
        if n < len(self.queue_ids) * len(MEDIA):  # priming: every (queue, media) once, every metric
            return Instant(queue_id, media, at, waiting=(n * 7) % 23, interacting=n % 17, alerting=n % 3)
        kind = (n + n // len(self.queue_ids)) % 10  # so that every queue gets every kind
        if kind == 3:
            return Agents(queue_id, at, ((STATUSES[n % 5], n % 9), (STATUSES[(n + 2) % 5], n % 11)))
        if kind == 7:
            k = n // 10 + 1  # grows with n: the figures of an interval only grow
            return Interval(queue_id, media, at, interval_start_ms(at),
                            Figures(offered=2 * k, answered=k, answered_sum_ms=k * 20_000, abandoned=k // 3,
                                    handled=k // 2, handled_sum_ms=(k // 2) * 240_000, sl_numerator=k // 2,
                                    sl_denominator=k + k // 3))
        return Instant(queue_id, media, at, waiting=(n * 7) % 23,
                       interacting=n % 17 if n % 2 else None, alerting=n % 3 if n % 3 == 0 else None)

    def _bodies(self, count: int) -> list[_Body]:
        out = []
        for start in range(0, count, self.shape.batch):
            messages = tuple(self._message() for _ in range(min(self.shape.batch, count - start)))
            raw, headers = signed_body([m.envelope() for m in messages], self._secret)
            out.append(_Body(raw, headers, messages))
        return out

    def _ack(self, body: _Body) -> None:
        self._acked.add_all(body.sent)

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
        """Per queue, the (waiting, interacting, alerting) a board must end on: per media and metric the
        newest acknowledged value, summed over the media."""
        return {queue_id: self._acked.counts(queue_id) for queue_id in self._acked.queue_ids()}
