"""The aggregator: leading + trailing throttle between the reducer and the hub.

An isolated change is published at once (leading edge); changes arriving within ``window_s`` of
the last publish are collected and published together when the window ends (trailing edge), so
under load there is at most one frame per window, carrying every queue that changed in it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import trio

from proxy.metrics import Metrics
from proxy.state.reducer import Reducer
from proxy.state.view import QueueView

#: Where a window's changes go: ``publish(views, removed)`` (the broker's, in the runtime). Never waits.
Publish = Callable[[Mapping[str, QueueView], tuple[str, ...]], object]


class Throttle:
    """The pure timing decision: how long to wait before publishing, given the last publish time."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.last = -math.inf

    def delay(self, now: float) -> float:
        return max(0.0, self.last + self.window_s - now)

    def fired(self, now: float) -> None:
        self.last = now


class Aggregator:
    """Collects dirty queue ids and publishes their views; :meth:`serve` runs the publishing loop.

    Only :meth:`serve` replaces its wake-up event, so :meth:`flush` may be called from anywhere
    (tests, shutdown) without leaving the loop waiting on an event nobody sets.
    """

    def __init__(self, reducer: Reducer, publish: Publish, *, window_s: float, metrics: Metrics) -> None:
        self._reducer = reducer
        self._publish = publish
        self._metrics = metrics
        self.throttle = Throttle(window_s)
        self._dirty: dict[str, None] = {}
        self._removed: dict[str, None] = {}
        self._oldest: float | None = None
        self._wake = trio.Event()

    def mark(self, queue_id: str, accepted_at: float) -> None:
        """``queue_id`` changed; ``accepted_at`` (trio clock) feeds the ingest-to-publish histogram."""
        self._removed.pop(queue_id, None)
        self._dirty[queue_id] = None
        if self._oldest is None:
            self._oldest = accepted_at
        self._wake.set()

    def mark_removed(self, queue_id: str) -> None:
        self._dirty.pop(queue_id, None)
        self._removed[queue_id] = None
        self._wake.set()

    def flush(self) -> None:
        """Publish what is dirty now (the loop calls this; tests may too)."""
        dirty, removed = self._dirty, self._removed
        self._dirty, self._removed = {}, {}
        if not dirty and not removed:
            return
        # the window starts when the publish does: a fan-out that takes 30 ms must not push every later
        # window back by 30 ms (at 2 frames a second that drift was most of the staleness budget's slack)
        now = trio.current_time()
        self.throttle.fired(now)
        views = {q: self._reducer.view(q) for q in dirty if q in self._reducer}
        self._publish(views, tuple(removed))
        self._metrics.frames.inc()
        if self._oldest is not None:
            self._metrics.latency.observe(trio.current_time() - self._oldest)  # until the frame is out
            self._oldest = None

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            await self._wake.wait()
            delay = self.throttle.delay(trio.current_time())
            if delay > 0:
                await trio.sleep(delay)
            self._wake = trio.Event()  # marks from here on wake the next round
            self.flush()
