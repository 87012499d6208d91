"""Frames: what the stream carries. Encoded to JSON once, shared by every client.

A frame id is ``<epoch>-<seq>``: the epoch changes with every broker start, so an id from
another run is recognised as unresumable, and ``seq`` orders frames within an epoch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from proxy.contract import json_encode as _encode
from proxy.sse import encode_event
from proxy.state.view import QueueView

FrameKind = Literal["snapshot", "delta"]


def frame_id(epoch: str, seq: int) -> str:
    return f"{epoch}-{seq}"


def parse_frame_id(text: str) -> tuple[str, int] | None:
    """``(epoch, seq)`` of a ``Last-Event-ID``, or None when it is not one of ours."""
    epoch, sep, seq = text.strip().rpartition("-")
    if not sep or not epoch or not seq.isdigit() or len(seq) > 18:
        return None
    return epoch, int(seq)


#: How a frame's bytes are cached: its ``data:`` JSON, its SSE event block, or that block as an HTTP/1.1 chunk.
Form = Literal["data", "event", "chunk"]


def chunk(payload: bytes) -> bytes:
    """``payload`` as one HTTP/1.1 chunk (RFC 9112 §7.1): hex size, CRLF, payload, CRLF."""
    return b"%x\r\n%b\r\n" % (len(payload), payload)


@dataclass(slots=True, eq=False)
class Frame:
    """A snapshot or delta. ``views`` maps queue id to its whole view (a delta carries changed queues).

    Its bytes exist once per (frame, filter, form): ``data(only)`` is the encoded ``data:`` JSON,
    ``event(only)`` the whole SSE block (``id:``/``event:``/``data:``), ``chunk(only)`` that block already
    framed as an HTTP/1.1 chunk, written as-is to every client of that filter. All are memoised, so N
    clients with the same filter cost one encode and no copy.
    """

    kind: FrameKind
    epoch: str
    seq: int
    as_of: str
    views: Mapping[str, QueueView]
    removed: tuple[str, ...] = ()
    upstream: Mapping[str, Any] | None = None
    _cache: dict[tuple[frozenset[str] | None, Form], bytes] = field(default_factory=dict, repr=False)

    @property
    def id(self) -> str:
        return frame_id(self.epoch, self.seq)

    def touches(self, only: frozenset[str] | None) -> bool:
        """Whether a client filtered to ``only`` gets this frame. Probes the smaller side: a frame of 500
        queues offered to 1,000 clients of 10 queues each costs 10 lookups per client, not 500."""
        if only is None:
            return True
        views = self.views
        hit = any(q in views for q in only) if len(only) < len(views) else any(q in only for q in views)
        return hit or any(q in only for q in self.removed)

    def trim(self) -> None:
        """Forget every encoding but the unfiltered ``data:`` JSON. The broker calls this once a newer
        frame exists, so a ring of old frames never holds one encoding per client filter and form."""
        if len(self._cache) > 1 or (self._cache and (None, "data") not in self._cache):
            unfiltered = self._cache.get((None, "data"))
            self._cache.clear()
            if unfiltered is not None:
                self._cache[None, "data"] = unfiltered

    def data(self, only: frozenset[str] | None = None) -> bytes:
        cached = self._cache.get((only, "data"))
        if cached is None:
            cached = self._cache[only, "data"] = self._encode(only)
        return cached

    def event(self, only: frozenset[str] | None = None) -> bytes:
        """The SSE event block for this filter (memoised)."""
        cached = self._cache.get((only, "event"))
        if cached is None:
            cached = self._cache[only, "event"] = self._event(only)
        return cached

    def chunk(self, only: frozenset[str] | None = None) -> bytes:
        """The SSE event block as an HTTP/1.1 chunk (memoised; the only form the socket path keeps)."""
        cached = self._cache.get((only, "chunk"))
        if cached is None:
            cached = self._cache[only, "chunk"] = chunk(self._event(only))
        return cached

    def _event(self, only: frozenset[str] | None) -> bytes:
        data = self._cache.get((only, "data")) or self._encode(only)
        return encode_event(data, event=self.kind, id=self.id)

    def _encode(self, only: frozenset[str] | None) -> bytes:
        views: Iterable[QueueView] = self.views.values()
        removed: Iterable[str] = self.removed
        if only is not None:
            views = [v for v in views if v.queue_id in only]
            removed = [q for q in removed if q in only]
        queues = b",".join(_encode(v.queue_id) + b":" + v.encoded for v in views)
        head = b'{"epoch":' + _encode(self.epoch) + b',"seq":' + str(self.seq).encode()
        head += b',"asOf":' + _encode(self.as_of) + b',"queues":{' + queues + b"}"
        if self.kind == "snapshot":
            tail = b',"upstream":' + _encode(self.upstream or {}) + b"}"
        else:
            tail = b',"removed":' + _encode(list(removed)) + b"}"
        return head + tail


def merge_frames(frames: list[Frame]) -> Frame:
    """Coalesce consecutive frames into one: the newest view of each queue wins, the newest id is kept.

    Views are whole, so the merged frame leaves a client exactly where the last one would have.
    A leading snapshot stays a snapshot (with the later deltas folded in).
    """
    if len(frames) == 1:
        return frames[0]
    head = frames[0]
    views: dict[str, QueueView] = dict(head.views)
    removed: dict[str, None] = dict.fromkeys(head.removed)
    for frame in frames[1:]:
        for queue_id in frame.removed:
            views.pop(queue_id, None)
            removed[queue_id] = None
        for queue_id, view in frame.views.items():
            removed.pop(queue_id, None)
            views[queue_id] = view
    last = frames[-1]
    if head.kind == "snapshot":
        return Frame("snapshot", last.epoch, last.seq, last.as_of, views, (), head.upstream)
    return Frame("delta", last.epoch, last.seq, last.as_of, views, tuple(removed))
