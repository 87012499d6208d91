"""``Platform``: the Genesys Cloud REST calls the upstream needs, as typed methods.

One long-lived ``httpx.AsyncClient`` (base URL = the API host) whose ``auth`` is
:class:`~proxy.auth.bearer.PlatformAuth`, so every call carries a fresh token, waits for the
token's rate-limit allowance and retries once on 401 and after ``Retry-After`` on 429. Foreign
errors are translated here: callers see :class:`PlatformError`, :class:`~proxy.errors.RateLimited`
or :class:`~proxy.errors.AuthError` only. Request and error texts never carry tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import msgspec

from proxy.auth.ratelimit import retry_after_s
from proxy.errors import AuthError, PlatformError, RateLimited
from proxy.ingest.adapter import AggregateQueryResponse, ObservationQueryResponse

T = TypeVar("T")


class ChannelIn(msgspec.Struct, frozen=True):
    """``POST /api/v2/notifications/channels`` → ``{id, connectUri, expires}``."""

    id: str
    connectUri: str
    expires: str | None = None


class EventSubscriptionIn(msgspec.Struct, frozen=True):
    id: str
    callbackUrl: str = ""
    description: str = ""
    topics: list[str] = msgspec.field(default_factory=list)


class _Entities(msgspec.Struct, frozen=True):
    entities: list[EventSubscriptionIn] = msgspec.field(default_factory=list)


class DivisionIn(msgspec.Struct, frozen=True):
    """A queue's ``division`` (``{id, name, selfUri}``, the SDK's ``Division``)."""

    id: str = ""
    name: str = ""


class QueueEntityIn(msgspec.Struct, frozen=True):
    """A ``GET /api/v2/routing/queues`` entity: what the proxy reads of the SDK's ``Queue``."""

    id: str
    name: str = ""
    division: DivisionIn | None = None


@dataclass(eq=False)
class QueueDirectory:
    """What the routing API says of the followed queues: id → name, and id → the name of its division
    (a queue listed without one has none). One object is shared by an upstream mode, its lanes and its
    backfills; re-discovery updates it in place (:meth:`merge`), so every part sees the same names."""

    names: dict[str, str] = field(default_factory=dict)
    divisions: dict[str, str] = field(default_factory=dict)

    def changed(self, queue_id: str, newer: QueueDirectory) -> bool:
        """``queue_id`` has another name or division in ``newer``."""
        return (queue_id in newer.names and newer.names[queue_id] != self.names.get(queue_id)) or (
            queue_id in newer.divisions and newer.divisions[queue_id] != self.divisions.get(queue_id))

    def merge(self, newer: QueueDirectory, *, removed: list[str]) -> None:
        """Take ``newer``'s names and divisions and forget ``removed`` queues, in place."""
        for queue_id in removed:
            self.names.pop(queue_id, None)
            self.divisions.pop(queue_id, None)
        self.names.update(newer.names)
        self.divisions.update(newer.divisions)


class _QueuesPage(msgspec.Struct, frozen=True):
    entities: list[QueueEntityIn] = msgspec.field(default_factory=list)
    pageCount: int | None = None


class _ErrorBody(msgspec.Struct):
    message: str = ""
    code: str = ""


def _call_name(method: str, path: str) -> str:
    """A low-cardinality name for a request (ids dropped): ``POST analytics/queues/observations/query``."""
    parts = [p for p in path.removeprefix("/api/v2/").split("/") if p and not any(c.isdigit() for c in p)]
    return f"{method} {'/'.join(parts)}"


def _redact(text: str, request: httpx.Request) -> str:
    """The platform may echo what it was sent; a bearer token never goes into an error text."""
    token = request.headers.get("authorization", "").partition(" ")[2]
    return text.replace(token, "<token>") if token else text


