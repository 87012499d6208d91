"""What every upstream mode shares: its configuration, the platform client, the token manager, and
the one way to stop for good (:meth:`UpstreamContext.stop`, for a fatal ``AuthError``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import trio

from proxy.auth.token import TokenManager
from proxy.errors import AuthError, UpstreamError
from proxy.settings import DEFAULT_TOPICS, Secret, Settings
from proxy.upstream.platform import Platform

if TYPE_CHECKING:
    from proxy.runtime import Runtime

log = logging.getLogger("queuecast.upstream")

OBSERVATIONS_TOPIC = "v2.analytics.queues.{id}.observations"


@dataclass(frozen=True, slots=True)
class QueueChanges:
    """What a re-discovery found compared with the queues followed so far (ids in listing order)."""

    added: list[str]
    removed: list[str]
    #: Followed before and now, under another name.
    renamed: list[str]

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.renamed)

    @classmethod
    def between(cls, old_ids: list[str], old_names: dict[str, str], new_ids: list[str],
                new_names: dict[str, str]) -> QueueChanges:
        old, new = set(old_ids), set(new_ids)
        return cls(added=[q for q in new_ids if q not in old], removed=[q for q in old_ids if q not in new],
                   renamed=[q for q in new_ids if q in old and q in new_names and new_names[q] != old_names.get(q)])


@dataclass(frozen=True, slots=True, kw_only=True)
class UpstreamConfig:
    """The upstream's knobs. :meth:`from_settings` maps ``QC_*`` settings; the rest are tuning
    defaults (tests shorten them)."""

    #: ``backfill``: push-only (``QC_UPSTREAM=callback``) with credentials — seed and keep the queue list.
    mode: Literal["eventbus", "notifications", "backfill"]
    api_base: str
    login_base: str
    client_id: str
    client_secret: Secret
    #: Queue ids; empty = every queue the routing API lists.
    queues: tuple[str, ...] = ()
    #: Event Bus: this proxy's public base URL (the callback is ``<public_url>/api/v1/event-stream/callback``).
    public_url: str | None = None
    callback_secret: Secret | None = None
    callback_api_key: Secret | None = None
    callback_api_key_header: str = "X-Api-Key"
    topics: tuple[str, ...] = DEFAULT_TOPICS
    token_grace_s: float = 300.0
    #: A socket with no heartbeat, pong or event this long is replaced (default 75 s).
    heartbeat_timeout_s: float = 75.0
    #: ``{"message":"ping"}`` every this many seconds; default a third of the heartbeat timeout.
    ping_interval_s: float | None = None
    #: Event Bus: how often the subscription is checked (recreated if it vanished). Default 60 s.
    eventbus_check_s: float = 60.0
    eventbus_cleanup: bool = False
    #: Reconnect / retry backoff: jittered exponential from ``backoff_initial_s`` to ``backoff_max_s``.
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 60.0
    #: Per-request timeout of platform API calls (default 30 s).
    http_timeout_s: float = 30.0
    #: Requests per minute per token, client-side (the platform's default allowance is 300).
    rate_limit_per_min: int = 300
    #: Topics per channel (the platform refuses more than 1,000).
    max_topics_per_channel: int = 1000
    #: With ``queues`` empty: the routing API is asked again this often (default 300 s) for queues
    #: created (followed and backfilled) or deleted (unsubscribed and removed from the board) since;
    #: 0 = discover at start only.
    rediscover_s: float = 300.0

    @property
    def rediscovers(self) -> bool:
        """True when the followed queues come from the routing API and are re-listed periodically."""
        return not self.queues and self.rediscover_s > 0

    @property
    def ping_s(self) -> float:
        return self.ping_interval_s if self.ping_interval_s is not None else self.heartbeat_timeout_s / 3

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> UpstreamConfig:
        """Raises ``ValueError`` when the settings lack what an upstream needs (``load_settings`` checks
        this for the environment already)."""
        if settings.api_base is None or settings.login_base is None or settings.client_id is None \
                or settings.client_secret is None:
            raise ValueError("upstream needs QC_REGION (or QC_API_BASE/QC_LOGIN_BASE), QC_CLIENT_ID, QC_CLIENT_SECRET")
        mode = overrides.pop("mode", "backfill" if settings.upstream == "callback" else settings.upstream)
        if mode not in ("eventbus", "notifications", "backfill"):
            raise ValueError(f"no upstream to run in mode {mode!r}")
        config = cls(
            mode=mode, api_base=settings.api_base, login_base=settings.login_base, client_id=settings.client_id,
            client_secret=settings.client_secret, queues=settings.queues, public_url=settings.public_url,
            callback_secret=settings.callback_secret, callback_api_key=settings.callback_api_key,
            callback_api_key_header=settings.callback_api_key_header, topics=settings.topics,
            token_grace_s=settings.token_grace_s, heartbeat_timeout_s=settings.heartbeat_timeout_s,
            eventbus_cleanup=settings.eventbus_cleanup,
        )
        return replace(config, **overrides)


@dataclass(eq=False)
class UpstreamContext:
    runtime: Runtime
    config: UpstreamConfig
    platform: Platform
    tokens: TokenManager
    cancel_scope: trio.CancelScope
    fatal: AuthError | None = None
    #: The running mode object (``NotificationsUpstream``, ``EventBusUpstream`` or ``PushedUpstream``).
    component: Any = None

    def stop(self, exc: AuthError) -> None:
        """A fatal error: the upstream stops (the proxy keeps serving) and the status says why."""
        if self.fatal is None:
            self.fatal = exc
            log.error("upstream stopped: %s", exc)
            self.runtime.status.set("down", f"upstream stopped: {exc}")
        self.cancel_scope.cancel()

    async def discover(self) -> tuple[list[str], dict[str, str]]:
        """The queue ids to follow and their names (names are best effort: needs ``routing:queue:view``).

        Raises :class:`~proxy.errors.UpstreamError` when the listing fails and ``QC_QUEUES`` is empty.
        """
        names: dict[str, str] = {}
        try:
            names = {q.id: q.name for q in await self.platform.list_queues() if q.name}
            listed = list(names)
        except AuthError:
            raise
        except UpstreamError as exc:  # names are optional when the queues are configured
            if not self.config.queues:
                raise
            log.warning("queue names unavailable (%s); showing queue ids", exc)
            listed = []
        ids = list(self.config.queues) or listed
        return ids, names

    async def rediscover(self, ids: list[str], names: dict[str, str]) -> tuple[list[str], QueueChanges]:
        """List the queues again (only meaningful when :attr:`UpstreamConfig.rediscovers`): returns the
        new id list and what changed against ``ids``, and updates ``names`` *in place* (lanes share it).

        An empty listing while queues are followed raises :class:`UpstreamError` (a lost permission or
        division looks the same as deleting every queue; the board is never emptied on that evidence).
        """
        new_ids, new_names = await self.discover()
        if ids and not new_ids:
            raise UpstreamError("the routing API lists no queue any more; keeping the followed ones")
        changes = QueueChanges.between(ids, names, new_ids, new_names)
        for qid in changes.removed:
            names.pop(qid, None)
        names.update(new_names)
        return new_ids, changes
