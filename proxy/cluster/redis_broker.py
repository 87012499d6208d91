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
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
import trio

from proxy.auth.backoff import Backoff
from proxy.cluster.metrics import ClusterMetrics
from proxy.cluster.scripts import LOAD
from proxy.cluster.store import Keys, Redis, call, entry_fields, entry_id, script
from proxy.cluster.writer import FrameWriter
from proxy.errors import StoreUnavailable
from proxy.hub.broker import Start
from proxy.hub.fanout import Fanout
from proxy.hub.frames import Frame
from proxy.hub.subscriber import Subscriber
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
        self._now = now or (lambda: iso(utcnow()))
        # until the first load, an epoch no id matches: no resume
        self._fan = Fanout(epoch="sync" + secrets.token_hex(3), ring_size=ring_size, ring_max_views=ring_max_views,
                           now=self._now)
        self._ring_size = ring_size
        self._last_id = b"0-0"
        self._cluster_status: dict[str, Any] = {}
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
    def epoch(self) -> str:
        return self._fan.epoch

    @epoch.setter
    def epoch(self, value: str) -> None:
        self._fan.epoch = value

    @property
    def seq(self) -> int:
        return self._fan.seq

    @property
    def subscriber_count(self) -> int:
        return len(self._fan.subscribers)

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
            return Frame("delta", self.epoch, self.seq, self._now(), dict(views), removed)
        return frame

    def set_status(self, status: Mapping[str, Any]) -> None:
        """The upstream's status: the leader's goes to every instance through the stream; a follower's
        own tracker has no upstream to speak of, so it is not published."""
        self.writer.queue_status(status)

    def snapshot(self, only: frozenset[str] | None = None) -> Frame:
        return self._fan.snapshot(only)

    def attach(self, subscriber: Subscriber, last_event_id: str | None) -> Start:
        return self._fan.attach(subscriber, last_event_id, resumable=self._synced)

    def detach(self, subscriber: Subscriber) -> None:
        self._fan.detach(subscriber)

    def keepalive(self, now: float, idle_s: float) -> None:
        self._fan.keepalive(now, idle_s)

    def close_all(self, reason: str) -> None:
        """End every stream (the server calls this when it shuts down: ``on_close`` then resigns the lease)."""
        self.on_close(reason)
        self._fan.close_all(reason)

    # ---- status ------------------------------------------------------------------------------------

    def _announce_status(self) -> None:
        """Show the leader's status, or — while this instance cannot reach Redis — its own: ``degraded``
        because of ``redis`` (its clients keep the last state, which may be going stale)."""
        shown = self._cluster_status
        if not self._attached and self._synced:
            shown = {**shown, "upstream": "degraded", "since": self._detached_since, "detail": "redis",
                     "source": "cluster", "lastEventAt": shown.get("lastEventAt")}
        self._fan.set_status(shown)

    def _set_attached(self, attached: bool) -> None:
        if attached != self._attached:
            self._attached = attached
            self._detached_since = None if attached else self._now()
            self._metrics.attached.set(1 if attached else 0)
            if self._cluster_status or not attached:
                self._announce_status()

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
        if kind == "snapshot":  # a new epoch begins
            self._fan.reset(epoch=epoch, seq=seq, views=views)
            self._fan.offer_snapshot()
            return
        if epoch != self.epoch or int(fields[b"prev"]) != self.seq:
            raise _Resync
        removed = tuple(msgspec.json.decode(fields[b"removed"], type=list[str]))
        self._fan.deliver(Frame("delta", epoch, seq, as_of, views, removed))

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
        changed = epoch.decode() != self.epoch or seq != self.seq
        self._last_id = last_id
        self._fan.reset(epoch=epoch.decode(), seq=seq, ring=ring[::-1],
                        views={q.decode(): QueueView(q.decode(), msgspec.json.decode(v), v) for q, v in flat.items()})
        if b"status" in meta:
            self._cluster_status = msgspec.json.decode(meta[b"status"])
        self._synced = True
        if changed:
            self._fan.offer_snapshot()
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
                    self._set_attached(True)  # Redis answered
                if not started:
                    started = True
                    task_status.started()
                await self._read_once()
                # attached only once Redis has answered: set before the read, a retry during an outage
                # reported "attached" for as long as its connection attempt took (up to 2 s)
                self._set_attached(True)
                backoff.reset()
            except _Resync:
                self.resyncs += 1
                self._metrics.resyncs.inc()
                log.warning("the frame stream does not follow on from seq %d (trimmed past it, or lost): "
                            "reloading the snapshot", self.seq)
                need_load = True
                await trio.sleep(backoff.next())  # never a hot loop, whatever the stream holds
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
