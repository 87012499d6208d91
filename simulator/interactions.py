"""Interactions and the per-(queue, mediaType) books that hold them: the state routing works on.

A leaf of the world: the roster (agents hold an interaction), routing (moves interactions) and
observation (reads the books) all depend on it. Times are simulated epoch ms.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field

from .model import Durations


@dataclass(slots=True)
class Interaction:
    """One caller: offered to a queue, waiting, then alerting at and handled by one agent."""

    seq: int
    """Arrival order, the tie-break between interactions offered in the same millisecond."""
    conversation_id: str
    queue_id: str
    media: str
    offered_ms: int
    abandon_at_ms: int
    """When the caller's patience runs out if still waiting."""
    agent: int | None = None
    answered: bool = False
    alerted_ms: int = 0
    """When the current (or last) alert at an agent started."""
    answered_ms: int = 0
    """When an agent answered (meaningful once ``answered``)."""


@dataclass(slots=True)
class Counters:
    """The running figures of one (queue, mediaType) in the current 30-minute interval."""

    offered: int = 0
    answered: Durations = field(default_factory=Durations)
    """Wait from offer to answer, per answered interaction."""
    abandoned: Durations = field(default_factory=Durations)
    """Wait from offer to abandon, per abandoned interaction."""
    acd: Durations = field(default_factory=Durations)
    """Wait in queue of every interaction that left it (answered or abandoned)."""
    alert: Durations = field(default_factory=Durations)
    not_responding: Durations = field(default_factory=Durations)
    handle: Durations = field(default_factory=Durations)
    """Answer until the agent is done, per handled interaction."""
    sl_numerator: int = 0
    sl_denominator: int = 0


@dataclass(slots=True)
class MediaBook:
    """The waiting line (oldest offer first) and the interval counters of one (queue, mediaType)."""

    waiting: list[Interaction] = field(default_factory=list)
    interval_start_ms: int = 0
    counters: Counters = field(default_factory=Counters)


def insert_by_offer(waiting: list[Interaction], it: Interaction) -> None:
    """Insert ``it`` keeping ``waiting`` ordered by (offer time, arrival order)."""
    i = len(waiting)
    while i > 0 and (waiting[i - 1].offered_ms, waiting[i - 1].seq) > (it.offered_ms, it.seq):
        i -= 1
    waiting.insert(i, it)


def rng_uuid(rng: random.Random) -> str:
    """A version-4 UUID drawn from ``rng`` (so the same seed gives the same ids)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))
