"""Notifications mode: channels, WebSockets, heartbeats, re-subscription and token handover.

Platform rules (reference §2): a channel is created with ``POST /notifications/channels`` and lives
24 h unless its topics are re-``PUT``; it carries at most 1,000 topics and one socket (a second
connection drops the first); at most 20 channels per app, the 21st evicts the oldest idle one;
channels belong to the token that created them; nothing is replayed.

One :class:`Lane` per ≤ 1,000 topics. Its supervisor keeps exactly one current socket:

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
  ``POST`` the added topics (or ``PUT`` the whole list when some were removed), then backfill the
  added queues. Frames of queues no longer followed are dropped.

Every channel operation runs in the lane's supervisor task, so a topic change never races a
reconnect or handover: each channel records the topics it was given, and the supervisor brings it
in line with the lane's current topics.

Frames are translated by :mod:`proxy.ingest.adapter` and applied with the ingestor; heartbeats and
pongs only feed the watchdog.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import msgspec
import trio
from trio_websocket import (
    ConnectionClosed,
    ConnectionTimeout,
    DisconnectionTimeout,
    HandshakeError,
    WebSocketConnection,
    open_websocket_url,
)

from proxy.auth.backoff import Backoff
from proxy.errors import AuthError, InvalidInput, UpstreamError
from proxy.ingest.adapter import from_observations
from proxy.ingest.wire import NotificationFrame, ObservationsBody
from proxy.timefmt import parse_iso, utcnow
from proxy.upstream.backfill import backfill
from proxy.upstream.context import OBSERVATIONS_TOPIC, UpstreamContext

log = logging.getLogger("queuecast.upstream.notifications")

_SOCKET_ERRORS = (OSError, HandshakeError, ConnectionTimeout, DisconnectionTimeout, ConnectionClosed,
                  trio.BrokenResourceError)
_RETRYABLE = (UpstreamError, *_SOCKET_ERRORS)
_frame_decoder = msgspec.json.Decoder(NotificationFrame)
_PING = '{"message":"ping"}'
#: A channel whose answer has no ``expires`` is assumed to live this long (the platform's 24 h).
DEFAULT_CHANNEL_TTL_S = 86400.0


def observation_topics(queue_ids: list[str]) -> list[str]:
    return [OBSERVATIONS_TOPIC.replace("{id}", qid) for qid in queue_ids]


@dataclass(eq=False)
class _Channel:
    id: str
    connect_uri: str
    token_generation: int
    ttl_s: float
    resubscribe_at: float
    #: The topics the platform holds for this channel (after the last successful PUT/POST).
    topics: frozenset[str] = frozenset()


@dataclass(eq=False)
class _Socket:
    channel: _Channel
    cancel_scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    ws: WebSocketConnection | None = None


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
    """One channel's worth of topics and the socket(s) carrying them. Run with :meth:`run`."""

    def __init__(self, ctx: UpstreamContext, *, name: str, queue_ids: list[str], names: dict[str, str],
                 on_state: Callable[[Lane, str], None]) -> None:
        self._ctx = ctx
        self.name = name
        self.queue_ids = list(queue_ids)
        self._followed = set(self.queue_ids)
        self._names = names
        self._on_state = on_state
        cfg = ctx.config
        self._backoff = Backoff(initial_s=cfg.backoff_initial_s, max_s=cfg.backoff_max_s)
        self._events_send, self._events = trio.open_memory_channel[tuple[str, _Socket | None]](64)
        self._nursery: trio.Nursery | None = None
        self.channel: _Channel | None = None
        self.socket: _Socket | None = None
        self.stats = LaneStats()
        self.state = "down"
        self.detail = "connecting"
        self._retry_at = -math.inf

    @property
    def topics(self) -> list[str]:
        """The topics this lane's channel must carry (one per followed queue)."""
        return observation_topics(self.queue_ids)

    def add_queues(self, queue_ids: list[str]) -> None:
        """Follow more queues (the caller keeps the lane within ``max_topics_per_channel``). The
        supervisor subscribes their topics and then backfills them; returns at once."""
        new = [q for q in queue_ids if q not in self._followed]
        self.queue_ids.extend(new)
        self._followed.update(new)
        if new:
            self._report("topics", self.socket)

    def remove_queues(self, queue_ids: list[str]) -> None:
        """Stop following queues: their frames are dropped from now on and the supervisor unsubscribes
        their topics; returns at once (removing them from the board is the caller's business)."""
        gone = self._followed.intersection(queue_ids)
        if gone:
            self.queue_ids = [q for q in self.queue_ids if q not in gone]
            self._followed -= gone
            self._report("topics", self.socket)

    def _set_state(self, state: str, detail: str) -> None:
        self.state, self.detail = state, detail
        self._on_state(self, state)

    # ------------------------------------------------------------------ supervisor
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
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
                self._set_state("live", "")
                reason = await self._supervise(sock)
                self.stats.reconnects += 1
                self._set_state("degraded", f"{self.name}: {reason}; reconnecting")
                await trio.sleep(self._backoff.next())

    async def _failed(self, exc: Exception) -> None:
        delay = self._backoff.next()
        log.warning("%s: cannot connect (%s); retrying in %.1f s", self.name, exc, delay)
        self._set_state("down" if self.stats.sockets_opened == 0 else "degraded", f"{self.name}: {exc}")
        await trio.sleep(delay)

    async def _supervise(self, sock: _Socket) -> str:
        """Keep ``sock`` (or its replacements) current; returns why the current socket died."""
        while True:
            ch = sock.channel
            token = self._ctx.tokens.current
            due = token.refresh_at if token is not None and token.generation == ch.token_generation else -math.inf
            deadline = min(ch.resubscribe_at, max(due, self._retry_at))
            if ch.topics != frozenset(self.topics):
                deadline = min(deadline, self._retry_at)  # queues changed: now, or after a failed try's backoff
            kind = "timer"
            with trio.move_on_at(deadline):
                kind, which = await self._events.receive()
                if which is not sock and kind != "topics":
                    continue  # news from a socket already replaced
            try:
                if kind == "died":
                    return "socket closed"
                if kind == "heartbeat":
                    return "no heartbeat"
                if kind == "closing":
                    sock = await self._replace(sock)
                elif kind == "revoked":
                    if token is not None and token.generation == ch.token_generation:
                        self._ctx.tokens.invalidate(token)
                    sock = await self._handover(sock)
                elif kind == "unsubscribed":
                    await self._resubscribe(ch)
                    await self._backfill()
                else:  # "timer" or "topics"
                    now = trio.current_time()
                    if ch.topics != frozenset(self.topics):
                        await self._sync_topics(ch)
                    if now >= ch.resubscribe_at:
                        await self._resubscribe(ch)
                    if now >= max(due, self._retry_at):
                        fresh = await self._ctx.tokens.token()
                        if fresh.generation != ch.token_generation:
                            sock = await self._handover(sock)
                        else:  # refresh failed, old token still valid: try again after the manager's backoff
                            self._retry_at = max(self._ctx.tokens.retry_at, now + self._backoff.next())
                            self._set_state("degraded", f"{self.name}: token refresh failing, on the old token")
            except AuthError as exc:
                if exc.fatal:
                    raise
                self._retry_at = trio.current_time() + self._backoff.next()
                log.warning("%s: %s; keeping the current socket, retry in %.1f s", self.name, exc,
                            self._retry_at - trio.current_time())
            except _RETRYABLE as exc:
                self._retry_at = trio.current_time() + self._backoff.next()
                log.warning("%s: %s; keeping the current socket, retry in %.1f s", self.name, exc,
                            self._retry_at - trio.current_time())

    # ------------------------------------------------------------------ channel and socket steps
    async def _connect(self) -> _Socket:
        token = await self._ctx.tokens.token()
        ch = self.channel
        platform = self._ctx.platform
        if ch is not None and ch.token_generation == token.generation and await platform.channel_exists(ch.id):
            await self._resubscribe(ch)  # reuse: no new channel while the old one lives
        else:
            ch = await self._new_channel()
        sock = await self._open(ch)
        self._retire(self.socket)
        self.socket = sock
        await self._backfill()
        return sock

    async def _new_channel(self) -> _Channel:
        platform = self._ctx.platform
        created = await platform.create_channel()
        token = self._ctx.tokens.current
        generation = token.generation if token is not None else 0
        ttl = DEFAULT_CHANNEL_TTL_S
        if created.expires:
            try:
                ttl = max(1.0, (parse_iso(created.expires) - utcnow()).total_seconds())
            except ValueError:
                pass
        ch = _Channel(created.id, created.connectUri, generation, ttl, math.inf)
        await self._resubscribe(ch)
        self.channel = ch
        log.info("%s: channel %s created (%d topics, lifetime %.0f s)", self.name, ch.id, len(self.topics), ttl)
        return ch

    async def _resubscribe(self, ch: _Channel) -> None:
        topics = self.topics
        await self._ctx.platform.put_subscriptions(ch.id, topics)
        ch.topics = frozenset(topics)
        ch.resubscribe_at = trio.current_time() + 0.8 * ch.ttl_s
        self.stats.resubscriptions += 1

    async def _sync_topics(self, ch: _Channel) -> None:
        """Bring ``ch`` in line with the lane's queues: ``PUT`` when topics were removed (it replaces),
        else ``POST`` the added ones; then backfill the queues whose topics are new to the channel."""
        had = ch.topics
        queue_ids = list(self.queue_ids)
        topics = observation_topics(queue_ids)
        added = [t for t in topics if t not in had]
        if had - set(topics):
            await self._resubscribe(ch)
        elif added:
            await self._ctx.platform.post_subscriptions(ch.id, added)
            ch.topics = had | frozenset(added)
            ch.resubscribe_at = trio.current_time() + 0.8 * ch.ttl_s  # POST renews the lifetime too
        self.stats.topic_changes += 1
        log.info("%s: channel %s now carries %d topic(s) (%d added)", self.name, ch.id, len(ch.topics), len(added))
        new_ids = [qid for qid, topic in zip(queue_ids, topics, strict=True) if topic not in had]
        if new_ids:
            try:
                await self._backfill(new_ids)
            except BaseException:
                ch.topics = had  # out of line again: the retry re-sends (idempotent) and backfills
                raise

    async def _open(self, ch: _Channel) -> _Socket:
        assert self._nursery is not None
        sock: _Socket = await self._nursery.start(self._socket_task, ch)
        self.stats.sockets_opened += 1
        return sock

    async def _replace(self, old: _Socket) -> _Socket:
        """``socket_closing``: a new socket on the same channel first; the platform drops the old one."""
        new = await self._open(old.channel)
        self.socket = new
        self._retire(old)
        self.stats.replacements += 1
        await self._backfill()
        return new

    async def _handover(self, old: _Socket) -> _Socket:
        """New token → new channel → subscribe → connect → backfill → close the old socket."""
        ch = await self._new_channel()
        new = await self._open(ch)
        self.socket = new
        await self._backfill()
        self._retire(old)
        self.stats.handovers += 1
        self._retry_at = -math.inf
        self._set_state("live", "")
        return new

    def _retire(self, sock: _Socket | None) -> None:
        if sock is not None:
            sock.cancel_scope.cancel()

    async def _backfill(self, queue_ids: list[str] | None = None) -> None:
        """Backfill ``queue_ids`` (default: every followed queue). A queue dropped while the query ran
        is removed again, so a backfill never brings a removed queue back to the board."""
        rt = self._ctx.runtime
        ids = list(self.queue_ids if queue_ids is None else queue_ids)
        await backfill(self._ctx.platform, rt.ingestor, rt.reducer, ids, names=self._names)
        for qid in ids:
            if qid not in self._followed:
                rt.ingestor.remove_queue(qid)
        self.stats.backfills += 1

    # ------------------------------------------------------------------ one socket
    def _coverage(self, delta: int) -> None:
        st = self.stats
        now = trio.current_time()
        if delta > 0 and st.connected == 0 and st._uncovered_since is not None:
            st.uncovered_s += now - st._uncovered_since
            st._uncovered_since = None
        st.connected += delta
        if st.connected == 0:
            st._uncovered_since = now

    def _report(self, kind: str, sock: _Socket | None) -> None:
        try:
            self._events_send.send_nowait((kind, sock))
        except trio.WouldBlock:  # the supervisor is busy; it only needs the newest news
            log.debug("%s: event %s dropped (supervisor busy)", self.name, kind)

    async def _socket_task(self, ch: _Channel, *, task_status: trio.TaskStatus[_Socket]) -> None:
        sock = _Socket(ch)
        reason = "died"
        with sock.cancel_scope:
            try:
                async with open_websocket_url(ch.connect_uri, connect_timeout=10,
                                              disconnect_timeout=2) as ws:
                    sock.ws = ws
                    self._coverage(+1)
                    try:
                        task_status.started(sock)
                        async with trio.open_nursery() as nursery:
                            nursery.start_soon(self._pinger, ws)
                            reason = await self._reader(sock, ws)
                            nursery.cancel_scope.cancel()
                    finally:
                        self._coverage(-1)
            except _SOCKET_ERRORS as exc:
                if sock.ws is None:
                    raise  # not connected: the caller of nursery.start handles it
                log.info("%s: socket closed (%s)", self.name, type(exc).__name__)
            self._report(reason, sock)

    async def _pinger(self, ws: WebSocketConnection) -> None:
        while True:
            await trio.sleep(self._ctx.config.ping_s)
            try:
                await ws.send_message(_PING)
            except ConnectionClosed:
                return  # the reader notices the close too

    async def _reader(self, sock: _Socket, ws: WebSocketConnection) -> str:
        timeout = self._ctx.config.heartbeat_timeout_s
        while True:
            with trio.move_on_after(timeout):
                try:
                    raw = await ws.get_message()
                except ConnectionClosed:
                    return "died"
                self._frame(sock, raw)
                continue
            self.stats.heartbeat_timeouts += 1
            log.warning("%s: nothing heard for %.1f s; replacing the socket", self.name, timeout)
            return "heartbeat"

    def _frame(self, sock: _Socket, raw: str | bytes) -> None:
        try:
            frame = _frame_decoder.decode(raw)
        except msgspec.DecodeError:
            log.debug("%s: ignored a frame that is not a notification", self.name)
            return
        topic = frame.topicName
        if topic == "channel.metadata":
            self.stats.heartbeats += 1
        elif topic == "v2.system.socket_closing":
            log.info("%s: socket_closing received; opening the replacement", self.name)
            self._report("closing", sock)
        elif topic.startswith("v2.system.token_revoked"):
            self._report("revoked", sock)
        elif topic.startswith("v2.system.no_longer_subscribed"):
            self._report("unsubscribed", sock)
        elif topic.startswith("v2.analytics.queues.") and topic.endswith(".observations"):
            self.stats.frames += 1
            self._observation(frame)
        else:
            log.debug("%s: ignored topic %s", self.name, topic)

    def _observation(self, frame: NotificationFrame) -> None:
        received: datetime = utcnow()
        try:
            body = msgspec.convert(frame.eventBody, ObservationsBody)
            obs = from_observations(body, fallback_time=received, path="eventBody")
        except (msgspec.ValidationError, InvalidInput) as exc:
            log.warning("%s: dropped a malformed %s frame: %s", self.name, frame.topicName, exc)
            return
        if obs.queue_id not in self._followed:
            log.debug("%s: dropped a frame of queue %s (no longer followed)", self.name, obs.queue_id)
            return
        name = self._names.get(obs.queue_id)
        if name is not None and obs.name is None:  # frames carry no names; the routing API does
            obs = msgspec.structs.replace(obs, name=name)
        self._ctx.runtime.ingestor.ingest_observations([obs])


