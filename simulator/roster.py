"""The roster: queues, agents and which queues each agent is a member of.

Queue ids come from the world's seeded ``random.Random``; names from a Faker seeded with the same
seed; divisions (two: the org's ``Home`` and one more, their ids and the first queue's one chosen by
the seed, then alternating) from a ``random.Random`` of their own, so they draw nothing from the
world's. Routing moves agents between statuses; the roster only knows who exists and who belongs where.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from faker import Faker

from .interactions import Interaction, rng_uuid
from .model import MEDIA_TYPES, ROUTING_STATUSES, AgentCounts, Division, QueueInfo

_DEPARTMENTS: Final = (
    "Billing",
    "Sales",
    "Claims",
    "Returns",
    "Onboarding",
    "Technical",
    "Premium",
    "Renewals",
    "Accounts",
    "Shipping",
    "Loyalty",
    "Fraud",
    "Payments",
    "Retention",
    "Warranty",
    "Bookings",
)
_SUFFIXES: Final = ("Support", "Care", "Desk", "Line", "Team")
_SECOND_DIVISIONS: Final = ("Outsourced", "EMEA", "Americas", "Partners")


def _divisions(seed: int) -> tuple[tuple[Division, ...], int]:
    """The tenant's two divisions and the index of the first queue's, from ``seed`` alone."""
    rng = random.Random(f"divisions:{seed}")
    home = Division(rng_uuid(rng), "Home")
    other = Division(rng_uuid(rng), rng.choice(_SECOND_DIVISIONS))
    return (home, other), rng.randrange(2)


@dataclass(slots=True)
class Agent:
    index: int
    queues: tuple[str, ...]
    status: str
    """One of ``ROUTING_STATUSES``."""
    until_ms: int | None = None
    """When the current timed state (alerting, handling, break, not responding) ends."""
    interaction: Interaction | None = None
    idle_since_ms: int = 0


class Roster:
    """Queues and agents. Draws from ``rng`` only while building and adding queues."""

    def __init__(self, *, rng: random.Random, seed: int, queues: int, agents: int, now_ms: int) -> None:
        self._rng = rng
        self.divisions, self._division_offset = _divisions(seed)
        self.queues: tuple[QueueInfo, ...] = self._make_queues(seed, queues)
        self.queue_by_id = {q.queue_id: q for q in self.queues}
        self.agents = self._make_agents(agents, now_ms)

    def _new_queue(self, name: str, index: int) -> QueueInfo:
        return QueueInfo(
            queue_id=rng_uuid(self._rng),
            name=name,
            media=MEDIA_TYPES,
            sl_target=self._rng.choice((0.7, 0.8, 0.9)),
            sl_threshold_ms=self._rng.choice((20_000, 30_000)),
            division=self.divisions[(index + self._division_offset) % len(self.divisions)],
        )

    def _make_queues(self, seed: int, count: int) -> tuple[QueueInfo, ...]:
        fake = Faker()
        fake.seed_instance(seed)
        departments = list(_DEPARTMENTS)
        fake.random.shuffle(departments)
        names: list[str] = []
        for i in range(count):
            base = departments[i] if i < len(departments) else fake.last_name()
            name = f"{base} {fake.random_element(_SUFFIXES)}"
            while name in names:
                name = f"{name} {len(names)}"
            names.append(name)
        return tuple(self._new_queue(name, i) for i, name in enumerate(names))

    def _make_agents(self, count: int, now_ms: int) -> list[Agent]:
        agents = []
        ids = [q.queue_id for q in self.queues]
        for i in range(count):
            member = [ids[i % len(ids)]]
            if len(ids) > 1 and self._rng.random() < 0.4:
                other = self._rng.choice(ids)
                if other not in member:
                    member.append(other)
            status = "OFF_QUEUE" if self._rng.random() < 0.1 else "IDLE"
            agents.append(Agent(index=i, queues=tuple(member), status=status, idle_since_ms=now_ms))
        return agents

    def add_queue(self, name: str) -> QueueInfo:
        """Create a queue named ``name`` (every media type, no members). Raises ``ValueError`` for an
        empty name or one already in use."""
        if not name.strip():
            raise ValueError("name: a non-empty string is required")
        if any(q.name == name for q in self.queues):
            raise ValueError(f"name: a queue named {name!r} exists")
        q = self._new_queue(name, len(self.queues))
        self.queues = (*self.queues, q)
        self.queue_by_id[q.queue_id] = q
        return q

    def remove_queue(self, queue_id: str, *, now_ms: int) -> QueueInfo | None:
        """Delete a queue: its members leave it, and an agent alerting or handling one of its
        interactions is idle again from ``now_ms``. Returns the queue, None when unknown."""
        q = self.queue_by_id.pop(queue_id, None)
        if q is None:
            return None
        self.queues = tuple(x for x in self.queues if x.queue_id != queue_id)
        for agent in self.agents:
            agent.queues = tuple(x for x in agent.queues if x != queue_id)
            if agent.interaction is not None and agent.interaction.queue_id == queue_id:
                agent.interaction = None
                agent.status = "IDLE"
                agent.until_ms = None
                agent.idle_since_ms = now_ms
        return q

    def agent_counts(self, queue_id: str) -> AgentCounts:
        """Routing-status counts of the queue's members, all five statuses."""
        counts = dict.fromkeys(ROUTING_STATUSES, 0)
        for a in self.agents:
            if queue_id in a.queues:
                counts[a.status] += 1
        return tuple(counts.items())
