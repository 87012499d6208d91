"""Upstream status (``live`` / ``degraded`` / ``down``), published to the stream as ``event: status``.

So a wallboard can say its data is stale instead of silently freezing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

import trio

from proxy.timefmt import iso, utcnow

State = Literal["live", "degraded", "down"]


class StatusTracker:
    """Holds the upstream state; ``publish`` is called with the status body on every change.

    ``note_event`` marks data arriving (the state turns ``live`` unless a component set it ``down``
    on purpose); :meth:`watch` degrades a live upstream after ``stale_after_s`` of silence.
    """

    def __init__(self, *, stale_after_s: float, publish: Callable[[Mapping[str, Any]], None],
                 initial: State = "down", detail: str = "waiting for the first event") -> None:
        self.stale_after_s = stale_after_s
        self._publish = publish
        self.state: State = initial
        self.detail = detail
        self.since = iso(utcnow())
        self._last_event_wall: float | None = None
        self._last_event_clock: float | None = None
        self._wake = trio.Event()
        publish(self.body())

    @property
    def last_event_at(self) -> str | None:
        """When the newest event arrived (formatted on demand: ``note_event`` runs once per event)."""
        if self._last_event_wall is None:
            return None
        return iso(datetime.fromtimestamp(self._last_event_wall, UTC))

    def body(self) -> dict[str, Any]:
        return {"upstream": self.state, "since": self.since, "lastEventAt": self.last_event_at,
                "detail": self.detail}

    def set(self, state: State, detail: str = "") -> None:
        if state != self.state or detail != self.detail:
            if state != self.state:
                self.since = iso(utcnow())
            self.state = state
            self.detail = detail
            self._publish(self.body())
        self._wake.set()

    def note_event(self) -> None:
        self._last_event_wall = time.time()
        self._last_event_clock = trio.current_time()
        if self.state != "live":
            self.set("live", "")

    async def watch(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Turn ``live`` into ``degraded`` after ``stale_after_s`` without an event."""
        task_status.started()
        while True:
            if self.state == "live" and self._last_event_clock is not None:
                deadline = self._last_event_clock + self.stale_after_s
                if trio.current_time() >= deadline:
                    self.set("degraded", f"no event for {self.stale_after_s:g} s")
                else:
                    await trio.sleep_until(deadline)  # re-checked against the newest event on wake
            else:
                self._wake = trio.Event()
                await self._wake.wait()
