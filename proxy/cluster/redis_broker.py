"""The Redis broker: the leader writes frames to a Redis Stream, every instance reads it and fans out.

Implements :class:`~proxy.hub.broker.Broker`. Frame ids are ``<epoch>-<seq>`` of the *cluster*: the
epoch lives in Redis (created by the first leader, kept across leaders) and the leader numbers the
frames, so a ``Last-Event-ID`` is valid on every instance. Each instance keeps what a memory broker
keeps — a ring of recent frames for exact resume, the current views for snapshots, its subscribers —
filled from the stream only (the leader's own clients too), so every instance holds the same frames.

Entries carry ``prev`` (the seq of the frame before them): a reader whose last seq is not ``prev``
(the stream was trimmed past it during an outage, or Redis lost its data) reloads the snapshot from
Redis (``views`` hash + ``meta``) and offers it to its clients, so they never miss a change silently.

The publisher never waits: :meth:`publish` queues the frame for the leader's
:class:`~proxy.cluster.writer.FrameWriter`. While Redis is unreachable an instance keeps serving its
clients the last state, reports itself detached and tells them ``degraded`` (``detail: redis``).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
import trio

from proxy.auth.backoff import Backoff
from proxy.cluster.metrics import ClusterMetrics
from proxy.cluster.scripts import LOAD
from proxy.cluster.store import Keys, Redis, call, entry_fields, entry_id, script
from proxy.cluster.writer import FrameWriter
from proxy.contract import json_encode as _encode
from proxy.errors import StoreUnavailable
from proxy.hub.broker import Start
from proxy.hub.frames import Frame, parse_frame_id
from proxy.hub.subscriber import Subscriber
from proxy.sse import encode_event
from proxy.state.view import QueueView
from proxy.timefmt import iso, utcnow

log = logging.getLogger("queuecast.cluster.broker")

#: Entries read per XREAD, and how long one XREAD blocks (ms; under the store's command timeout).
READ_COUNT = 500
READ_BLOCK_MS = 1000

_VIEWS = msgspec.json.Decoder(dict[str, msgspec.Raw])


class _Resync(Exception):
    """The stream does not continue where this instance is: reload the snapshot."""


def _decode_views(blob: bytes) -> dict[str, QueueView]:
    return {q: QueueView(q, msgspec.json.decode(raw), bytes(raw)) for q, raw in _VIEWS.decode(blob).items()}


class RedisBroker:
    """Cluster :class:`~proxy.hub.broker.Broker`. Synchronous methods touch only local state (atomic
    under trio); :meth:`serve` reads the stream; ``writer`` writes it while this instance leads."""

    def __init__(self, redis: Redis | None, keys: Keys, *, ring_size: int, ring_max_views: int = 50_000,
                 metrics: ClusterMetrics, now: Callable[[], str] | None = None) -> None:
        #: Set by the cluster once its client is open (``None`` until then: nothing is read or written).
        self.redis = redis
        self._keys = keys
        self._metrics = metrics
        self.epoch = "sync" + secrets.token_hex(3)  # until the first load: no id of ours resumes
        self._seq = 0
        self._last_id = b"0-0"
        self._ring: deque[Frame] = deque()
        self._ring_size = ring_size
        self._ring_max_views = ring_max_views
        self._ring_views = 0
        self._current: dict[str, QueueView] = {}
        self._subscribers: set[Subscriber] = set()
        self._cluster_status: dict[str, Any] = {}
        self._status_event: bytes | None = None
        self._snapshot: Frame | None = None
        self._now = now or (lambda: iso(utcnow()))
        self._attached = False
        self._detached_since: str | None = None
        self._synced = False
        #: The leader's side: numbers frames and writes them while this instance leads.
        self.writer = FrameWriter(lambda: self._store, keys, maxlen=ring_size, metrics=metrics, now=self._now)
        #: Called by :meth:`close_all` with its reason (the cluster resigns its lease on ``shutdown``).
        self.on_close: Callable[[str], None] = lambda reason: None
        self.frames_read = 0
        self.resyncs = 0

    @property
    def _store(self) -> Redis:
        if self.redis is None:
            raise StoreUnavailable("redis: not connected yet")
        return self.redis

    # ---- the Broker protocol --------------------------------------------------------------------

    @property
    def seq(self) -> int:
        return self._seq

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    @property
    def attached(self) -> bool:
        return self._attached

    @property
    def leading(self) -> bool:
        return self.writer.leading

    def publish(self, views: Mapping[str, QueueView], removed: tuple[str, ...] = ()) -> Frame:
        """Number the frame and queue it for the stream (leader only: :class:`~proxy.cluster.writer.
        FrameWriter`); clients get it when it is read back. Not leading, it is dropped and counted."""
        frame = self.writer.queue_frame(views, removed)
        if frame is None:
            self._metrics.dropped.inc()
            return Frame("delta", self.epoch, self._seq, self._now(), dict(views), removed)
        return frame

    def set_status(self, status: Mapping[str, Any]) -> None:
        """The upstream's status: the leader's goes to every instance through the stream; a follower's
        own tracker has no upstream to speak of, so it is not published."""
        self.writer.queue_status(status)

    def snapshot(self, only: frozenset[str] | None = None) -> Frame:
        if only is not None:
            views = {q: v for q, v in self._current.items() if q in only}
            return Frame("snapshot", self.epoch, self._seq, self._now(), views, (), self._shown_status())
        if self._snapshot is None:
            self._snapshot = Frame("snapshot", self.epoch, self._seq, self._now(), dict(self._current), (),
                                   self._shown_status())
        return self._snapshot

    def attach(self, subscriber: Subscriber, last_event_id: str | None) -> Start:
        missed = self._missed(last_event_id)
        start: Start
        if missed is None:
            subscriber.offer(self.snapshot())
            start = "snapshot"
        else:
            for frame in missed:
                subscriber.offer(frame)
            start = "replay"
        if self._status_event is not None:
            subscriber.offer_status(self._status_event)
        self._subscribers.add(subscriber)
        return start

    def detach(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    def keepalive(self, now: float, idle_s: float) -> None:
        for subscriber in self._subscribers:
            subscriber.offer_keepalive(now, idle_s)

    def close_all(self, reason: str) -> None:
        """End every stream (the server calls this when it shuts down: ``on_close`` then resigns the lease)."""
        self.on_close(reason)
        for subscriber in list(self._subscribers):
            subscriber.close(reason)
        self._subscribers.clear()

    # ---- local fan-out ----------------------------------------------------------------------------

    def _missed(self, last_event_id: str | None) -> list[Frame] | None:
        if last_event_id is None or not self._synced:
            return None
        parsed = parse_frame_id(last_event_id)
        if parsed is None or parsed[0] != self.epoch:
            return None
        seq = parsed[1]
        if seq > self._seq:
            return None
        if seq == self._seq:
            return []
        if not self._ring or self._ring[0].seq > seq + 1:
            return None
        return [f for f in self._ring if f.seq > seq]

    def _shown_status(self) -> dict[str, Any]:
        """The leader's status, or — while this instance cannot reach Redis — its own: ``degraded``
        because of ``redis`` (its clients keep the last state, which may be going stale)."""
        if self._attached or not self._synced:
            return self._cluster_status
        return {**self._cluster_status, "upstream": "degraded", "since": self._detached_since, "detail": "redis",
                "source": "cluster", "lastEventAt": self._cluster_status.get("lastEventAt")}

    def _announce_status(self) -> None:
        self._status_event = encode_event(_encode(self._shown_status()), event="status")
        self._snapshot = None
        for subscriber in self._subscribers:
            subscriber.offer_status(self._status_event)

    def _set_attached(self, attached: bool) -> None:
        if attached != self._attached:
            self._attached = attached
            self._detached_since = None if attached else self._now()
            self._metrics.attached.set(1 if attached else 0)
            if self._cluster_status or not attached:
                self._announce_status()

    def _offer(self, frame: Frame) -> None:
        for subscriber in list(self._subscribers):
            subscriber.offer(frame)
            if subscriber.closed_reason is not None:
                self._subscribers.discard(subscriber)

    def _remember(self, frame: Frame) -> None:
        if self._ring:
            self._ring[-1].trim()
        self._ring.append(frame)
        self._ring_views += len(frame.views) + len(frame.removed)
        while len(self._ring) > 1 and (
            len(self._ring) > self._ring_size or self._ring_views > self._ring_max_views
        ):
            oldest = self._ring.popleft()
            self._ring_views -= len(oldest.views) + len(oldest.removed)

    def _clear_ring(self) -> None:
        self._ring.clear()
        self._ring_views = 0

    def _deliver(self, fields: Mapping[bytes, bytes]) -> None:
        """Apply one stream entry locally. Raises :class:`_Resync` when it does not follow on."""
        kind = fields[b"kind"].decode()
        epoch = fields[b"epoch"].decode()
        if kind == "status":
            if epoch == self.epoch:
                self._cluster_status = msgspec.json.decode(fields[b"status"])
                self._announce_status()
            return
        seq = int(fields[b"seq"])
        views = _decode_views(fields[b"views"])
        as_of = fields[b"asOf"].decode()
        if kind == "snapshot":
            self.epoch, self._seq = epoch, seq
            self._current = views
            self._clear_ring()
            self._snapshot = None
            self._offer(self.snapshot())
            return
        if epoch != self.epoch or int(fields[b"prev"]) != self._seq:
            raise _Resync
        removed = tuple(msgspec.json.decode(fields[b"removed"], type=list[str]))
        frame = Frame("delta", epoch, seq, as_of, views, removed)
        self._seq = seq
        self._remember(frame)
        for queue_id in removed:
            self._current.pop(queue_id, None)
        self._current.update(views)
        self._snapshot = None
        self._offer(frame)

    # ---- reading the stream (every instance) ------------------------------------------------------

    async def _load(self) -> None:
        """Take the snapshot in Redis (views + newest seq, atomically) and the stream's tail before it
        (the resume ring); offer a snapshot to every connected client when their state moved on."""
        meta_raw, views_raw = await script(self._store, LOAD, keys=[self._keys.meta, self._keys.views], args=[])
        meta = dict(zip(meta_raw[::2], meta_raw[1::2], strict=True))
        flat = dict(zip(views_raw[::2], views_raw[1::2], strict=True))
        epoch = meta.get(b"epoch")
        if epoch is None:  # no leader has written yet: nothing to load, read from the start
            self._last_id = b"0-0"
            self._synced = True
            return
        last_id: bytes = meta.get(b"id", b"0-0")
        seq = int(meta.get(b"seq", b"0"))
        tail = await call(self._store.xrevrange(self._keys.frames, end=last_id, start="-",
                                                count=self._ring_size))
        ring: list[Frame] = []
        for entry in tail:  # newest first
            f = entry_fields(entry)
            if f.get(b"kind") != b"delta" or f.get(b"epoch") != epoch:
                if f.get(b"kind") == b"status":
                    continue
                break
            ring.append(Frame("delta", epoch.decode(), int(f[b"seq"]), f[b"asOf"].decode(),
                              _decode_views(f[b"views"]),
                              tuple(msgspec.json.decode(f[b"removed"], type=list[str]))))
        changed = epoch.decode() != self.epoch or seq != self._seq
        self.epoch, self._seq, self._last_id = epoch.decode(), seq, last_id
        self._current = {q.decode(): QueueView(q.decode(), msgspec.json.decode(v), v) for q, v in flat.items()}
        self._clear_ring()
        for frame in reversed(ring):
            self._remember(frame)
        if b"status" in meta:
            self._cluster_status = msgspec.json.decode(meta[b"status"])
        self._snapshot = None
        self._synced = True
        if changed:
            self._offer(self.snapshot())
        if self._cluster_status:
            self._announce_status()

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Read the frame stream until cancelled: load, then ``XREAD BLOCK`` and fan out. Survives Redis
        outages (detached meanwhile, with backoff); reports started after the first load or failure."""
        backoff = Backoff(initial_s=0.1, max_s=2.0)
        started = False
        need_load = True
        while True:
            try:
                if need_load:
                    await self._load()
                    need_load = False
                self._set_attached(True)
                if not started:
                    started = True
                    task_status.started()
                await self._read_once()
                backoff.reset()
            except _Resync:
                self.resyncs += 1
                self._metrics.resyncs.inc()
                need_load = True
            except StoreUnavailable as exc:
                self._metrics.errors.labels("read").inc()
                if self._attached:
                    log.warning("redis unreachable (%s): serving the last state, degraded", exc)
                self._set_attached(False)
                if not started:
                    started = True
                    task_status.started()
                need_load = need_load or not self._synced
                await trio.sleep(backoff.next())

    async def _read_once(self) -> None:
        answer = await call(self._store.xread({self._keys.frames: self._last_id}, count=READ_COUNT,
                                              block=READ_BLOCK_MS))
        if not answer:
            return
        for entries in answer.values():
            for entry in entries:
                self._deliver(entry_fields(entry))
                self._last_id = entry_id(entry)
                self.frames_read += 1
        ms = int(self._last_id.split(b"-", 1)[0])
        self._metrics.lag.set(max(0.0, time.time() - ms / 1000))
