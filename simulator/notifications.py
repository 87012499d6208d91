"""Genesys Notifications: channels, topic subscriptions, the WebSocket and the per-topic throttle.

Real-platform behaviour (reference section 2): channels live 24 h unless re-subscribed, one socket
per channel (a second connection drops the first), at most 20 channels per client (the next evicts
the oldest idle one), 1,000 topics per channel, heartbeats, ``{"message":"ping"}`` → pong,
``v2.system.socket_closing`` then a close about a minute later, nothing replayed. Observation
messages go out at most once per ``notify_min_interval_s`` per throttle key (the topic by default),
and the newest body of every group still goes out afterwards (trailing edge); bodies that carry only
changes (the real shape's instant and ``changed`` agent messages) are merged instead of replaced.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import trio

from . import hostile, wire
from .oauth import TokenStore
from .settings import SimSettings
from .stats import Faults, Stats
from .stream import ObservationMessage, coalesce

_OBS_RE = re.compile(r"^v2\.analytics\.queues\.([^.]+)\.(?:observations|activity)$")


class TopicError(ValueError):
    """A subscription request refused with 400; the message names the topic."""


@dataclass(slots=True, eq=False)
class Connection:
    send: trio.MemorySendChannel[str]
    cancel_scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    silent: bool = False
    """A silent socket (``POST /sim/sockets/silence``) stays open and sends nothing at all: no
    messages, no heartbeats, no pongs — a half-dead connection, as behind a NAT that forgot it."""

    def close_after_pending(self) -> None:
        """Let the writer flush what is queued, then end the socket."""
        self.send.close()

    def offer(self, text: str) -> bool:
        """Queue a frame without waiting; False when the socket is closing or gone (its writer ended: the
        peer vanished, e.g. a SIGKILLed proxy, before the connection was unregistered) or its buffer is full."""
        try:
            self.send.send_nowait(text)
        except (trio.WouldBlock, trio.ClosedResourceError, trio.BrokenResourceError):
            return False
        return True


@dataclass(slots=True, eq=False)
class Channel:
    channel_id: str
    client_id: str
    token: str
    connect_uri: str
    expires_at: float
    """Real time (``trio.current_time()``) at which the channel expires unless re-subscribed."""
    expires_ms: int
    last_used: float
    topics: dict[str, None] = field(default_factory=dict)
    connection: Connection | None = None


@dataclass(slots=True)
class _Pending:
    last_sent: float = -1e18
    messages: dict[str, ObservationMessage] = field(default_factory=dict)
    """Per ``topic|group``, the message waiting to go out (coalesced)."""


class Notifications:
    """Channel registry, fan-out and housekeeping (expiry, token loss, socket_closing)."""

    def __init__(
        self,
        *,
        settings: SimSettings,
        stats: Stats,
        faults: Faults,
        tokens: TokenStore,
        queue_ids: set[str],
        wall_ms: Callable[[], int],
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        self._stats = stats
        self._faults = faults
        self._rng = rng or random.Random(settings.seed)
        self._tokens = tokens
        self._queue_ids = queue_ids
        self._wall_ms = wall_ms
        self._channels: dict[str, Channel] = {}
        self._pending: dict[str, _Pending] = {}
        self._nursery: trio.Nursery | None = None
        tokens.on_invalidated.append(self._token_invalidated)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Throttle flusher and housekeeping; runs until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(self._flush_loop)
            nursery.start_soon(self._housekeeping_loop)
            task_status.started()

    # ---------------------------------------------------------------- channels
    def create_channel(self, *, token: str, client_id: str, ws_base: str) -> Channel:
        now = trio.current_time()
        mine = sorted(
            (c for c in self._channels.values() if c.client_id == client_id),
            key=lambda c: (c.connection is not None, c.last_used),
        )
        while len(mine) >= self._settings.max_channels:
            victim = mine.pop(0)  # idle ones first, then the least recently used
            self._remove(victim)
            self._stats.channels_evicted += 1
        channel_id = f"streaming-0-{uuid.uuid4().hex[:26]}"
        ch = Channel(
            channel_id=channel_id,
            client_id=client_id,
            token=token,
            connect_uri=f"{ws_base}/channels/{channel_id}",
            expires_at=now + self._settings.channel_ttl_s,
            expires_ms=self._wall_ms() + round(self._settings.channel_ttl_s * 1000),
            last_used=now,
        )
        self._channels[channel_id] = ch
        self._stats.channels_created += 1
        return ch

    def get(self, channel_id: str) -> Channel | None:
        return self._channels.get(channel_id)

    def channels_for(self, *, token: str | None, client_id: str) -> list[Channel]:
        """Channels of this token (``token`` given) or of every token of the client."""
        return [c for c in self._channels.values() if c.client_id == client_id and (token is None or c.token == token)]

    @property
    def socket_count(self) -> int:
        return sum(1 for c in self._channels.values() if c.connection is not None)

    @property
    def channel_count(self) -> int:
        return len(self._channels)

    def subscribe(self, ch: Channel, topics: object, *, replace: bool, ignore_errors: bool) -> list[wire.JSON]:
        """PUT (replace) or POST (add) subscriptions. Raises ``TopicError`` (400) for a bad body,
        an unknown topic without ``ignoreErrors``, or more than the per-channel topic limit."""
        if not isinstance(topics, list):
            raise TopicError('body: a JSON array of {"id": topic} is required')
        names: list[str] = []
        for i, entry in enumerate(topics):
            topic = entry.get("id") if isinstance(entry, dict) else None
            if not isinstance(topic, str):
                raise TopicError(f"[{i}].id: a topic name is required")
            names.append(topic)
        permitted = [t for t in names if self._known(t)]
        rejected = [t for t in names if not self._known(t)]
        if rejected and not ignore_errors:
            raise TopicError(f"unknown or unsupported topic {rejected[0]!r}")
        new = dict.fromkeys(permitted) if replace else {**ch.topics, **dict.fromkeys(permitted)}
        if len(new) > self._settings.max_topics_per_channel:
            raise TopicError(f"a channel may have at most {self._settings.max_topics_per_channel} topics")
        ch.topics = new
        self._touch(ch, renew=True)
        return [wire.channel_topic(t, ch.channel_id, permitted=True) for t in ch.topics] + [
            wire.channel_topic(t, ch.channel_id, permitted=False) for t in rejected
        ]

    def unsubscribe_all(self, ch: Channel) -> None:
        ch.topics = {}
        self._touch(ch, renew=False)

    def listing(self, ch: Channel) -> list[wire.JSON]:
        return [wire.channel_topic(t, ch.channel_id, permitted=True) for t in ch.topics]

    def _known(self, topic: str) -> bool:
        m = _OBS_RE.match(topic)
        return bool(m and m.group(1) in self._queue_ids)

    def _touch(self, ch: Channel, *, renew: bool) -> None:
        ch.last_used = trio.current_time()
        if renew:
            ch.expires_at = ch.last_used + self._settings.channel_ttl_s
            ch.expires_ms = self._wall_ms() + round(self._settings.channel_ttl_s * 1000)

    def _remove(self, ch: Channel) -> None:
        self._channels.pop(ch.channel_id, None)
        if ch.connection is not None:
            ch.connection.close_after_pending()

    # ---------------------------------------------------------------- publishing
    def publish(self, messages: list[ObservationMessage]) -> None:
        """Offer messages to the throttle; topics nobody subscribes are skipped (no replay). A pending
        message of the same group is superseded, or merged into when both carry only changes."""
        subscribed = {t for c in self._channels.values() for t in c.topics}
        for msg in messages:
            topic = msg.topic
            if topic not in subscribed:
                continue
            key = topic if self._settings.notify_throttle_by == "topic" else f"{topic}|{msg.group}"
            pending = self._pending.setdefault(key, _Pending())
            group_key = f"{topic}|{msg.group}"
            older = pending.messages.get(group_key)
            pending.messages[group_key] = msg if older is None else coalesce(older, msg)
        self._flush(trio.current_time())

    def _flush(self, now: float) -> None:
        for key in list(self._pending):
            p = self._pending[key]
            if p.messages and now - p.last_sent >= self._settings.notify_min_interval_s:
                group_key = next(iter(p.messages))  # the oldest pending group first
                msg = p.messages.pop(group_key)
                p.last_sent = now
                self._send(msg.topic, msg.body)
            if not p.messages and now - p.last_sent >= self._settings.notify_min_interval_s:
                del self._pending[key]

    def _send(self, topic: str, body: wire.JSON) -> None:
        text = json.dumps(wire.notification(topic, body, str(uuid.uuid4())), separators=(",", ":"))
        for ch in list(self._channels.values()):
            if topic in ch.topics and ch.connection is not None:
                if self._faults.roll(self._rng, self._faults.hostile_probability):
                    m = _OBS_RE.match(topic)
                    frame = hostile.notification_frame(hostile.pick(self._rng), topic, m.group(1) if m else "q")
                    if ch.connection.offer(frame):
                        self._stats.hostile_sent += 1
                if ch.connection.offer(text):
                    self._stats.notifications_sent += 1
                else:  # a socket that cannot keep up is disconnected; it backfills on reconnect
                    self._stats.sockets_closed_slow += 1
                    ch.connection.cancel_scope.cancel()

    async def _flush_loop(self) -> None:
        while True:
            await trio.sleep(min(0.05, self._settings.notify_min_interval_s / 4 or 0.05))
            self._flush(trio.current_time())

    # ---------------------------------------------------------------- lifecycle events
    def socket_closing(self, *, grace_s: float, channel_id: str | None = None) -> int:
        """Send ``v2.system.socket_closing`` to connected sockets and close them ``grace_s`` real
        seconds later. Returns how many sockets were warned."""
        if self._nursery is None:
            raise RuntimeError("Notifications.run is not running")
        n = 0
        for ch in list(self._channels.values()):
            conn = ch.connection
            if conn is None or (channel_id is not None and ch.channel_id != channel_id):
                continue
            cid = str(uuid.uuid4())
            conn.offer(
                json.dumps(
                    wire.system_message(
                        wire.SOCKET_CLOSING_TOPIC,
                        channel_id=ch.channel_id,
                        kind=None,  # not a systemTopicType of the SDK's enum
                        message="Socket closing",
                        client_id=ch.client_id,
                        correlation_id=cid,
                    )
                )
            )
            self._nursery.start_soon(self._close_later, conn, grace_s)
            n += 1
        return n

    def silence(self, *, channel_id: str | None = None) -> int:
        """Make connected sockets silent (all, or ``channel_id``'s): they stay open and send nothing
        more. Returns how many. A new socket on the channel is a normal one."""
        n = 0
        for ch in self._channels.values():
            conn = ch.connection
            if conn is None or conn.silent or (channel_id is not None and ch.channel_id != channel_id):
                continue
            conn.silent = True
            n += 1
        self._stats.sockets_silenced += n
        return n

    def unsubscribe_notice(self, *, channel_id: str | None = None, gone: bool = False) -> int:
        """The platform ends channels' subscriptions (all channels, or ``channel_id``): a
        ``v2.system.no_longer_subscribed.{channelId}`` notice on a connected socket, then every topic
        is dropped; with ``gone`` the channel itself is removed too (HEAD 404, its socket closed
        after the notice). Returns how many channels."""
        n = 0
        for ch in list(self._channels.values()):
            if channel_id is not None and ch.channel_id != channel_id:
                continue
            if ch.connection is not None:
                ch.connection.offer(
                    json.dumps(
                        wire.system_message(
                            f"v2.system.no_longer_subscribed.{ch.channel_id}",
                            channel_id=ch.channel_id,
                            kind="no_longer_subscribed",
                            message="No longer subscribed",
                            client_id=ch.client_id,
                            correlation_id=str(uuid.uuid4()),
                        )
                    )
                )
            ch.topics = {}
            self._stats.no_longer_subscribed_sent += 1
            if gone:
                self._remove(ch)
                self._stats.channels_removed += 1
            n += 1
        return n

    async def _close_later(self, conn: Connection, grace_s: float) -> None:
        await trio.sleep(grace_s)
        conn.close_after_pending()

    def _token_invalidated(self, token: str, reason: str) -> None:
        for ch in list(self._channels.values()):
            if ch.token != token:
                continue
            if reason == "revoked" and ch.connection is not None:
                ch.connection.offer(
                    json.dumps(
                        wire.system_message(
                            f"v2.system.token_revoked.{ch.channel_id}",
                            channel_id=ch.channel_id,
                            kind="token_revoked",
                            message="Token revoked",
                            client_id=ch.client_id,
                            correlation_id=str(uuid.uuid4()),
                            reason="user_tokens_revoked",
                        )
                    )
                )
            if self._settings.channel_dies_with_token:
                self._remove(ch)

    async def _housekeeping_loop(self) -> None:
        while True:
            await trio.sleep(0.25)
            now = trio.current_time()
            for ch in list(self._channels.values()):
                if now >= ch.expires_at:
                    self._stats.channels_expired += 1
                    self._remove(ch)
                elif self._settings.channel_dies_with_token and not self._tokens.is_live(ch.token):
                    self._remove(ch)

    # ---------------------------------------------------------------- the socket
    async def serve_socket(
        self, ch: Channel, *, send: Callable[[str], Awaitable[None]], receive: Callable[[], Awaitable[str | bytes]]
    ) -> None:
        """Serve one accepted WebSocket of ``ch`` until it closes, is replaced or is closed by us."""
        send_ch, recv_ch = trio.open_memory_channel[str](self._settings.socket_queue_size)
        conn = Connection(send_ch)
        old, ch.connection = ch.connection, conn
        if old is not None:  # one socket per channel: the new one drops the old one
            self._stats.sockets_replaced += 1
            old.cancel_scope.cancel()
        self._stats.sockets_opened += 1
        self._touch(ch, renew=False)
        try:
            with conn.cancel_scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._writer, conn, recv_ch, send, nursery.cancel_scope)
                    nursery.start_soon(self._heartbeats, conn)
                    await self._reader(ch, conn, receive)
                    nursery.cancel_scope.cancel()
        finally:
            if ch.connection is conn:
                ch.connection = None

    async def _writer(
        self,
        conn: Connection,
        recv_ch: trio.MemoryReceiveChannel[str],
        send: Callable[[str], Awaitable[None]],
        done: trio.CancelScope,
    ) -> None:
        async with recv_ch:
            async for text in recv_ch:
                if conn.silent:
                    self._stats.frames_silenced += 1
                    continue
                delay = self._faults.delay_s(self._rng, self._stats)
                if delay:
                    await trio.sleep(delay)
                await send(text)
        done.cancel()  # the send side was closed: every queued frame went out, end the socket

    async def _heartbeats(self, conn: Connection) -> None:
        text = json.dumps(wire.heartbeat())
        while True:
            await trio.sleep(self._settings.heartbeat_s)
            if conn.offer(text):
                self._stats.heartbeats_sent += 1

    async def _reader(self, ch: Channel, conn: Connection, receive: Callable[[], Awaitable[str | bytes]]) -> None:
        while True:
            raw = await receive()
            try:
                msg = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(msg, dict):
                continue
            if msg.get("message") == "ping":
                conn.offer(json.dumps(wire.pong()))
            elif msg.get("message") == "subscribe":  # UNCONFIRMED socket-side subscribe (third-party clients)
                topics = msg.get("topics")
                cid = msg.get("correlationId")
                try:
                    self.subscribe(
                        ch,
                        [{"id": t} for t in topics] if isinstance(topics, list) else None,
                        replace=False,
                        ignore_errors=False,
                    )
                except TopicError:
                    conn.offer(json.dumps(wire.subscribe_reply("400", "failure", cid)))
                else:
                    conn.offer(json.dumps(wire.subscribe_reply("200", "subscribed", cid)))
