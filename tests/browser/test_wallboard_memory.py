"""A wallboard stays right across a day: an hour of frames in well under a minute, no growth in memory.

Sixty queues, one frame per callback (``QC_AGGREGATE_MS=0``): 7,200 frames are an hour at the
production rate of at most two frames a second. The whole client (stream, store, sparkline
history, rendering) runs in the page (``share=off``), so the page's JS heap after a forced garbage
collection, and its DOM node and listener counts, say whether anything grows with the frames.
The figures are printed (``-s`` shows them) and quoted in ``docs/wallboard.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.browser.board import read_board, wait_until
from tests.browser.conftest import ProxyHandle
from tests.browser.feed import queue_state

pytestmark = pytest.mark.browser

QUEUES = 60
HOUR_OF_FRAMES = 7_200
WARM_UP = 600


def _measure(cdp: Any) -> tuple[float, int, int]:
    """(JS heap used in MB after a full GC, DOM nodes, event listeners) of the page."""
    cdp.send("HeapProfiler.collectGarbage")
    heap = cdp.send("Runtime.getHeapUsage")["usedSize"] / 1e6
    dom = cdp.send("Memory.getDOMCounters")
    return heap, dom["nodes"], dom["jsEventListeners"]


def test_an_hour_of_frames_does_not_grow_the_page(proxy_factory: Callable[..., ProxyHandle], context: Any) -> None:
    # every post one frame, and none coalesced into another even when the page (or a loaded machine) lags:
    # the test counts the frames the page applied
    proxy = proxy_factory(aggregate_ms=0, client_buffer=HOUR_OF_FRAMES + WARM_UP)
    names = [f"Queue {i:02d}" for i in range(QUEUES)]
    proxy.post([queue_state(f"q{i:02d}", names[i], waiting=1) for i in range(QUEUES)])
    page = context.new_page()
    page.goto(proxy.url + "/?share=off")
    wait_until(lambda: len(read_board(page)) == QUEUES, within=10, what="every queue shown")
    cdp = context.new_cdp_session(page)

    with httpx.Client(timeout=10) as client:
        def frames(start: int, count: int) -> None:
            for n in range(start, start + count):
                q = n % QUEUES
                proxy.post([queue_state(f"q{q:02d}", names[q], waiting=n % 17, oInteracting=n % 5)], client)

        frames(0, WARM_UP)
        wait_until(lambda: page.evaluate("window.queuecast.stats.framesApplied") >= WARM_UP, within=30,
                   what="warm-up frames applied")
        before = _measure(cdp)
        frames(WARM_UP, HOUR_OF_FRAMES)
        wait_until(lambda: page.evaluate("window.queuecast.stats.framesApplied") >= WARM_UP + HOUR_OF_FRAMES,
                   within=60, what="an hour of frames applied")
    after = _measure(cdp)
    print(f"\nwallboard memory, {QUEUES} queues: after {WARM_UP} frames {before[0]:.1f} MB heap, "
          f"{before[1]} DOM nodes, {before[2]} listeners; after {WARM_UP + HOUR_OF_FRAMES} frames "
          f"{after[0]:.1f} MB heap, {after[1]} DOM nodes, {after[2]} listeners")
    assert after[0] <= before[0] * 1.25 + 1.0, (before, after)  # bounded: history is a fixed window
    assert after[1] <= before[1] * 1.05 + 50, (before, after)  # no nodes piling up
    assert after[2] <= before[2] + 10, (before, after)  # no listeners piling up
