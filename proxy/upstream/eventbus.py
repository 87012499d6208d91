"""Event Bus mode: the proxy provisions its own push subscription (the guide's API; the simulator).

Exactly one subscription per proxy, recognised by callback URL and description: found and kept
when its topics match, created when missing, recreated when its topics differ or it vanished
(checked every ``eventbus_check_s``), duplicates deleted. Topics: the observations template of the
allowlist expanded for the followed queues (the API refuses templates), else its exact topics.
Deliveries are signed with ``QC_CALLBACK_SECRET`` (and/or carry the API key). The platform never
reads a secret back, so a subscription found at start-up is updated once with this process's
credentials (PATCH): a rotated secret reaches the platform on the first check after the restart, and
``QC_CALLBACK_SECRET_PREVIOUS`` covers deliveries signed before it. An Event Bus that cannot update
in place (404 on the race with a deletion, or 400/405/501) gets a new subscription, created before
the old one is deleted so no delivery window is lost. At start-up and after a (re)creation
the state is backfilled, since nothing missed is replayed. On a clean shutdown the subscription is
deleted when ``QC_EVENTBUS_CLEANUP`` is on.

With ``QC_QUEUES`` empty the queues are listed again every ``rediscover_s`` (at the next check
after it): new queues are backfilled (their events already flow, or the subscription is recreated
with their topics), deleted ones are removed from the board (``ingestor.remove_queue``), renamed
ones are backfilled under their new name.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import trio

from proxy.auth.backoff import Backoff
from proxy.contract import CALLBACK_PATH, OBSERVATIONS_TOPIC, observation_topic
from proxy.errors import AuthError, PlatformError, UpstreamError
from proxy.upstream.backfill import backfill
from proxy.upstream.context import QueueChanges, UpstreamContext
from proxy.upstream.platform import EventSubscriptionIn, QueueDirectory
from proxy.upstream.status import PUSH, reason_of

log = logging.getLogger("queuecast.upstream.eventbus")

DESCRIPTION = "queuecast proxy"


def subscription_topics(allowlist: tuple[str, ...], queue_ids: list[str]) -> list[str]:
    """The topics to subscribe: the real observations topic of every followed queue when the allowlist
    has its template (the platform's shape, also in the simulator); else the allowlist's exact topics
    (the guide's whole-state topic, for its fictional Event Bus). The API refuses templates."""
    if OBSERVATIONS_TOPIC in allowlist:
        return [observation_topic(qid) for qid in queue_ids]
    return [t for t in allowlist if "{id}" not in t]


def _merge(pending: QueueChanges, found: QueueChanges) -> QueueChanges:
    """Changes not applied yet (a step failed) plus newer ones; a queue added then removed is neither."""
    removed = [q for q in [*pending.removed, *found.removed] if q not in found.added]
    added = [q for q in [*pending.added, *found.added] if q not in found.removed]
    renamed = [q for q in [*pending.renamed, *found.renamed] if q not in found.removed]
    return QueueChanges(list(dict.fromkeys(added)), list(dict.fromkeys(removed)), list(dict.fromkeys(renamed)))


class EventBusUpstream:
    def __init__(self, ctx: UpstreamContext) -> None:
        self._ctx = ctx
        cfg = ctx.config
        public_url = (cfg.settings.public_url or "").rstrip("/")  # required in this mode (UpstreamConfig)
        self.callback_url = public_url + CALLBACK_PATH
        self.description = f"{DESCRIPTION} {public_url}"
        self.subscription_id: str | None = None
        self.created = 0
        #: Subscriptions updated in place with this process's credentials (once per process, at start-up).
        self.updated = 0
        self._credentials_sent = False
        self._seeded = False
        self._backoff = Backoff(initial_s=cfg.backoff_initial_s, max_s=cfg.backoff_max_s)

    def _body(self, topics: list[str]) -> dict[str, Any]:
        return {"callbackUrl": self.callback_url, "description": self.description, "topics": topics,
                **self._credentials()}

    def _credentials(self) -> dict[str, Any]:
        """What deliveries are signed with or carry; sent to the platform only (never logged)."""
        settings = self._ctx.config.settings
        body: dict[str, Any] = {}
        if settings.callback_secret is not None:
            body["secret"] = settings.callback_secret.reveal()  # sent to the platform only, to sign deliveries
        if settings.callback_api_key is not None:
            body["apiKey"] = settings.callback_api_key.reveal()
            body["apiKeyHeader"] = settings.callback_api_key_header
        return body

    async def ensure(self, topics: list[str]) -> bool:
        """Make exactly one matching subscription exist; true when it had to be (re)created."""
        platform = self._ctx.platform
        mine = [s for s in await platform.list_event_subscriptions()
                if s.callbackUrl == self.callback_url and s.description == self.description]
        keep = next((s for s in mine if sorted(s.topics) == sorted(topics)), None)
        for sub in mine:
            if sub is not keep:
                log.info("deleting subscription %s (duplicate or outdated topics)", sub.id)
                await platform.delete_event_subscription(sub.id)
        if keep is not None and not self._credentials_sent:
            keep = await self._send_credentials(keep, topics)
            if keep is None:
                return True  # replaced by a new subscription
        if keep is not None:
            self.subscription_id = keep.id
            return False
        await self._create(topics)
        return True

    async def _create(self, topics: list[str]) -> None:
        sub = await self._ctx.platform.create_event_subscription(self._body(topics))
        self.subscription_id = sub.id
        self.created += 1
        self._credentials_sent = True
        log.info("subscription %s created for %s (%d topics)", sub.id, self.callback_url, len(topics))

    async def _send_credentials(self, sub: EventSubscriptionIn, topics: list[str]) -> EventSubscriptionIn | None:
        """Put this process's secret (and API key) on ``sub``, which cannot be read back to compare: a
        rotation then takes effect at once. Returns ``sub``, or None when a new subscription replaced it."""
        platform = self._ctx.platform
        try:
            await platform.update_event_subscription(sub.id, {"description": self.description,
                                                              **self._credentials()})
        except PlatformError as exc:
            if exc.status not in (400, 404, 405, 501):
                raise
            log.info("subscription %s cannot be updated (HTTP %d); replacing it", sub.id, exc.status)
            await self._create(topics)  # first the new one, so no delivery window is lost
            if exc.status != 404:
                await platform.delete_event_subscription(sub.id)
            return None
        self._credentials_sent = True
        self.updated += 1
        log.info("subscription %s updated with this process's callback credentials", sub.id)
        return sub

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        status = self._ctx.sinks.status
        cfg = self._ctx.config
        sink = self._ctx.sinks.observations
        platform = self._ctx.platform
        status.report("subscription", "down", "connecting")
        status.report(PUSH, "degraded", "waiting")  # until the first delivery
        queue_ids: list[str] | None = None
        directory = QueueDirectory()
        changes = QueueChanges([], [], [])
        rediscover_at = math.inf
        try:
            while True:
                try:
                    if queue_ids is None:
                        queue_ids, directory = await self._ctx.discover()
                        rediscover_at = trio.current_time() + cfg.rediscover_s if cfg.rediscovers else math.inf
                    elif trio.current_time() >= rediscover_at:
                        rediscover_at = trio.current_time() + cfg.rediscover_s
                        queue_ids, found = await self._ctx.rediscover(queue_ids, directory)
                        changes = _merge(changes, found)
                    topics = subscription_topics(cfg.settings.topics, queue_ids)
                    if not topics:
                        status.report("subscription", "down", "no_topics", "no topics to subscribe: check QC_TOPICS")
                        return
                    for qid in changes.added:
                        sink.follow_queue(qid)
                    # a (re)created subscription replays nothing, and neither does one found at start-up
                    # (what it delivered while no process listened waits for its retry interval)
                    if await self.ensure(topics) or not self._seeded:
                        await backfill(platform, sink, queue_ids, directory=directory)
                        self._seeded = True
                    elif changes.added or changes.renamed:
                        await backfill(platform, sink, [*changes.added, *changes.renamed], directory=directory)
                    for qid in changes.removed:
                        sink.remove_queue(qid)
                    changes = QueueChanges([], [], [])
                    self._backoff.reset()
                    status.report("subscription", "live")
                    delay = min(cfg.eventbus_check_s, max(0.0, rediscover_at - trio.current_time()))
                except AuthError as exc:
                    if exc.fatal:
                        self._ctx.stop(exc)
                        return
                    delay = self._failed(exc)
                except UpstreamError as exc:
                    delay = self._failed(exc)
                await trio.sleep(delay)
        finally:
            await self._cleanup()

    def _failed(self, exc: Exception) -> float:
        delay = self._backoff.next()
        log.warning("event bus subscription check failed (%s); retrying in %.1f s", exc, delay)
        self._ctx.sinks.status.report("subscription", "degraded" if self.subscription_id else "down",
                                      reason_of(exc), f"event bus: {exc}")
        return delay

    async def _cleanup(self) -> None:
        if not (self._ctx.config.settings.eventbus_cleanup and self.subscription_id and self._ctx.fatal is None):
            return
        # shielded (the upstream is being cancelled) but bounded: within QC_SHUTDOWN_S with the rest
        with trio.CancelScope(shield=True), trio.move_on_after(min(5.0, self._ctx.config.settings.shutdown_s / 3)):
            try:
                await self._ctx.platform.delete_event_subscription(self.subscription_id)
                log.info("subscription %s deleted (clean shutdown)", self.subscription_id)
            except (UpstreamError, AuthError) as exc:
                log.warning("could not delete subscription %s: %s", self.subscription_id, exc)
