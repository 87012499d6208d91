"""A paced wave of signed queue-update callbacks, posted from the servers' trio thread.

The simulator emits at most one observation per (queue, media) per world step, and sharing the
proxy's core it tops out under 1,000 events/s here; this generator pre-builds and signs every body
before the clock starts, so the proxy, not the generator, is what the wave measures.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import trio

from proxy.http.app import CALLBACK_PATH
from tests.helpers import at, envelope, signed

MEDIA = ("voice", "chat")


class CallbackWave:
    def __init__(self, url: str, *, queues: int, events_per_s: float, duration_s: float, batch: int) -> None:
        self.url = url + CALLBACK_PATH
        self.queue_ids = [f"q-wave-{i:02d}" for i in range(queues)]
        self.events_per_s = events_per_s
        self.duration_s = duration_s
        self.batch = batch
        self._clock_ms = 0

    def _envelope(self, n: int) -> dict[str, Any]:
        self._clock_ms += 1
        queue_id = self.queue_ids[n % len(self.queue_ids)]
        media = MEDIA[(n // len(self.queue_ids)) % len(MEDIA)]
        waiting = (n * 7) % 23
        return envelope(
            queue_id, media=media, observed_ms=self._clock_ms, queueName=f"Wave {queue_id[-2:]}",
            oWaiting=waiting, oInteracting=n % 17, oAlerting=n % 3,
            oLongestWaiting=at(self._clock_ms - 60_000) if waiting else None,
            oUserRoutingStatuses={"IDLE": n % 9, "INTERACTING": n % 11},
        )

    def _bodies(self, count: int) -> list[tuple[bytes, dict[str, str]]]:
        out = []
        for start in range(0, count, self.batch):
            body = [self._envelope(start + i) for i in range(self.batch)]
            out.append(signed(json.dumps(body).encode()))
        return out

    def prime(self, loop: Any) -> None:
        """One event for every (queue, media), so the board has all its rows before the wave."""
        bodies = self._bodies(len(self.queue_ids) * len(MEDIA))
        loop.run(self._post_all, bodies, 0.0)

    def prepare(self) -> None:
        """Build and sign every body of the wave (before anyone starts a clock)."""
        self._wave = self._bodies(int(self.events_per_s * self.duration_s))

    async def run(self) -> None:
        """Post the prepared bodies: ``events_per_s`` for ``duration_s``, paced per batch."""
        await self._post_all(self._wave, self.batch / self.events_per_s)

    async def _post_all(self, bodies: list[tuple[bytes, dict[str, str]]], every_s: float) -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            start = trio.current_time()

            async def post(raw: bytes, headers: dict[str, str]) -> None:
                response = await client.post(self.url, content=raw, headers=headers)
                assert response.status_code == 200, response.text

            async with trio.open_nursery() as nursery:
                for i, (raw, headers) in enumerate(bodies):
                    await trio.sleep_until(start + i * every_s)
                    nursery.start_soon(post, raw, headers)
