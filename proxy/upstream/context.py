"""What every upstream mode shares: its configuration, the platform client, the token manager, the
sinks it reports into, and the one way to stop for good (:meth:`UpstreamContext.stop`, for a
fatal ``AuthError``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import trio

from proxy.auth.token import TokenManager, TokenStore
from proxy.errors import AuthError, ConfigError, UpstreamError
from proxy.settings import Secret, Settings
from proxy.upstream.platform import Platform, QueueDirectory
from proxy.upstream.sinks import Sinks
from proxy.upstream.status import State, reason_of

log = logging.getLogger("queuecast.upstream")

Mode = Literal["eventbus", "notifications", "backfill"]


@dataclass(frozen=True, slots=True)
class QueueChanges:
    """What a re-discovery found compared with the queues followed so far (ids in listing order)."""

    added: list[str]
    removed: list[str]
    #: Followed before and now, under another name or in another division.
    renamed: list[str]

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.renamed)

    @classmethod
    def between(cls, old_ids: list[str], old: QueueDirectory, new_ids: list[str], new: QueueDirectory) -> QueueChanges:
        before, after = set(old_ids), set(new_ids)
        return cls(added=[q for q in new_ids if q not in before], removed=[q for q in old_ids if q not in after],
                   renamed=[q for q in new_ids if q in before and old.changed(q, new)])


@dataclass(frozen=True, slots=True, kw_only=True)
class UpstreamConfig:
    """The upstream's knobs: the ``QC_*`` values come from :class:`Settings` (each default lives there,
    once); the rest are tuning defaults that no variable sets (tests shorten them with ``replace``).

    Raises :class:`~proxy.errors.ConfigError` when ``settings`` lack what an upstream needs
    (``load_settings`` checks this for the environment already).
    """

    #: ``backfill``: push-only (``QC_UPSTREAM=callback``) with credentials — seed and keep the queue list.
    mode: Mode
    settings: Settings
    #: ``{"message":"ping"}`` every this many seconds; default a third of the heartbeat timeout.
    ping_interval_s: float | None = None
    #: Event Bus: how often the subscription is checked (recreated if it vanished). Default 60 s.
    eventbus_check_s: float = 60.0
    #: Reconnect / retry backoff: jittered exponential from ``backoff_initial_s`` to ``backoff_max_s``.
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 60.0
    #: Per-request timeout of platform API calls (default 30 s).
    http_timeout_s: float = 30.0
    #: Requests per minute per token, client-side (the platform's default allowance is 300).
    rate_limit_per_min: int = 300
    #: Topics per channel (the platform refuses more than 1,000).
    max_topics_per_channel: int = 1000
    #: The REST refresh (``refresh.py``, every ``QC_REFRESH_S``) stays within this many requests a minute.
    refresh_budget_per_min: int = 100
    #: Where a cluster's instances share the token (the leader's runtime sets it; None: this process alone).
    token_store: TokenStore | None = None

    def __post_init__(self) -> None:
        s = self.settings
        if s.api_base is None or s.login_base is None:
            raise ConfigError("QC_REGION", "the upstream needs QC_REGION or QC_API_BASE and QC_LOGIN_BASE")
        if s.client_id is None:
            raise ConfigError("QC_CLIENT_ID", "required by the upstream")
        if s.client_secret is None:
            raise ConfigError("QC_CLIENT_SECRET", "required by the upstream (or QC_CLIENT_SECRET_FILE)")
        if self.mode == "eventbus" and s.public_url is None:
            raise ConfigError("QC_PUBLIC_URL", "required with QC_UPSTREAM=eventbus (the callback to register)")

    @classmethod
    def from_settings(cls, settings: Settings) -> UpstreamConfig:
        """The upstream ``settings`` ask for: their ``QC_UPSTREAM``, or push-only seeding (``backfill``)."""
        return cls(mode="backfill" if settings.upstream == "callback" else settings.upstream, settings=settings)

    # The settings an upstream reads, non-optional once validated.
    @property
    def api_base(self) -> str:
        return self.settings.api_base or ""

    @property
    def login_base(self) -> str:
        return self.settings.login_base or ""

    @property
    def client_id(self) -> str:
        return self.settings.client_id or ""

    @property
    def client_secret(self) -> Secret:
        assert self.settings.client_secret is not None  # checked in __post_init__
        return self.settings.client_secret

    @property
    def rediscover_s(self) -> float:
        """With ``QC_QUEUES`` empty, the routing API is asked again this often (``QC_REDISCOVER_S``) for
        queues created (followed and backfilled) or deleted (unsubscribed, removed from the board) since;
        0 = discover at start only."""
        return self.settings.rediscover_s

    @property
    def rediscovers(self) -> bool:
        """True when the followed queues come from the routing API and are re-listed periodically."""
        return not self.settings.queues and self.rediscover_s > 0

    @property
    def ping_s(self) -> float:
        return self.ping_interval_s if self.ping_interval_s is not None else self.settings.heartbeat_timeout_s / 3


@dataclass(eq=False)
class UpstreamContext:
    sinks: Sinks
    config: UpstreamConfig
    platform: Platform
    tokens: TokenManager
    cancel_scope: trio.CancelScope
    fatal: AuthError | None = None
    #: The running mode object (``NotificationsUpstream``, ``EventBusUpstream`` or ``PushedUpstream``).
    component: Any = None

    def stop(self, exc: AuthError) -> None:
        """A fatal error: the upstream stops (the proxy keeps serving) and the status says why: ``down``
        when the upstream was the data source, ``degraded`` in push-only mode (deliveries still arrive)."""
        if self.fatal is None:
            self.fatal = exc
            log.error("upstream stopped: %s", exc)
            state: State = "degraded" if self.config.mode == "backfill" else "down"
            self.sinks.status.report("upstream", state, reason_of(exc), f"upstream stopped: {exc}")
        self.cancel_scope.cancel()

    async def discover(self) -> tuple[list[str], QueueDirectory]:
        """The queue ids to follow, their names and their divisions' names (best effort: needs
        ``routing:queue:view``; a queue listed without a division has none in ``divisions``).

        Raises :class:`~proxy.errors.UpstreamError` when the listing fails and ``QC_QUEUES`` is empty.
        """
        configured = self.config.settings.queues
        directory = QueueDirectory()
        try:
            queues = [q for q in await self.platform.list_queues() if q.name]
            directory = QueueDirectory(
                {q.id: q.name for q in queues},
                {q.id: q.division.name for q in queues if q.division is not None and q.division.name})
            listed = list(directory.names)
        except AuthError:
            raise
        except UpstreamError as exc:  # names are optional when the queues are configured
            if not configured:
                raise
            log.warning("queue names unavailable (%s); showing queue ids", exc)
            listed = []
        ids = list(configured) or listed
        return ids, directory

    async def rediscover(self, ids: list[str], directory: QueueDirectory) -> tuple[list[str], QueueChanges]:
        """List the queues again (only meaningful when :attr:`UpstreamConfig.rediscovers`): returns the
        new id list and what changed against ``ids``, and updates ``directory`` *in place* (lanes share it).

        An empty listing while queues are followed raises :class:`UpstreamError` (a lost permission or
        division looks the same as deleting every queue; the board is never emptied on that evidence).
        """
        new_ids, found = await self.discover()
        if ids and not new_ids:
            raise UpstreamError("the routing API lists no queue any more; keeping the followed ones")
        changes = QueueChanges.between(ids, directory, new_ids, found)
        directory.merge(found, removed=changes.removed)
        return new_ids, changes
