"""The simulator's state and background loops, apart from HTTP: world, tokens, limits, transports.

``Engine.run`` owns the world loop and the transports' loops; the HTTP layer (``app.py``) only
translates requests into calls on this object.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import httpx
import trio

from .eventbus import EventBus
from .model import QueueChange, QueueInfo
from .notifications import Notifications
from .oauth import Token, TokenProblem, TokenStore
from .ratelimit import RateLimiter, Verdict
from .settings import SimSettings
from .stats import Faults, Stats
from .stream import ObservationStream
from .world import World


@dataclass(frozen=True, slots=True)
class Denied:
    """Why a Platform API call is refused: HTTP status, error code, message, extra headers."""

    status: int
    code: str
    message: str
    headers: dict[str, str]


def wall_ms() -> int:
    return int(time.time() * 1000)


class Engine:
    """Everything the simulator is; one per ``serve()``."""

    def __init__(self, settings: SimSettings, *, http: httpx.AsyncClient) -> None:
        self.settings = settings
        start = settings.start_at_ms if settings.start_at_ms is not None else wall_ms()
        self.world = World(
            seed=settings.seed,
            queues=settings.queues,
            agents=settings.agents,
            start_ms=start,
            arrivals_per_min=settings.arrivals_per_min,
        )
        self.stats = Stats()
        self.faults = Faults()
        self.fault_rng = random.Random(settings.seed ^ 0x5EED)
        self.tokens = TokenStore(ttl_s=settings.token_ttl_s)
        self.limiter = RateLimiter(limit=settings.rate_limit_per_min, window_s=settings.rate_limit_window_s)
        self._queue_ids = queue_ids = set(self.world.queue_by_id)  # shared with the transports' topic checks
        self.eventbus = EventBus(
            settings=settings, stats=self.stats, faults=self.faults, queue_ids=queue_ids, http=http, rng=self.fault_rng
        )
        self.notifications = Notifications(
            settings=settings,
            stats=self.stats,
            faults=self.faults,
            tokens=self.tokens,
            queue_ids=queue_ids,
            wall_ms=wall_ms,
            rng=self.fault_rng,
        )
        self.stream = ObservationStream.from_settings(settings)
        self.paused = False

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the transports and the world loop until cancelled."""
        async with trio.open_nursery() as nursery:
            await nursery.start(self.eventbus.run)
            await nursery.start(self.notifications.run)
            self.publish(self.world.step(0))
            nursery.start_soon(self._world_loop)
            task_status.started()

    async def _world_loop(self) -> None:
        dt = self.settings.tick_s * self.settings.speed
        while True:
            await trio.sleep(self.settings.tick_s)
            if not self.paused:
                self.publish(self.world.step(dt))

    def publish(self, changes: list[QueueChange]) -> None:
        """Hand a step's changes, as observation messages in the configured shape, to every
        transport (never waits). While paused, pending interval figures go out with them."""
        messages = self.stream.messages(changes, self.world.now_ms)
        if self.paused:
            messages += self.stream.flush(self.world.now_ms)
        if not changes and not messages:
            return
        self.stats.world_changes += len(changes)
        self.eventbus.publish(changes, messages)
        self.notifications.publish(messages + self.stream.activity_messages(changes))

    def pause(self) -> None:
        """Stop the world; interval figures still waiting for their turn go out now (world time
        stands still, so their wait would never end)."""
        self.paused = True
        messages = self.stream.flush(self.world.now_ms)
        if messages:
            self.eventbus.publish([], messages)
            self.notifications.publish(messages)

    def resume(self) -> None:
        self.paused = False

    def advance(self, seconds: float) -> None:
        """Step the world by ``seconds`` simulated seconds now (also while paused)."""
        self.publish(self.world.step(seconds))

    def add_queue(self, name: str) -> QueueInfo:
        """Create a queue (``World.add_queue``); its topics become subscribable and its initial state is
        published now (also while paused). Raises ``ValueError`` for a bad or duplicate name."""
        q = self.world.add_queue(name)
        self._queue_ids.add(q.queue_id)
        self.publish(self.world.step(0))
        return q

    def remove_queue(self, queue_id: str) -> bool:
        """Delete a queue (``World.remove_queue``): it leaves the routing API, the analytics and the
        truth, and its topics emit nothing more (existing subscriptions keep the topic name, new ones
        are refused). False when unknown."""
        if not self.world.remove_queue(queue_id):
            return False
        self._queue_ids.discard(queue_id)
        self.stream.forget(queue_id)
        self.publish(self.world.step(0))  # members' counts changed on the queues they remain in
        return True

    def authorize(self, authorization: str | None, bearer: str | None) -> tuple[Token, Verdict] | Denied:
        """Check a Platform API call: token (401), rate limit (429), injected platform errors (503)."""
        self.stats.api_requests += 1
        checked = self.tokens.check(bearer)
        if isinstance(checked, TokenProblem):
            self.stats.responses_401 += 1
            return Denied(401, "bad.credentials", "Invalid login credentials.", {})
        verdict = self.limiter.hit(checked.value)
        if not verdict.allowed:
            self.stats.responses_429 += 1
            return Denied(
                429,
                "too.many.requests.retry.after",
                f"Rate limit exceeded the maximum. Retry the request in [{verdict.reset_s}] seconds",
                verdict.headers(),
            )
        if self.faults.roll(self.fault_rng, self.faults.platform_error_probability):
            self.stats.responses_5xx_injected += 1
            return Denied(
                503,
                "service.unavailable",
                "The service is currently unavailable.",
                {**verdict.headers(), "Retry-After": "1"},
            )
        return checked, verdict
