"""The leader's side of the frame stream: it numbers frames and writes them, fenced, while it leads.

:meth:`FrameWriter.run` begins a term (:data:`~proxy.cluster.scripts.BEGIN_TERM`: the cluster's epoch and
newest seq, or a new epoch with an empty snapshot entry) and drains a bounded outbox with
:data:`~proxy.cluster.scripts.PUBLISH`, which refuses to write unless this instance still holds the
lease. The publisher never waits: past :data:`OUTBOX_FRAMES`, queued frames are coalesced into one
(views are whole, the newest id is kept). Each entry carries ``prev``, the seq written before it, so a
reader notices a frame it cannot have.
"""

from __future__ import annotations

import logging
import secrets
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import trio

from proxy.auth.backoff import Backoff
from proxy.cluster.lease import Deposed
from proxy.cluster.metrics import ClusterMetrics
from proxy.cluster.scripts import BEGIN_TERM, PUBLISH
from proxy.cluster.store import Keys, Redis, script
from proxy.contract import json_encode as _encode
from proxy.errors import StoreUnavailable
from proxy.hub.frames import Frame, merge_frames
from proxy.state.view import QueueView

log = logging.getLogger("queuecast.cluster.writer")

#: Frames queued for Redis beyond this are coalesced into one (only while Redis is slow or away).
OUTBOX_FRAMES = 64


def views_blob(views: Mapping[str, QueueView]) -> bytes:
    """``{"queue id": view, ...}`` from the views' own encodings (no re-encoding)."""
    return b"{" + b",".join(_encode(q) + b":" + v.encoded for q, v in views.items()) + b"}"


class _Term:
    """What the leader knows while it leads: its owner string, the epoch and the seqs it numbers."""

    def __init__(self, owner: str, epoch: str, seq: int) -> None:
        self.owner = owner
        self.epoch = epoch
        self.next_seq = seq  # the last seq assigned
        self.written = seq  # the last seq written (``prev`` of the next entry)


class FrameWriter:
    def __init__(self, store: Callable[[], Redis], keys: Keys, *, maxlen: int, metrics: ClusterMetrics,
                 now: Callable[[], str]) -> None:
        self._store = store  # raises StoreUnavailable until the cluster's client is open
        self._keys = keys
        self._maxlen = str(maxlen)
        self._metrics = metrics
        self._now = now
        self._term: _Term | None = None
        self._outbox: deque[tuple[Frame, bytes] | Mapping[str, Any]] = deque()
        self._ready = trio.Event()
        #: The newest callback stream id applied here (recorded in ``meta.cbid`` with the next frame).
        self.callbacks_applied = b""
        self.frames_written = 0

    @property
    def leading(self) -> bool:
        return self._term is not None

    def queue_frame(self, views: Mapping[str, QueueView], removed: tuple[str, ...]) -> Frame | None:
        """Number a frame and queue it; None when not leading. Never waits."""
        term = self._term
        if term is None:
            return None
        term.next_seq += 1
        frame = Frame("delta", term.epoch, term.next_seq, self._now(), dict(views), removed)
        self._outbox.append((frame, self.callbacks_applied))
        if len(self._outbox) > OUTBOX_FRAMES:
            frames = [x for x in self._outbox if isinstance(x, tuple)]
            statuses = [x for x in self._outbox if not isinstance(x, tuple)]
            self._outbox.clear()
            self._outbox.append((merge_frames([f for f, _ in frames]), frames[-1][1]))
            self._outbox.extend(statuses[-1:])
            self._metrics.coalesced.inc()
        self._ready.set()
        return frame

    def queue_status(self, status: Mapping[str, Any]) -> None:
        if self._term is not None:
            self._outbox.append(dict(status))
            self._ready.set()

    async def run(self, owner: str, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """While this instance holds the lease as ``owner``: begin a term and write queued frames until
        cancelled. Raises :class:`~proxy.cluster.lease.Deposed` when Redis refuses a write."""
        backoff = Backoff(initial_s=0.05, max_s=1.0)
        k = self._keys
        while True:
            try:
                began = await script(self._store(), BEGIN_TERM, keys=[k.lease, k.meta, k.frames, k.views],
                                     args=[owner, secrets.token_hex(4), self._maxlen, self._now()])
                break
            except StoreUnavailable:
                self._metrics.errors.labels("write").inc()
                await trio.sleep(backoff.next())
        if began is None:
            raise Deposed(owner)
        epoch, seq, created = began[0].decode(), int(began[1]), int(began[2]) == 1
        if created:
            log.info("a new epoch %s begins (a new cluster, or Redis lost its data)", epoch)
        term = self._term = _Term(owner, epoch, seq)
        self._outbox.clear()
        try:
            task_status.started()
            while True:
                await self._ready.wait()
                self._ready = trio.Event()
                while self._outbox:
                    try:
                        await self._write(term, self._outbox[0])
                    except StoreUnavailable:
                        self._metrics.errors.labels("write").inc()
                        await trio.sleep(backoff.next())
                        continue
                    backoff.reset()
                    self._outbox.popleft()
        finally:
            self._term = None
            self._outbox.clear()

    async def _write(self, term: _Term, queued: tuple[Frame, bytes] | Mapping[str, Any]) -> None:
        k = self._keys
        if isinstance(queued, tuple):
            frame, cbid = queued
            args: list[str | bytes] = [term.owner, term.epoch, self._maxlen, "delta", str(frame.seq),
                                       str(term.written), frame.as_of, views_blob(frame.views),
                                       _encode(list(frame.removed)), cbid, str(len(frame.views))]
            for queue_id, view in frame.views.items():
                args += [queue_id, view.encoded]
            args += [str(len(frame.removed)), *frame.removed]
        else:
            args = [term.owner, term.epoch, self._maxlen, "status", "", "", "", b"", b"", _encode(queued), "0", "0"]
        written = await script(self._store(), PUBLISH, keys=[k.lease, k.meta, k.frames, k.views], args=args)
        if written is None:
            raise Deposed(term.owner)
        if isinstance(queued, tuple):
            term.written = queued[0].seq
            self.frames_written += 1
