"""A real SSE client holding the wallboard's state, as the browser does: ``snapshot`` replaces the
board, ``delta`` replaces the views it carries and drops its ``removed`` queues; when the stream ends
it reconnects with ``Last-Event-ID`` (the proxy resumes it exactly or sends a snapshot)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import trio


@dataclass(eq=False)
class Board:
    url: str
    """The proxy's base URL."""
    views: dict[str, Any] = field(default_factory=dict)
    last_id: str | None = None
    snapshots: int = 0
    deltas: int = 0
    connects: int = 0
    #: Why streams ended, e.g. ``{"closed": 1, "ReadError": 2}``.
    ends: dict[str, int] = field(default_factory=dict)
    synced: trio.Event = field(default_factory=trio.Event)
    """Set once the first snapshot is held."""

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Hold the board until cancelled; ``started`` once the first snapshot arrived."""
        started = False
        timeout = httpx.Timeout(10.0, read=None)
        async with httpx.AsyncClient(timeout=timeout) as http:
            while True:
                headers = {"Accept": "text/event-stream"}
                if self.last_id is not None:
                    headers["Last-Event-ID"] = self.last_id
                reason = "closed"
                try:
                    async with http.stream("GET", f"{self.url}/dashboard-stream", headers=headers) as response:
                        if response.status_code != 200:
                            reason = f"http {response.status_code}"
                        else:
                            self.connects += 1
                            async for event, data, event_id in _events(response):
                                self._apply(event, data, event_id)
                                if not started and self.synced.is_set():
                                    started = True
                                    task_status.started()
                except httpx.HTTPError as exc:
                    reason = type(exc).__name__
                self.ends[reason] = self.ends.get(reason, 0) + 1
                await trio.sleep(0.5)  # the proxy's retry: is 3 s; a test harness need not wait that long

    def _apply(self, event: str, data: str, event_id: str | None) -> None:
        if event not in ("snapshot", "delta"):
            return
        body = json.loads(data)
        if event == "snapshot":
            self.views = dict(body["queues"])
            self.snapshots += 1
            self.synced.set()
        else:
            self.views.update(body["queues"])
            for queue_id in body.get("removed", []):
                self.views.pop(queue_id, None)
            self.deltas += 1
        if event_id:
            self.last_id = event_id


async def _events(response: httpx.Response) -> AsyncIterator[tuple[str, str, str | None]]:
    """``(event, data, id)`` for each dispatched SSE block (text/event-stream, WHATWG rules)."""
    event: str = "message"
    data: list[str] = []
    event_id: str | None = None
    async for line in response.aiter_lines():
        if line == "":
            if data:
                yield event, "\n".join(data), event_id
            event, data, event_id = "message", [], None
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id":
            event_id = value
