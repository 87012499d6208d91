"""What the upstream may touch of the proxy: narrow sinks, handed down by whoever wires it.

No upstream module imports the runtime: observations go into an :class:`ObservationSink` (the
ingest pipeline implements it), health into a :class:`~proxy.upstream.status.StatusSink`, and
counts into plain callables.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from proxy.state.observation import QueueObservation
from proxy.upstream.status import StatusSink

#: What the upstream did about its platform (``queuecast_upstream_events_total{event}``).
UpstreamEvent = Literal["token_refresh", "token_refresh_failed", "token_refused", "rate_limited", "reconnect",
                        "heartbeat_timeout", "socket_replaced", "handover", "resubscribed", "backfill"]

#: What became of one Notifications frame (``queuecast_upstream_frames_total{outcome}``).
FrameOutcome = Literal["applied", "control", "invalid", "ignored", "unfollowed"]


class ObservationSink(Protocol):
    def apply(self, observations: Iterable[QueueObservation], *, live: bool = True) -> Counter[str]:
        """Apply observations that need no dedupe: WebSocket frames (``live``) or REST answers (not);
        returns the outcomes."""
        ...

    def newest_time(self, queue_id: str) -> datetime | None:
        """The newest platform time applied for ``queue_id`` (None: never seen)."""
        ...

    def platform_now(self) -> datetime:
        """The platform's "now" as best known: the wall clock, or the newest platform time applied
        when that is ahead (a sped-up simulator). Picks the current statistics interval."""
        ...

    def known_queues(self) -> list[str]:
        """Every queue on the board."""
        ...

    def remove_queue(self, queue_id: str) -> None:
        """The queue left the upstream's scope: off the board, and late events for it are dropped."""
        ...

    def follow_queue(self, queue_id: str) -> None:
        """The queue is (again) in scope: its events are applied."""
        ...


def _ignore(_: str) -> None:
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Sinks:
    observations: ObservationSink
    status: StatusSink
    #: Called once per Notifications frame with its :data:`FrameOutcome`.
    count_frame: Callable[[FrameOutcome], None] = _ignore
    #: Called when a ``Retry-After``/``inin-ratelimit-reset`` was capped (argument: the header).
    count_capped: Callable[[str], None] = _ignore
    #: Called once per platform API request (argument: the call, e.g. ``observations_query``).
    count_request: Callable[[str], None] = _ignore
    #: Called once per :data:`UpstreamEvent` (a token refreshed, a socket replaced, a 429 waited out, ...).
    count_event: Callable[[UpstreamEvent], None] = _ignore
