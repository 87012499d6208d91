"""Frames: what the stream carries. Encoded to JSON once, shared by every client.

A frame id is ``<epoch>-<seq>``: the epoch changes with every broker start, so an id from
another run is recognised as unresumable, and ``seq`` orders frames within an epoch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from proxy.contract import json_encode as _encode
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


@dataclass(slots=True, eq=False)
class Frame:
    """A snapshot or delta. ``views`` maps queue id to its whole view (a delta carries changed queues).

    ``data(only)`` returns the encoded ``data:`` JSON, optionally restricted to a set of queues;
    encodings are memoised per filter, so N clients with the same filter cost one encode.
    """

    kind: FrameKind
    epoch: str
    seq: int
    as_of: str
    views: Mapping[str, QueueView]
    removed: tuple[str, ...] = ()
    upstream: Mapping[str, Any] | None = None
    _cache: dict[frozenset[str] | None, bytes] = field(default_factory=dict, repr=False)

    @property
    def id(self) -> str:
        return frame_id(self.epoch, self.seq)

    def touches(self, only: frozenset[str] | None) -> bool:
        if only is None:
            return True
        return any(q in only for q in self.views) or any(q in only for q in self.removed)

    def trim(self) -> None:
        """Forget the per-filter encodings (kept: the unfiltered one). The broker calls this once a
        newer frame exists, so a ring of old frames never holds one encoding per client filter."""
        if len(self._cache) > 1 or (self._cache and None not in self._cache):
            unfiltered = self._cache.get(None)
            self._cache.clear()
            if unfiltered is not None:
                self._cache[None] = unfiltered

    def data(self, only: frozenset[str] | None = None) -> bytes:
        cached = self._cache.get(only)
        if cached is not None:
            return cached
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
        encoded = self._cache[only] = head + tail
        return encoded


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
