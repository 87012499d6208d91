"""One lane: a channel's worth of topics (≤ 1,000) and the socket(s) carrying them.

Platform rules (reference §2): a channel carries one socket (a second connection drops the first);
channels belong to the token that created them; nothing is replayed. The lane's supervisor keeps
exactly one current socket:

- start, or the current socket died (closed, error, no heartbeat/pong/event within
  ``heartbeat_timeout_s``): after a jittered backoff, reuse the channel when it still exists and
  belongs to the current token (re-``PUT`` its topics), else create one; connect; backfill;
- ``v2.system.socket_closing``: open a second socket on the same channel *before* the old one
  closes (the platform then drops the old one), backfill;
- the channel's token is due for refresh (or was revoked): hand over: new token → new channel →
  subscribe → connect → backfill → close the old socket; the old channel dies with its token, so
  at most two channels per lane exist at any moment and none leaks;
- at 80 % of the channel's lifetime: re-``PUT`` its topics (extends it by another lifetime);
- its queues changed (:meth:`Lane.add_queues`, :meth:`Lane.remove_queues`, from re-discovery):
  bring the channel's topics in line, then backfill the added queues. Frames of queues no longer
  followed are dropped.

Every channel operation runs in the supervisor task, so a topic change never races a reconnect or
handover. Signals from sockets wait in an :class:`Inbox` that never drops one (it keeps one of each
kind per socket, so it is bounded without losing a ``died``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import msgspec
import trio

from proxy.auth.backoff import Backoff
from proxy.contract import activity_topic, observation_topic
from proxy.errors import AuthError, UpstreamError
from proxy.ingest.notification import Notification
from proxy.ingest.topics import TopicFilter
from proxy.state.observation import QueueObservation
from proxy.upstream.backfill import backfill
from proxy.upstream.channels import Channel, Channels
from proxy.upstream.context import UpstreamContext
from proxy.upstream.platform import QueueDirectory
from proxy.upstream.sinks import FrameOutcome
from proxy.upstream.socket import SOCKET_ERRORS, Signal, Socket, SocketHooks, dispatch, run_socket
from proxy.upstream.status import State, reason_of

log = logging.getLogger("queuecast.upstream.notifications")

_RETRYABLE = (UpstreamError, *SOCKET_ERRORS)


class Inbox:
    """Pending signals, oldest first, one per (kind, socket): bounded, and nothing is dropped."""

    def __init__(self) -> None:
        self._pending: dict[tuple[Signal, int], Socket | None] = {}
        self._wake = trio.Event()

    def __len__(self) -> int:
        return len(self._pending)

    def put(self, kind: Signal, sock: Socket | None) -> None:
        self._pending.setdefault((kind, id(sock)), sock)
        self._wake.set()

    async def get(self) -> tuple[Signal, Socket | None]:
        while not self._pending:
            self._wake = trio.Event()
            await self._wake.wait()
        (kind, _), sock = next(iter(self._pending.items()))
        del self._pending[(kind, id(sock))]
        return kind, sock


@dataclass
class LaneStats:
    """What a lane did; ``uncovered_s`` is the time without any connected socket after the first."""

    sockets_opened: int = 0
    reconnects: int = 0
    replacements: int = 0
    handovers: int = 0
    resubscriptions: int = 0
    backfills: int = 0
    #: Topic changes applied to a live channel (queues added or removed by re-discovery).
    topic_changes: int = 0
    frames: int = 0
    heartbeats: int = 0
    heartbeat_timeouts: int = 0
    uncovered_s: float = 0.0
    connected: int = 0
    _uncovered_since: float | None = None


class Lane:
    """Run with :meth:`run`; reports its health to the status sink under its ``name``."""

    def __init__(self, ctx: UpstreamContext, *, name: str, queue_ids: list[str], directory: QueueDirectory) -> None:
        self._ctx = ctx
        self.name = name
        self.queue_ids = list(queue_ids)
        self._followed = set(self.queue_ids)
        self._directory = directory
        cfg = ctx.config
        self._backoff = Backoff(initial_s=cfg.backoff_initial_s, max_s=cfg.backoff_max_s)
        self._inbox = Inbox()
        self.stats = LaneStats()
        self._channels = Channels(ctx, name=name, on_renew=self._renewed)
        self._allowed = TopicFilter(cfg.settings.topics)
        self._nursery: trio.Nursery | None = None
        self.channel: Channel | None = None
        self.socket: Socket | None = None
        self._retry_at = -math.inf
        self._hooks = SocketHooks(signal=self._inbox.put, observation=self._observation,
                                  count_frame=ctx.sinks.count_frame, coverage=self._coverage,
                                  heartbeat=self._heartbeat)

    @property
    def topics(self) -> list[str]:
        """The topics this lane's channel must carry: each followed queue's observations topic, and
        its ``.activity`` topic when ``QC_TOPICS`` allows it."""
        return self._topics_of(self.queue_ids)

    def _topics_of(self, queue_ids: list[str]) -> list[str]:
        out = []
        for q in queue_ids:
            out.append(observation_topic(q))
            if self._allowed.allows(activity_topic(q)):
                out.append(activity_topic(q))
        return out

    def add_queues(self, queue_ids: list[str]) -> None:
        """Follow more queues (the caller keeps the lane within ``max_topics_per_channel``). The
        supervisor subscribes their topics and then backfills them; returns at once."""
        new = [q for q in queue_ids if q not in self._followed]
        self.queue_ids.extend(new)
        self._followed.update(new)
        if new:
            self._inbox.put("topics", None)

    def remove_queues(self, queue_ids: list[str]) -> None:
        """Stop following queues: their frames are dropped from now on and the supervisor unsubscribes
        their topics; returns at once (removing them from the board is the caller's business)."""
        gone = self._followed.intersection(queue_ids)
        if gone:
            self.queue_ids = [q for q in self.queue_ids if q not in gone]
            self._followed -= gone
            self._inbox.put("topics", None)

    def _report(self, state: State, exc: BaseException | None = None, detail: str = "") -> None:
        reason = "" if state == "live" else (reason_of(exc) if exc is not None else "socket")
        self._ctx.sinks.status.report(self.name, state, reason, detail or (str(exc) if exc else ""))

    # ------------------------------------------------------------------ supervisor
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self._ctx.sinks.status.report(self.name, "down", "connecting")
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            while True:
                try:
                    sock = await self._connect()
                except AuthError as exc:
                    if exc.fatal:
                        self._ctx.stop(exc)
                        return
                    await self._failed(exc)
                    continue
                except _RETRYABLE as exc:
                    await self._failed(exc)
                    continue
                self._backoff.reset()
                self._report("live")
                reason = await self._supervise(sock)
                self.stats.reconnects += 1
                self._ctx.sinks.count_event("reconnect")
                self._report("degraded", detail=f"{reason}; reconnecting")
                await trio.sleep(self._backoff.next())

    async def _failed(self, exc: Exception) -> None:
        delay = self._backoff.next()
        log.warning("%s: cannot connect (%s); retrying in %.1f s", self.name, exc, delay)
        self._report("down" if self.stats.sockets_opened == 0 else "degraded", exc)
        await trio.sleep(delay)

    async def _supervise(self, sock: Socket) -> str:
        """Keep ``sock`` (or its replacements) current; returns why the current socket died."""
        while True:
            ch = sock.channel
            token = self._ctx.tokens.current
            due = token.refresh_at if token is not None and token.generation == ch.token_generation else -math.inf
            deadline = min(ch.resubscribe_at, max(due, self._retry_at))
            if ch.topics != frozenset(self.topics):
                deadline = min(deadline, self._retry_at)  # queues changed: now, or after a failed try's backoff
            kind: Signal | None = None
            with trio.move_on_at(deadline):
                kind, which = await self._inbox.get()
                if which is not sock and kind != "topics":
                    continue  # news from a socket already replaced
            try:
                if kind == "died":
                    return "socket closed"
                if kind == "heartbeat":
                    self.stats.heartbeat_timeouts += 1
                    self._ctx.sinks.count_event("heartbeat_timeout")
                    return "no heartbeat"
                if kind == "closing":
                    sock = await self._replace(sock)
                elif kind == "revoked":
                    if token is not None and token.generation == ch.token_generation:
                        self._ctx.tokens.invalidate(token)
                    sock = await self._handover(sock)
                elif kind == "unsubscribed":
                    self._ctx.sinks.count_event("resubscribed")
                    await self._channels.resubscribe(ch, self.topics)
                    await self._backfill()
                else:  # the timer, or "topics"
                    sock = await self._on_timer(sock, due)
            except AuthError as exc:
                if exc.fatal:
                    raise
                self._retry_later(exc)
            except _RETRYABLE as exc:
                self._retry_later(exc)
            if self.socket is not None and self.socket is not sock:
                # a step switched sockets, then failed (the backfill after a replacement or a handover):
                # the new socket is the current one, whose signals count from now on; the old one goes
                self._retire(sock)
                sock = self.socket

    async def _on_timer(self, sock: Socket, due: float) -> Socket:
        ch = sock.channel
        now = trio.current_time()
        if ch.topics != frozenset(self.topics):
            await self._sync_topics(ch)
        if now >= ch.resubscribe_at:
            await self._channels.resubscribe(ch, self.topics)
        if now >= max(due, self._retry_at):
            fresh = await self._ctx.tokens.token()
            if fresh.generation != ch.token_generation:
                return await self._handover(sock)
            # refresh failed, old token still valid: try again after the manager's backoff
            self._retry_at = max(self._ctx.tokens.retry_at, now + self._backoff.next())
            self._ctx.sinks.status.report(self.name, "degraded", "token", "token refresh failing, on the old token")
        return sock

    def _retry_later(self, exc: Exception) -> None:
        self._retry_at = trio.current_time() + self._backoff.next()
        log.warning("%s: %s; keeping the current socket, retry in %.1f s", self.name, exc,
                    self._retry_at - trio.current_time())

    # ------------------------------------------------------------------ channel and socket steps
    async def _connect(self) -> Socket:
        token = await self._ctx.tokens.token()
        ch = self.channel
        if ch is not None and ch.token_generation == token.generation and await self._channels.exists(ch):
            await self._channels.resubscribe(ch, self.topics)  # reuse: no new channel while the old one lives
        else:
            ch = self.channel = await self._channels.create(self.topics)
        sock = await self._open(ch)
        self._retire(self.socket)
        self.socket = sock
        await self._backfill()
        return sock

    async def _sync_topics(self, ch: Channel) -> None:
        """Bring ``ch`` in line with the lane's queues, then backfill the queues new to the channel."""
        had = ch.topics
        queue_ids = list(self.queue_ids)
        added = set(await self._channels.sync(ch, self._topics_of(queue_ids)))
        self.stats.topic_changes += 1
        new_ids = [qid for qid in queue_ids if observation_topic(qid) in added]
        if new_ids:
            try:
                await self._backfill(new_ids)
            except BaseException:
                ch.topics = had  # out of line again: the retry re-sends (idempotent) and backfills
                raise

    async def _open(self, ch: Channel) -> Socket:
        assert self._nursery is not None
        cfg = self._ctx.config
        sock: Socket = await self._nursery.start(_socket_task, ch, self._hooks, self.name,
                                                 cfg.settings.heartbeat_timeout_s, cfg.ping_s)
        self.stats.sockets_opened += 1
        return sock

    async def _replace(self, old: Socket) -> Socket:
        """``socket_closing``: a new socket on the same channel first; the platform drops the old one."""
        new = await self._open(old.channel)
        self.socket = new
        self._retire(old)
        self.stats.replacements += 1
        self._ctx.sinks.count_event("socket_replaced")
        await self._backfill()
        return new

    async def _handover(self, old: Socket) -> Socket:
        """New token → new channel → subscribe → connect → backfill → close the old socket."""
        ch = self.channel = await self._channels.create(self.topics)
        new = await self._open(ch)
        self.socket = new
        await self._backfill()
        self._retire(old)
        self.stats.handovers += 1
        self._ctx.sinks.count_event("handover")
        self._retry_at = -math.inf
        self._report("live")
        return new

    def _retire(self, sock: Socket | None) -> None:
        if sock is not None:
            sock.cancel_scope.cancel()

    async def _backfill(self, queue_ids: list[str] | None = None) -> None:
        """Backfill ``queue_ids`` (default: every followed queue). A queue dropped while the query ran
        is removed again, so a backfill never brings a removed queue back to the board."""
        sink = self._ctx.sinks.observations
        ids = list(self.queue_ids if queue_ids is None else queue_ids)
        await backfill(self._ctx.platform, sink, ids, directory=self._directory)
        for qid in ids:
            if qid not in self._followed:
                sink.remove_queue(qid)
        self.stats.backfills += 1
        self._ctx.sinks.count_event("backfill")

    def feed(self, raw: str | bytes) -> FrameOutcome:
        """Handle one frame as if the current socket had read it; returns (and counts) its outcome.
        Total: a malformed frame is ``invalid``, never raised (tests and replays feed lanes this way)."""
        sock = self.socket or Socket(Channel("", "", 0, math.inf, math.inf))
        outcome = dispatch(sock, raw, self._hooks, name=self.name)
        self._ctx.sinks.count_frame(outcome)
        return outcome

    # ------------------------------------------------------------------ socket hooks
    def _coverage(self, delta: int) -> None:
        st = self.stats
        now = trio.current_time()
        if delta > 0 and st.connected == 0 and st._uncovered_since is not None:
            st.uncovered_s += now - st._uncovered_since
            st._uncovered_since = None
        st.connected += delta
        if st.connected == 0:
            st._uncovered_since = now

    def _renewed(self) -> None:
        self.stats.resubscriptions += 1

    def _heartbeat(self) -> None:
        self.stats.heartbeats += 1

    def _named(self, obs: QueueObservation) -> QueueObservation:
        """``obs`` with its queue's name and division from discovery (frames carry neither)."""
        name = obs.name if obs.name is not None else self._directory.names.get(obs.queue_id)
        division = obs.division if obs.division is not None else self._directory.divisions.get(obs.queue_id)
        if name == obs.name and division == obs.division:
            return obs
        return msgspec.structs.replace(obs, name=name, division=division)

    def _observation(self, note: Notification) -> FrameOutcome:
        self.stats.frames += 1
        followed = [obs for obs in note.observations if obs.queue_id in self._followed]
        if not followed:
            log.debug("%s: dropped a frame of a queue no longer followed (%s)", self.name, note.topic)
            return "unfollowed"
        self._ctx.sinks.observations.apply([self._named(obs) for obs in followed])
        return "applied"


async def _socket_task(ch: Channel, hooks: SocketHooks, name: str, heartbeat_timeout_s: float, ping_s: float,
                       *, task_status: trio.TaskStatus[Socket]) -> None:
    await run_socket(ch, hooks, name=name, heartbeat_timeout_s=heartbeat_timeout_s, ping_s=ping_s,
                     task_status=task_status)
