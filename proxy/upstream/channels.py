"""Notifications channels: create, subscribe, keep alive, bring in line with a lane's topics.

Platform rules (reference §2): a channel is created with ``POST /notifications/channels`` and lives
24 h unless its topics are re-``PUT`` (a ``POST`` of topics renews it too); it carries at most
1,000 topics; channels belong to the token that created them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import trio

from proxy.errors import InvalidInput, UpstreamError
from proxy.ingest import values
from proxy.timefmt import utcnow
from proxy.upstream.context import UpstreamContext

log = logging.getLogger("queuecast.upstream.notifications")

#: A channel whose answer has no ``expires`` is assumed to live this long (the platform's 24 h).
DEFAULT_CHANNEL_TTL_S = 86400.0
#: Topics are renewed at this fraction of the channel's lifetime.
RENEW_AT = 0.8


@dataclass(eq=False)
class Channel:
    id: str
    connect_uri: str
    token_generation: int
    ttl_s: float
    resubscribe_at: float
    #: The topics the platform holds for this channel (after the last successful PUT/POST).
    topics: frozenset[str] = frozenset()


class Channels:
    """The channel operations of one lane; ``on_renew`` is called after every full re-subscription."""

    def __init__(self, ctx: UpstreamContext, *, name: str, on_renew: Callable[[], None] = lambda: None) -> None:
        self._ctx = ctx
        self._name = name
        self._on_renew = on_renew

    async def exists(self, ch: Channel) -> bool:
        return await self._ctx.platform.channel_exists(ch.id)

    async def create(self, topics: list[str]) -> Channel:
        """A new channel of the current token, subscribed to ``topics``."""
        created = await self._ctx.platform.create_channel()
        token = self._ctx.tokens.current
        generation = token.generation if token is not None else 0
        ttl = DEFAULT_CHANNEL_TTL_S
        if created.expires:
            try:
                ttl = max(1.0, (values.instant(created.expires, "$.expires") - utcnow()).total_seconds())
            except InvalidInput:
                log.info("%s: channel %s has an unreadable expiry %r; assuming 24 h", self._name, created.id,
                         created.expires)
        if not created.id or not created.connectUri:
            raise UpstreamError("create channel: the answer has no id or connectUri")
        ch = Channel(created.id, created.connectUri, generation, ttl, math.inf)
        await self.resubscribe(ch, topics)
        log.info("%s: channel %s created (%d topics, lifetime %.0f s)", self._name, ch.id, len(topics), ttl)
        return ch

    async def resubscribe(self, ch: Channel, topics: list[str]) -> None:
        """``PUT`` the whole topic list (replaces the channel's topics and renews its lifetime)."""
        await self._ctx.platform.put_subscriptions(ch.id, topics)
        ch.topics = frozenset(topics)
        ch.resubscribe_at = trio.current_time() + RENEW_AT * ch.ttl_s
        self._on_renew()

    async def sync(self, ch: Channel, topics: list[str]) -> list[str]:
        """Bring ``ch`` in line with ``topics``: ``PUT`` when some were removed (it replaces), else
        ``POST`` the added ones. Returns the topics that are new to the channel."""
        had = ch.topics
        added = [t for t in topics if t not in had]
        if had - set(topics):
            await self.resubscribe(ch, topics)
        elif added:
            await self._ctx.platform.post_subscriptions(ch.id, added)
            ch.topics = had | frozenset(added)
            ch.resubscribe_at = trio.current_time() + RENEW_AT * ch.ttl_s  # POST renews the lifetime too
        log.info("%s: channel %s now carries %d topic(s) (%d added)", self._name, ch.id, len(ch.topics), len(added))
        return added
