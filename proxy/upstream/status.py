"""Upstream status (``live`` / ``degraded`` / ``down``), published to the stream as ``event: status``.

So a wallboard can say its data is stale instead of silently freezing. Several *sources* report
(each Notifications lane, the Event Bus subscription, queue discovery, and — in the push modes —
the deliveries themselves); the upstream's state is the **worst** of them, and the status frame
names that source. One healthy lane never hides another's outage.

What reaches the browser is a fixed vocabulary (:data:`Reason`): exception texts, client ids and
URLs go to the log only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal, Protocol

import trio

from proxy.errors import AuthError, PlatformError, RateLimited, UpstreamError
from proxy.timefmt import iso, utcnow

log = logging.getLogger("queuecast.upstream.status")

State = Literal["live", "degraded", "down"]
#: Why a source is not live — the only words a browser is told.
Reason = Literal[
    "",  # live
    "waiting",  # no delivery yet
    "no_events",  # deliveries stopped for QC_STALE_AFTER_S
    "connecting",
    "credentials",  # invalid_client: the upstream stopped
    "token",  # OAuth token could not be had or was revoked
    "rate_limited",
    "network",  # the platform did not answer
    "platform_5xx",
    "platform",  # any other platform error
    "socket",  # Notifications WebSocket closed or silent
    "subscription",  # Event Bus subscription not active
    "no_queues",
    "no_topics",
    "crashed",  # a component crashed and is being restarted
    "redis",  # (cluster) this instance cannot reach Redis: its clients see the last state (proxy/cluster)
]
_RANK: Final = {"live": 0, "degraded": 1, "down": 2}
#: The source that stands for pushed deliveries (callback, Event Bus).
PUSH: Final = "deliveries"


def reason_of(exc: BaseException) -> Reason:
    """The browser-safe word for an upstream failure."""
    if isinstance(exc, AuthError):
        return "credentials" if exc.fatal else "token"
    if isinstance(exc, RateLimited):
        return "rate_limited"
    if isinstance(exc, PlatformError):
        if exc.status == 0:
            return "network"
        return "platform_5xx" if exc.status >= 500 else "platform"
    if isinstance(exc, UpstreamError):
        return "platform"
    return "socket"


class StatusSink(Protocol):
    """What an upstream component may say about its own health."""

    def report(self, source: str, state: State, reason: Reason = "", detail: str = "") -> None:
        """``source`` is ``state`` because of ``reason``; ``detail`` is logged, never published."""
        ...

    def forget(self, source: str) -> None:
        """``source`` no longer exists (a push source in a pull mode, a removed lane)."""
        ...


@dataclass(slots=True)
class _Source:
    state: State
    reason: Reason
    #: Order of the report: among sources in the same state, the newest news is shown.
    seq: int = 0


class StatusTracker:
    """Holds each source's state; ``publish`` is called with the status body on every change.

    ``push`` is the initial state of the :data:`PUSH` source (``None``: no push source). Data arriving
    (:meth:`note_event`) makes the push source ``live``; :meth:`watch` degrades it after
    ``stale_after_s`` of silence. Pull sources report for themselves.
    """

    def __init__(self, *, stale_after_s: float, publish: Callable[[Mapping[str, Any]], None],
                 push: State | None = "down") -> None:
        self.stale_after_s = stale_after_s
        self._publish = publish
        self._sources: dict[str, _Source] = {}
        self._seq = 0
        if push is not None:
            self._sources[PUSH] = _Source(push, "waiting" if push != "live" else "")
        self._state, self._source, self._reason = self._worst()
        self.since = iso(utcnow())
        #: The newest detail text reported (for operators and tests; never published).
        self.last_detail = ""
        self._last_event_wall: float | None = None
        self._last_event_clock: float | None = None
        self._wake = trio.Event()
        publish(self.body())

    @property
    def state(self) -> State:
        return self._state

    @property
    def reason(self) -> Reason:
        return self._reason

    @property
    def last_event_at(self) -> str | None:
        """When the newest event arrived (formatted on demand: ``note_event`` runs once per event)."""
        if self._last_event_wall is None:
            return None
        return iso(datetime.fromtimestamp(self._last_event_wall, UTC))

    def sources(self) -> dict[str, tuple[State, Reason]]:
        return {name: (s.state, s.reason) for name, s in self._sources.items()}

    def body(self) -> dict[str, Any]:
        return {"upstream": self._state, "since": self.since, "lastEventAt": self.last_event_at,
                "detail": self._reason, "source": self._source}

    def _worst(self) -> tuple[State, str | None, Reason]:
        if not self._sources:
            return "down", None, "connecting"
        name, src = max(self._sources.items(), key=lambda item: (_RANK[item[1].state], item[1].seq))
        if src.state == "live":
            return "live", None, ""
        return src.state, name, src.reason

    def _changed(self) -> None:
        state, source, reason = self._worst()
        if (state, source, reason) != (self._state, self._source, self._reason):
            if state != self._state:
                self.since = iso(utcnow())
            self._state, self._source, self._reason = state, source, reason
            self._publish(self.body())
        self._wake.set()

    def report(self, source: str, state: State, reason: Reason = "", detail: str = "") -> None:
        old = self._sources.get(source)
        if old is not None and (old.state, old.reason) == (state, reason):
            return
        self._seq += 1
        self._sources[source] = _Source(state, reason, self._seq)
        if detail:
            self.last_detail = detail
        level = logging.INFO if state == "live" else logging.WARNING
        log.log(level, "upstream source %s: %s%s%s", source, state, f" ({reason})" if reason else "",
                f": {detail}" if detail else "")
        self._changed()

    def forget(self, source: str) -> None:
        if self._sources.pop(source, None) is not None:
            self._changed()

    def note_event(self) -> None:
        self._last_event_wall = time.time()
        self._last_event_clock = trio.current_time()
        push = self._sources.get(PUSH)
        if push is not None and push.state != "live":
            self.report(PUSH, "live")

    async def watch(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Turn a live push source ``degraded`` after ``stale_after_s`` without an event."""
        task_status.started()
        while True:
            push = self._sources.get(PUSH)
            if push is not None and push.state == "live" and self._last_event_clock is not None:
                deadline = self._last_event_clock + self.stale_after_s
                if trio.current_time() >= deadline:
                    self.report(PUSH, "degraded", "no_events", f"no event for {self.stale_after_s:g} s")
                else:
                    await trio.sleep_until(deadline)  # re-checked against the newest event on wake
            else:
                self._wake = trio.Event()
                await self._wake.wait()
