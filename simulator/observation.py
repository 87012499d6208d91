"""Observation: the world's state as values, and what changed since the last look (``QueueChange``s).

``Observer.diff`` remembers the last emitted state of every (queue, mediaType) and every queue's
routing-status counts, and reports only what differs. ``observedAt`` strictly increases per queue:
a change in the same millisecond as the previous one is bumped by 1 ms.
"""

from __future__ import annotations

import uuid

from .interactions import Counters, MediaBook
from .model import (
    INTERVAL_MS,
    AgentCounts,
    HeldDetail,
    IntervalStats,
    MediaState,
    MemberDetail,
    QueueChange,
    QueueInfo,
    WaitingDetail,
)
from .roster import Agent, Roster


def media_state(q: QueueInfo, media: str, book: MediaBook, agents: list[Agent]) -> MediaState:
    """Absolute values of one (queue, mediaType) from its book and the agents holding its interactions."""
    alerting = interacting = 0
    for a in agents:
        it = a.interaction
        if it is not None and it.queue_id == q.queue_id and it.media == media:
            if it.answered:
                interacting += 1
            else:
                alerting += 1
    return MediaState(
        waiting=len(book.waiting),
        interacting=interacting,
        alerting=alerting,
        longest_waiting_ms=book.waiting[0].offered_ms if book.waiting else None,
        interval=interval_stats(q, book.interval_start_ms, book.counters),
    )


def interval_stats(q: QueueInfo, start_ms: int, c: Counters) -> IntervalStats:
    """The figures of the interval starting at ``start_ms`` from its counters."""
    return IntervalStats(
        start_ms=start_ms,
        end_ms=start_ms + INTERVAL_MS,
        offered=c.offered,
        t_answered=c.answered,
        t_abandon=c.abandoned,
        t_acd=c.acd,
        t_alert=c.alert,
        t_not_responding=c.not_responding,
        t_handle=c.handle,
        sl_numerator=c.sl_numerator,
        sl_denominator=c.sl_denominator,
        sl_target=q.sl_target,
    )


def waiting_details(book: MediaBook) -> list[WaitingDetail]:
    """The waiting interactions of one book, oldest first."""
    return [WaitingDetail(it.conversation_id, it.offered_ms) for it in book.waiting]


def user_id(seed: int, index: int) -> str:
    """A stable user id for agent ``index`` of a world (derived, not drawn: the world's draws stay as they were)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"queuecast-simulator/{seed}/agents/{index}"))


def held_details(queue_id: str, media: str, agents: list[Agent], *, seed: int) -> list[HeldDetail]:
    """Interactions of (queue, media) held by agents, ordered by when their current state began."""
    out = []
    for a in agents:
        it = a.interaction
        if it is not None and it.queue_id == queue_id and it.media == media:
            since = it.answered_ms if it.answered else it.alerted_ms
            out.append(HeldDetail(it.conversation_id, user_id(seed, a.index), it.answered, since))
    return sorted(out, key=lambda d: d.since_ms)


def member_details(queue_id: str, agents: list[Agent], *, seed: int) -> list[MemberDetail]:
    """The members of a queue and their routing statuses."""
    return [MemberDetail(user_id(seed, a.index), a.status) for a in agents if queue_id in a.queues]


class Observer:
    """The last emitted state, per (queue, mediaType) and per queue; turns the present into changes."""

    def __init__(self) -> None:
        self._last_media: dict[tuple[str, str], MediaState] = {}
        self._last_agents: dict[str, AgentCounts] = {}
        self._last_observed: dict[str, int] = {}

    def last_observed_ms(self, queue_id: str) -> int | None:
        """``observedAt`` of the newest change emitted for the queue, None before the first."""
        return self._last_observed.get(queue_id)

    def forget(self, q: QueueInfo) -> None:
        """Drop everything remembered about a deleted queue."""
        for m in q.media:
            self._last_media.pop((q.queue_id, m), None)
        self._last_agents.pop(q.queue_id, None)
        self._last_observed.pop(q.queue_id, None)

    def diff(
        self,
        now_ms: int,
        roster: Roster,
        books: dict[tuple[str, str], MediaBook],
        closed: dict[tuple[str, str], tuple[int, Counters]],
    ) -> list[QueueChange]:
        """One ``QueueChange`` per queue whose media values or routing-status counts changed since
        the last call (every queue on the first call), observed at ``now_ms`` or just after.
        Takes (and empties) ``closed``, the final counters of intervals that ended meanwhile."""
        changes = []
        for q in roster.queues:
            media = {m: media_state(q, m, books[(q.queue_id, m)], roster.agents) for m in q.media}
            changed = tuple(m for m in q.media if self._last_media.get((q.queue_id, m)) != media[m])
            agents = roster.agent_counts(q.queue_id)
            agents_before = self._last_agents.get(q.queue_id)
            agents_changed = agents_before != agents
            ended = {m: closed.pop((q.queue_id, m)) for m in q.media if (q.queue_id, m) in closed}
            if not changed and not agents_changed:
                continue
            last = self._last_observed.get(q.queue_id)
            observed = now_ms if last is None else max(now_ms, last + 1)
            self._last_observed[q.queue_id] = observed
            before = {m: self._last_media.get((q.queue_id, m)) for m in changed}
            for m in changed:
                self._last_media[(q.queue_id, m)] = media[m]
            self._last_agents[q.queue_id] = agents
            changes.append(
                QueueChange(
                    q,
                    observed,
                    media,
                    changed,
                    agents,
                    agents_changed,
                    before=before,
                    agents_before=agents_before,
                    closed={m: interval_stats(q, start, c) for m, (start, c) in ended.items()},
                )
            )
        closed.clear()
        return changes
