"""The guide's Event Bus (DESIGN 3.1/6): subscriptions with a callback URL and a signed delivery loop.

This API does not exist on the real platform (see the platform reference, section 8); the
simulator offers it because the proxy's push path is built to the guide. The optional
``format: "EventBridge"`` delivers the real observations bodies in the EventBridge envelope
(DESIGN 3.2) instead.

Delivery contract: per subscription, envelopes go out in world order, one per POST (or a JSON array
of up to ``max_batch`` with ``batch: true``). A non-2xx answer or a timeout schedules a redelivery of
the *same bytes* (same ``eventId``) after ``retryIntervalSeconds`` real seconds, up to
``maxRetryAttempts`` times, then the delivery is dropped and counted. Redeliveries run beside the
main flow, so one failing delivery does not hold back newer ones. Publishing never waits: a full
subscription buffer sheds the delivery (counted).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import random
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import trio

from . import hostile, wire
from .model import QueueChange
from .settings import SimSettings
from .stats import Faults, Stats
from .stream import ObservationMessage

_OBS_RE = re.compile(r"^v2\.analytics\.queues\.([^.]+)\.observations$")
_MAX_RETRY_TASKS = 1000
#: What ``PATCH`` may change: the credentials deliveries carry, and the description. Topics, URL and
#: format are fixed for a subscription's life (create another).
_UPDATABLE = frozenset({"secret", "apiKey", "apiKeyHeader", "description"})
ORG_ID = "00000000-0000-4000-8000-00000000c0de"


class SubscriptionError(ValueError):
    """A subscription request the platform refuses (400); the message names the field."""


@dataclass(frozen=True, slots=True)
class Delivery:
    event_ids: tuple[str, ...]
    body: bytes


@dataclass(slots=True, eq=False)
class Subscription:
    sub_id: str
    callback_url: str
    topics: list[str]
    fmt: str
    retry_interval_s: float
    max_retry_attempts: int
    description: str
    batch: bool
    secret: str
    api_key_header: str | None
    api_key: str | None
    created_ms: int
    send: trio.MemorySendChannel[dict[str, Any]]
    recv: trio.MemoryReceiveChannel[dict[str, Any]]
    cancel_scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    retry_tasks: int = 0

    def as_json(self) -> wire.JSON:
        return wire.subscription(
            sub_id=self.sub_id,
            callback_url=self.callback_url,
            topics=self.topics,
            fmt=self.fmt,
            retry_interval_s=self.retry_interval_s,
            max_retry_attempts=self.max_retry_attempts,
            description=self.description,
            created_ms=self.created_ms,
            batch=self.batch,
        )


def sign(secret: str, body: bytes) -> str:
    """``X-Hub-Signature-256`` value: ``sha256=<hex HMAC-SHA256 of the raw body>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class EventBus:
    """Owns the subscriptions and their delivery loops (inside ``run``'s nursery)."""

    def __init__(
        self,
        *,
        settings: SimSettings,
        stats: Stats,
        faults: Faults,
        queue_ids: set[str],
        http: httpx.AsyncClient,
        rng: random.Random,
    ) -> None:
        self._settings = settings
        self._stats = stats
        self._faults = faults
        self._queue_ids = queue_ids
        self._http = http
        self._rng = rng
        self._subs: dict[str, Subscription] = {}
        self._nursery: trio.Nursery | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled; delivery loops live here."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    # ---------------------------------------------------------------- API
    def validate_topics(self, topics: Any, fmt: str) -> list[str]:
        if not isinstance(topics, list) or not topics:
            raise SubscriptionError("topics: a non-empty list of topic names is required")
        out: list[str] = []
        for i, topic in enumerate(topics):
            if not isinstance(topic, str) or not topic:
                raise SubscriptionError(f"topics[{i}]: must be a non-empty string")
            if any(c in topic for c in "*#{}") or ".." in topic or topic.endswith("."):
                raise SubscriptionError(f"topics[{i}]: wildcard topics are not supported: {topic!r}")
            m = _OBS_RE.match(topic)
            if topic == wire.QUEUE_UPDATE_TOPIC:
                if fmt == "EventBridge":
                    raise SubscriptionError(
                        f"topics[{i}]: the EventBridge format carries v2.analytics.queues.{{id}}.observations only"
                    )
            elif not (m and m.group(1) in self._queue_ids):
                raise SubscriptionError(f"topics[{i}]: unknown topic {topic!r}")
            if topic not in out:
                out.append(topic)
        return out

    def create(self, body: Any, *, now_ms: int) -> Subscription:
        """Validate a ``POST /api/v2/events/subscriptions`` body and start delivering. Raises ``SubscriptionError``."""
        if not isinstance(body, dict):
            raise SubscriptionError("body: a JSON object is required")
        url = body.get("callbackUrl")
        if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+", url):
            raise SubscriptionError("callbackUrl: an http(s) URL is required")
        fmt = body.get("format", "JSON")
        if fmt not in ("JSON", "EventBridge"):
            raise SubscriptionError("format: must be 'JSON' or 'EventBridge'")
        topics = self.validate_topics(body.get("topics"), fmt)
        retry = body.get("retryIntervalSeconds", self._settings.retry_interval_s)
        if isinstance(retry, bool) or not isinstance(retry, int | float) or not 0 <= retry <= 3600:
            raise SubscriptionError("retryIntervalSeconds: a number within [0, 3600] is required")
        attempts = body.get("maxRetryAttempts", self._settings.max_retry_attempts)
        if isinstance(attempts, bool) or not isinstance(attempts, int) or not 0 <= attempts <= 100:
            raise SubscriptionError("maxRetryAttempts: an integer within [0, 100] is required")
        for key in ("description", "secret", "apiKeyHeader", "apiKey"):
            if key in body and not isinstance(body[key], str):
                raise SubscriptionError(f"{key}: must be a string")
        batch = body.get("batch", False)
        if not isinstance(batch, bool):
            raise SubscriptionError("batch: must be a boolean")
        if self._nursery is None:
            raise RuntimeError("EventBus.run is not running")
        send, recv = trio.open_memory_channel[dict[str, Any]](self._settings.delivery_queue_size)
        sub = Subscription(
            sub_id=str(uuid.uuid4()),
            callback_url=url,
            topics=topics,
            fmt=fmt,
            retry_interval_s=float(retry),
            max_retry_attempts=attempts,
            description=body.get("description", ""),
            batch=batch,
            secret=body.get("secret") or self._settings.callback_secret,
            api_key_header=body.get("apiKeyHeader") or ("X-Api-Key" if body.get("apiKey") else None),
            api_key=body.get("apiKey"),
            created_ms=now_ms,
            send=send,
            recv=recv,
        )
        self._subs[sub.sub_id] = sub
        self._nursery.start_soon(self._deliver_loop, sub)
        return sub

    def update(self, sub_id: str, body: Any) -> Subscription | None:
        """``PATCH /api/v2/events/subscriptions/{id}``: change the delivery credentials (``secret``,
        ``apiKey``, ``apiKeyHeader``) and ``description`` in place; every later POST, redeliveries of
        earlier deliveries included, is signed with the new secret (a signature is made per attempt).
        None when there is no such subscription; ``SubscriptionError`` for a bad body."""
        if not isinstance(body, dict):
            raise SubscriptionError("body: a JSON object is required")
        unknown = sorted(set(body) - _UPDATABLE)
        if unknown:
            raise SubscriptionError(f"{unknown[0]}: cannot be changed (updatable: {', '.join(sorted(_UPDATABLE))})")
        for key in _UPDATABLE:
            if key in body and not isinstance(body[key], str):
                raise SubscriptionError(f"{key}: must be a string")
        sub = self._subs.get(sub_id)
        if sub is None:
            return None
        if "secret" in body:
            sub.secret = body["secret"] or self._settings.callback_secret
        if "apiKey" in body:
            sub.api_key = body["apiKey"] or None
            default_header = "X-Api-Key" if sub.api_key else None
            sub.api_key_header = body.get("apiKeyHeader") or sub.api_key_header or default_header
        elif "apiKeyHeader" in body:
            sub.api_key_header = body["apiKeyHeader"] or sub.api_key_header
        if "description" in body:
            sub.description = body["description"]
        return sub

    def subscriptions(self) -> list[Subscription]:
        return list(self._subs.values())

    @property
    def redeliveries_pending(self) -> int:
        """Failed deliveries still waiting for a redelivery attempt, over every subscription."""
        return sum(s.retry_tasks for s in self._subs.values())

    @property
    def backlog(self) -> int:
        """Deliveries queued and not yet attempted, over every subscription."""
        return sum(s.recv.statistics().current_buffer_used for s in self._subs.values())

    def get(self, sub_id: str) -> Subscription | None:
        return self._subs.get(sub_id)

    def delete(self, sub_id: str) -> bool:
        sub = self._subs.pop(sub_id, None)
        if sub is None:
            return False
        sub.cancel_scope.cancel()
        return True

    # ---------------------------------------------------------------- publishing
    def publish(self, changes: list[QueueChange], messages: list[ObservationMessage]) -> None:
        """Turn one world step into envelopes for every subscription: the guide's queue-update topic
        from the changes, the observations topics from the stream's ``messages``. Never waits."""
        for sub in self._subs.values():
            for env in self._envelopes(sub, changes, messages):
                self._stats.envelopes += 1
                try:
                    sub.send.send_nowait(env)
                except trio.WouldBlock:
                    self._stats.shed += 1

    def _envelopes(
        self, sub: Subscription, changes: list[QueueChange], messages: list[ObservationMessage]
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if wire.QUEUE_UPDATE_TOPIC in sub.topics:
            for change in changes:
                for m in change.eventbus_media:
                    out.append(
                        wire.eventbus_envelope(
                            event_id=str(uuid.uuid4()),
                            subscription_id=sub.sub_id,
                            topic=wire.QUEUE_UPDATE_TOPIC,
                            timestamp_ms=change.observed_at_ms,
                            payload={"queueState": wire.queue_state(change, m)},
                        )
                    )
        for msg in messages:
            topic = msg.topic
            if topic not in sub.topics:
                continue
            if sub.fmt == "EventBridge":
                out.append(
                    wire.eventbridge_envelope(
                        event_id=str(uuid.uuid4()),
                        topic=topic,
                        # a real capture names the template; the legacy shape names the topic itself
                        detail_type=wire.OBSERVATIONS_TOPIC if self._settings.message_shape == "real" else topic,
                        time_ms=msg.time_ms,
                        body=msg.body,
                        correlation_id=str(uuid.uuid4()),
                        org_id=ORG_ID,
                    )
                )
            else:
                out.append(
                    wire.eventbus_envelope(
                        event_id=str(uuid.uuid4()),
                        subscription_id=sub.sub_id,
                        topic=topic,
                        timestamp_ms=msg.time_ms,
                        payload=msg.body,
                    )
                )
        return out

    # ---------------------------------------------------------------- delivery
    async def _deliver_loop(self, sub: Subscription) -> None:
        with sub.cancel_scope:
            async with trio.open_nursery() as retries:
                async for first in sub.recv:
                    items = [first]
                    while len(items) < 10 * self._settings.max_batch:
                        try:
                            items.append(sub.recv.receive_nowait())
                        except trio.WouldBlock:
                            break
                    deliveries = self._pack(sub, items)
                    for i in range(len(deliveries) - 1):  # reordering: swap with the next one
                        if self._faults.roll(self._rng, self._faults.reorder_probability):
                            self._stats.reordered += 1
                            deliveries[i], deliveries[i + 1] = deliveries[i + 1], deliveries[i]
                    for d in deliveries:
                        await self._deliver(sub, d, retries)

    def _pack(self, sub: Subscription, items: list[dict[str, Any]]) -> list[Delivery]:
        def eid(env: dict[str, Any]) -> str:
            return str(env.get("eventId") or env.get("id"))

        if sub.batch and sub.fmt == "JSON":
            n = self._settings.max_batch
            return [
                Delivery(tuple(eid(e) for e in chunk), wire.dumps(chunk))
                for chunk in (items[i : i + n] for i in range(0, len(items), n))
            ]
        return [Delivery((eid(e),), wire.dumps(e)) for e in items]

    async def _deliver(self, sub: Subscription, d: Delivery, retries: trio.Nursery) -> None:
        if self._faults.roll(self._rng, self._faults.hostile_probability):
            await self._post_hostile(sub)
        if await self._post(sub, d):
            self._stats.deliveries += 1
        elif sub.retry_tasks >= _MAX_RETRY_TASKS:
            self._stats.shed += 1
        else:
            sub.retry_tasks += 1
            retries.start_soon(self._redeliver, sub, d)
        if self._faults.roll(self._rng, self._faults.duplicate_probability):
            self._stats.duplicates += 1
            await self._post(sub, d)

    async def _redeliver(self, sub: Subscription, d: Delivery) -> None:
        try:
            for _ in range(sub.max_retry_attempts):
                await trio.sleep(sub.retry_interval_s)
                self._stats.redeliveries += 1
                if await self._post(sub, d):
                    self._stats.deliveries += 1
                    return
            self._stats.drops += 1
        finally:
            sub.retry_tasks -= 1

    async def _post_hostile(self, sub: Subscription) -> None:
        """One malformed or hostile delivery (``hostile.py``), signed, sent once: a consumer refuses it
        for good (4xx), so it is not redelivered; its answer is not looked at."""
        topic = self._rng.choice(sub.topics)
        m = _OBS_RE.match(topic)
        queue_id = m.group(1) if m else next(iter(self._queue_ids), "q")
        body = hostile.eventbus_body(hostile.pick(self._rng), topic, queue_id, subscription_id=sub.sub_id)
        self._stats.hostile_sent += 1
        await self._send(sub, body)

    async def _post(self, sub: Subscription, d: Delivery) -> bool:
        """One attempt to deliver exactly ``d.body``; True on 2xx within the delivery timeout. The
        ``callbackErrorProbability`` fault fails it before it leaves; ``callbackTimeoutProbability``
        sends it and loses the answer."""
        delay = self._faults.delay_s(self._rng, self._stats)
        if delay:
            await trio.sleep(delay)
        self._stats.delivery_attempts += 1
        if self._faults.roll(self._rng, self._faults.callback_error_probability):
            self._stats.callback_errors_injected += 1
            return False
        ok = await self._send(sub, d.body)
        if ok and self._faults.roll(self._rng, self._faults.callback_timeout_probability):
            self._stats.callback_timeouts_injected += 1
            return False
        return ok

    async def _send(self, sub: Subscription, body: bytes) -> bool:
        """One signed POST of ``body``; True on 2xx within the delivery timeout."""
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(sub.secret, body)}
        if sub.api_key_header and sub.api_key:
            headers[sub.api_key_header] = sub.api_key
        timeout = self._settings.delivery_timeout_s
        with trio.move_on_after(timeout if timeout > 0 else math.inf):
            try:
                response = await self._http.post(sub.callback_url, content=body, headers=headers)
            except httpx.HTTPError:
                return False
            return 200 <= response.status_code < 300
        return False