class Platform:
    """Typed platform calls over ``http`` (which must carry :class:`PlatformAuth`)."""

    def __init__(self, http: httpx.AsyncClient, *, on_request: Callable[[str], None] = lambda call: None) -> None:
        self.http = http
        self._on_request = on_request

    async def _call(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
                    ) -> httpx.Response:
        self._on_request(_call_name(method, path))
        try:
            response = await self.http.request(method, path, json=json, params=params)
        except httpx.HTTPError as exc:
            raise PlatformError(f"{method} {path}: no answer ({type(exc).__name__})") from exc
        if response.is_success:
            return response
        try:
            err = msgspec.json.decode(response.content, type=_ErrorBody)
        except (msgspec.DecodeError, RecursionError):  # RecursionError: brackets nested thousands deep
            err = _ErrorBody()
        err = _ErrorBody(message=_redact(err.message, response.request), code=_redact(err.code, response.request))
        if response.status_code == 429:
            raise RateLimited(retry_after_s(response.headers))
        if response.status_code == 401:
            raise AuthError(f"{method} {path}: 401 {err.code or 'unauthorized'} even with a new token")
        detail = f"{err.code}: {err.message}" if err.code else response.reason_phrase
        raise PlatformError(f"{method} {path}: HTTP {response.status_code} ({detail})",
                            status=response.status_code, code=err.code)

    @staticmethod
    def _decode(response: httpx.Response, kind: type[T], what: str) -> T:
        try:
            return msgspec.json.decode(response.content, type=kind)
        except (msgspec.DecodeError, RecursionError) as exc:  # RecursionError: nested thousands deep
            raise PlatformError(f"{what}: unexpected response ({exc})", status=response.status_code) from exc

    # ------------------------------------------------------------ Notifications
    async def create_channel(self) -> ChannelIn:
        response = await self._call("POST", "/api/v2/notifications/channels")
        return self._decode(response, ChannelIn, "create channel")

    async def channel_exists(self, channel_id: str) -> bool:
        try:
            await self._call("HEAD", f"/api/v2/notifications/channels/{channel_id}")
        except PlatformError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def put_subscriptions(self, channel_id: str, topics: list[str]) -> None:
        """Replace the channel's topics (also renews its 24 h lifetime)."""
        await self._call("PUT", f"/api/v2/notifications/channels/{channel_id}/subscriptions",
                         json=[{"id": t} for t in topics])

    async def post_subscriptions(self, channel_id: str, topics: list[str]) -> None:
        """Add topics to the channel's (keeps the others; also renews its 24 h lifetime)."""
        await self._call("POST", f"/api/v2/notifications/channels/{channel_id}/subscriptions",
                         json=[{"id": t} for t in topics])

    async def delete_subscriptions(self, channel_id: str) -> None:
        await self._call("DELETE", f"/api/v2/notifications/channels/{channel_id}/subscriptions")

    # ------------------------------------------------------------ Event Bus (the guide's API, simulator)
    async def list_event_subscriptions(self) -> list[EventSubscriptionIn]:
        response = await self._call("GET", "/api/v2/events/subscriptions")
        return self._decode(response, _Entities, "list subscriptions").entities

    async def create_event_subscription(self, body: dict[str, Any]) -> EventSubscriptionIn:
        response = await self._call("POST", "/api/v2/events/subscriptions", json=body)
        return self._decode(response, EventSubscriptionIn, "create subscription")

    async def update_event_subscription(self, sub_id: str, body: dict[str, Any]) -> EventSubscriptionIn:
        """Change a subscription in place (its delivery credentials); ``PlatformError`` 404 when it is gone."""
        response = await self._call("PATCH", f"/api/v2/events/subscriptions/{sub_id}", json=body)
        return self._decode(response, EventSubscriptionIn, "update subscription")

    async def delete_event_subscription(self, sub_id: str) -> None:
        try:
            await self._call("DELETE", f"/api/v2/events/subscriptions/{sub_id}")
        except PlatformError as exc:
            if exc.status != 404:
                raise

    # ------------------------------------------------------------ Analytics and routing
    async def observations_query(self, body: dict[str, Any]) -> ObservationQueryResponse:
        response = await self._call("POST", "/api/v2/analytics/queues/observations/query", json=body)
        return self._decode(response, ObservationQueryResponse, "observations query")

    async def aggregates_query(self, body: dict[str, Any]) -> AggregateQueryResponse:
        response = await self._call("POST", "/api/v2/analytics/conversations/aggregates/query", json=body)
        return self._decode(response, AggregateQueryResponse, "aggregates query")

    async def list_queues(self, *, page_size: int = 100, max_pages: int = 1000) -> list[QueueEntityIn]:
        """Every queue visible to the client (``GET /api/v2/routing/queues``, all pages)."""
        out: list[QueueEntityIn] = []
        for number in range(1, max_pages + 1):
            response = await self._call("GET", "/api/v2/routing/queues",
                                        params={"pageSize": page_size, "pageNumber": number})
            page = self._decode(response, _QueuesPage, "list queues")
            out.extend(page.entities)
            if len(page.entities) < page_size or (page.pageCount is not None and number >= page.pageCount):
                break
        return out
