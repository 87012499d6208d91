"""Shared test helpers: building callback envelopes, signing them, reading SSE streams."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import trio
from httpx_sse import EventSource, ServerSentEvent

from proxy.ingest.signature import sign
from proxy.settings import QUEUE_UPDATE_TOPIC

SECRET = "test-callback-secret"
BASE_TIME = datetime(2026, 11, 27, 21, 0, 0, tzinfo=UTC)
_counter = itertools.count(1)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def at(ms: int) -> str:
    """A timestamp ``ms`` milliseconds after the base time."""
    return iso(BASE_TIME + timedelta(milliseconds=ms))


def envelope(
    queue_id: str = "q-billing",
    *,
    media: str = "voice",
    observed_ms: int | None = None,
    event_id: str | None = None,
    topic: str = QUEUE_UPDATE_TOPIC,
    **fields: Any,
) -> dict[str, Any]:
    """An Event Bus envelope for the queue-update topic; ``fields`` go into ``queueState``."""
    n = next(_counter)
    state: dict[str, Any] = {
        "queueId": queue_id,
        "mediaType": media,
        "observedAt": at(observed_ms if observed_ms is not None else n),
        **fields,
    }
    return {
        "eventId": event_id or str(uuid.uuid4()),
        "subscriptionId": "sub-test",
        "topic": topic,
        "timestamp": at(observed_ms if observed_ms is not None else n),
        "payload": {"queueState": state},
    }


def signed(body: Any, secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return raw, {"X-Hub-Signature-256": sign(raw, secret), "Content-Type": "application/json"}


async def post_callback(client: httpx.AsyncClient, body: Any, secret: str = SECRET) -> httpx.Response:
    raw, headers = signed(body, secret)
    return await client.post("/api/v1/event-stream/callback", content=raw, headers=headers)


class SSEReader:
    """Reads events from an open stream response with a deadline per event."""

    def __init__(self, events: AsyncIterator[ServerSentEvent]) -> None:
        self._events = events

    async def next(self, within: float = 5.0, *, skip_status: bool = True) -> ServerSentEvent:
        with trio.fail_after(within):
            while True:
                event = await anext(self._events)
                if (skip_status and event.event == "status") or not event.data:
                    continue  # a browser dispatches no event for a block without data
                return event

    async def next_json(self, within: float = 5.0) -> tuple[ServerSentEvent, dict[str, Any]]:
        event = await self.next(within)
        return event, json.loads(event.data)


class open_stream:  # used like a function: async with open_stream(...) as reader
    """``async with open_stream(client, params=..., headers=...) as (response, reader)``."""

    def __init__(self, client: httpx.AsyncClient, path: str = "/dashboard-stream", **kwargs: Any) -> None:
        self._client = client
        self._path = path
        self._kwargs = kwargs

    async def __aenter__(self) -> tuple[httpx.Response, SSEReader]:
        self._cm = self._client.stream("GET", self._path, **self._kwargs)
        self._response = await self._cm.__aenter__()
        self._iter = aclosing(EventSource(self._response).aiter_sse())
        events = await self._iter.__aenter__()
        return self._response, SSEReader(events)

    async def __aexit__(self, *exc: object) -> None:
        await self._iter.__aexit__(None, None, None)
        await self._cm.__aexit__(None, None, None)