class NotificationsUpstream:
    """Discovers the queues, splits their topics into lanes and runs the lanes; aggregates their state.

    With ``QC_QUEUES`` empty (:attr:`UpstreamConfig.rediscovers`) the routing API is asked again every
    ``rediscover_s``: new queues join a lane with room (else a new lane), deleted ones leave their
    lane and the board (``ingestor.remove_queue``), renamed ones are backfilled under the new name.
    A failed re-discovery changes nothing and is retried at the next period.
    """

    def __init__(self, ctx: UpstreamContext) -> None:
        self._ctx = ctx
        self.lanes: list[Lane] = []
        #: The followed queues and their names (the names dict is shared with every lane).
        self.queue_ids: list[str] = []
        self.names: dict[str, str] = {}
        self.rediscoveries = 0
        self._backoff = Backoff(initial_s=ctx.config.backoff_initial_s, max_s=ctx.config.backoff_max_s)
        self._nursery: trio.Nursery | None = None

    def _lane_state(self, lane: Lane, state: str) -> None:
        states = [ln.state for ln in self.lanes]
        status = self._ctx.runtime.status
        if all(s == "live" for s in states):
            status.set("live", f"notifications: {len(states)} channel(s) connected")
        elif any(s != "down" for s in states):
            status.set("degraded", "; ".join(ln.detail for ln in self.lanes if ln.state != "live"))
        else:
            status.set("down", "; ".join(ln.detail for ln in self.lanes))

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            try:
                queue_ids, names = await self._ctx.discover()
                break
            except AuthError as exc:
                if exc.fatal:
                    self._ctx.stop(exc)
                    return
                error: Exception = exc
            except UpstreamError as exc:
                error = exc
            delay = self._backoff.next()
            self._ctx.runtime.status.set("down", f"queue discovery failed: {error}")
            log.warning("queue discovery failed (%s); retrying in %.1f s", error, delay)
            await trio.sleep(delay)
        rediscovers = self._ctx.config.rediscovers
        if not queue_ids:
            self._ctx.runtime.status.set("down", "no queues: set QC_QUEUES or grant routing:queue:view")
            log.error("no queues to follow%s", "; asking again later" if rediscovers else "")
            if not rediscovers:
                return
        self.queue_ids, self.names = queue_ids, names
        size = self._ctx.config.max_topics_per_channel
        chunks = [queue_ids[i:i + size] for i in range(0, len(queue_ids), size)]
        log.info("following %d queue(s) on %d channel(s)", len(queue_ids), len(chunks))
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            for chunk in chunks:
                await self._start_lane(chunk)
            if rediscovers:
                nursery.start_soon(self._rediscover_loop)

    async def _start_lane(self, queue_ids: list[str]) -> Lane:
        assert self._nursery is not None
        lane = Lane(self._ctx, name=f"channel {len(self.lanes) + 1}", queue_ids=queue_ids, names=self.names,
                    on_state=self._lane_state)
        self.lanes.append(lane)
        await self._nursery.start(lane.run)
        return lane

    async def _rediscover_loop(self) -> None:
        period = self._ctx.config.rediscover_s
        while True:
            await trio.sleep(period)
            try:
                await self.rediscover()
            except AuthError as exc:
                if exc.fatal:
                    self._ctx.stop(exc)
                    return
                log.warning("queue re-discovery failed (%s); next try in %.0f s", exc, period)
            except UpstreamError as exc:
                log.warning("queue re-discovery failed (%s); next try in %.0f s", exc, period)

    async def rediscover(self) -> None:
        """List the queues once and apply the differences (see the class docstring). Raises
        :class:`~proxy.errors.UpstreamError` (or ``AuthError``) when the listing fails; nothing changes then."""
        ids, changes = await self._ctx.rediscover(self.queue_ids, self.names)
        self.queue_ids = ids
        self.rediscoveries += 1
        if not changes:
            return
        log.info("queues changed: %d added, %d removed, %d renamed", len(changes.added), len(changes.removed),
                 len(changes.renamed))
        rt = self._ctx.runtime
        for lane in self.lanes:
            lane.remove_queues(changes.removed)
        for qid in changes.removed:
            rt.ingestor.remove_queue(qid)
        for qid in changes.added:
            rt.ingestor.follow_queue(qid)
        size = self._ctx.config.max_topics_per_channel
        pending = list(changes.added)
        for lane in self.lanes:
            room = size - len(lane.queue_ids)
            if pending and room > 0:
                lane.add_queues(pending[:room])
                pending = pending[room:]
        while pending:
            await self._start_lane(pending[:size])  # its first connect subscribes and backfills
            pending = pending[size:]
        if changes.renamed:  # names only reach the board with an observation: backfill those queues
            await backfill(self._ctx.platform, rt.ingestor, rt.reducer, changes.renamed, names=self.names)
