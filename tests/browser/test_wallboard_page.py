"""The wallboard page's own behaviour in headless Chromium, driven by signed callbacks (issue 5)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.browser.board import WATCH_CONNECTION_JS, mismatches, read_board, wait_until
from tests.browser.conftest import SCREENSHOT, ProxyHandle, TrioThread
from tests.browser.feed import interval_figures, page_now, queue_state

pytestmark = pytest.mark.browser

def _populate(proxy: ProxyHandle) -> None:
    proxy.post([
        queue_state("q-billing", "Billing", waiting=7, longest_s=200, oInteracting=23, oAlerting=1,
               oUserRoutingStatuses={"IDLE": 4, "INTERACTING": 23, "COMMUNICATING": 2, "OFF_QUEUE": 6},
               interval=interval_figures(41, 35, 4, (30, 35), 0.8)),
        queue_state("q-billing", "Billing", media="chat", waiting=2, longest_s=45, oInteracting=2,
               interval=interval_figures(9, 8, 0, (8, 8), 0.8)),
        queue_state("q-claims", "Claims", waiting=3, longest_s=75, oInteracting=12,
               oUserRoutingStatuses={"IDLE": 2, "INTERACTING": 12, "NOT_RESPONDING": 1, "OFF_QUEUE": 3},
               interval=interval_figures(30, 22, 3, (16, 22), 0.8)),
        queue_state("q-loyalty", "Loyalty", waiting=0, oInteracting=5,
               oUserRoutingStatuses={"IDLE": 7, "INTERACTING": 5},
               interval=interval_figures(12, 12, 0, (12, 12), 0.9)),
        queue_state("q-sales", "Sales", waiting=12, longest_s=400, oInteracting=30, oAlerting=3,
               oUserRoutingStatuses={"IDLE": 0, "INTERACTING": 30, "COMMUNICATING": 1, "OFF_QUEUE": 2},
               interval=interval_figures(88, 70, 11, (48, 70), 0.8)),
        queue_state("q-support", "Tech Support", waiting=5, longest_s=30, oInteracting=18,
               oUserRoutingStatuses={"IDLE": 3, "INTERACTING": 18, "OFF_QUEUE": 4},
               interval=interval_figures(52, 47, 2, (40, 47), 0.8)),
    ])


def _conn(page: Any) -> str:
    state: str = page.evaluate("document.getElementById('conn').dataset.state")
    return state


def _order(page: Any) -> list[str]:
    return [row["queueId"] for row in read_board(page)]


def test_subset_sorting_thresholds_ticking_and_large_mode(
        proxy_factory: Callable[..., ProxyHandle], context: Any) -> None:
    proxy = proxy_factory()
    _populate(proxy)
    page = context.new_page()
    page.goto(proxy.url + "/?queues=q-billing,q-claims,q-loyalty&sort=waiting&dir=desc&wait=60,180")

    # ?queues= is passed on to the stream: only those queues reach the page, sorted by waiting
    wait_until(lambda: _order(page) == ["q-billing", "q-claims", "q-loyalty"], within=5, what="subset by waiting")
    assert page.evaluate("[...window.queuecast.store.queues.keys()].sort()") == ["q-billing", "q-claims", "q-loyalty"]
    subset = {q: v for q, v in proxy.queues()["queues"].items() if q in ("q-billing", "q-claims", "q-loyalty")}
    assert mismatches(read_board(page), subset) == []

    rows = {row["queueId"]: row for row in read_board(page)}
    billing, claims, loyalty = rows["q-billing"]["cells"], rows["q-claims"]["cells"], rows["q-loyalty"]["cells"]
    # several media: the total and each media
    assert rows["q-billing"]["media"] == {"chat": 2, "voice": 7}
    # thresholds carry a shape and a title, not only a colour
    assert (billing["waiting"]["level"], billing["waiting"]["badge"]) == ("amber", "▲")  # 9 waiting ≥ 5
    assert (billing["longest"]["level"], billing["longest"]["badge"]) == ("red", "◆")  # 200 s ≥ 180 s
    assert (claims["longest"]["level"], claims["longest"]["badge"]) == ("amber", "▲")  # 75 s ≥ 60 s
    assert (loyalty["longest"]["level"], loyalty["longest"]["text"]) == ("", "—")  # nobody waits
    assert (claims["sl"]["level"], claims["sl"]["text"]) == ("amber", "72.7%")  # 16/22 under the 80 % target
    assert (billing["sl"]["level"], billing["sl"]["text"]) == ("", "88.4%")  # 38/43 meets it
    assert billing["aht"]["text"] == "4:05"  # average handle time: Σ tHandle.sum / handled
    assert page.locator('tr[data-queue="q-claims"] td[data-col="longest"]').get_attribute("title") == \
        "longest wait: warning"

    # the longest wait ticks every second in the browser
    cell = page.locator('tr[data-queue="q-claims"] td[data-col="longest"] .v')
    first = cell.text_content()
    wait_until(lambda: cell.text_content() not in (None, "", first), within=5, what="the longest wait ticked")

    # sorting by a column, without a reload; the URL follows
    page.evaluate("window.__sameDocument = true")
    page.click('th[data-col="name"] button')
    wait_until(lambda: _order(page) == ["q-billing", "q-claims", "q-loyalty"], within=2, what="sorted by name")
    page.click('th[data-col="name"] button')
    wait_until(lambda: _order(page) == ["q-loyalty", "q-claims", "q-billing"], within=2, what="name, descending")
    assert "sort=name" in page.url and "dir=desc" in page.url

    # large-display mode scales the type to the screen
    normal = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    page.keyboard.press("l")
    large = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert large > normal * 1.2, (normal, large)
    assert "display=large" in page.url
    assert page.evaluate("window.__sameDocument") is True

    # a delta merges one whole view; the other rows keep theirs
    proxy.post([queue_state("q-claims", "Claims", waiting=1, longest_s=5, oInteracting=14)])
    wait_until(lambda: page.locator('tr[data-queue="q-claims"] td[data-col="waiting"]').get_attribute("data-value")
               == "1", within=3, what="delta applied")
    subset = {q: v for q, v in proxy.queues()["queues"].items() if q in ("q-billing", "q-claims", "q-loyalty")}
    assert mismatches(read_board(page), subset) == []


def test_stale_upstream_turns_the_stale_indicator_on(proxy_factory: Callable[..., ProxyHandle], context: Any) -> None:
    proxy = proxy_factory(stale_after_s=2.0)  # the upstream turns "degraded" 2 s after the last event
    _populate(proxy)
    page = context.new_page()
    page.goto(proxy.url + "/")
    banner = page.locator("#stale-banner")
    wait_until(lambda: page.evaluate("document.body.dataset.stale") == "true", within=5, what="stale on")
    assert banner.is_visible()
    assert "upstream degraded" in (banner.text_content() or "")
    assert page.locator("#upstream").get_attribute("data-state") == "degraded"
    # an event brings the upstream back: the indicator turns off again
    proxy.post([queue_state("q-sales", "Sales", waiting=4)])
    wait_until(lambda: page.evaluate("document.body.dataset.stale") == "false", within=3, what="stale off")
    assert not banner.is_visible()
    assert page.locator("#upstream").get_attribute("data-state") == "live"


@pytest.mark.parametrize("share", ["worker", "channel"])
def test_two_tabs_of_a_board_share_one_stream(
        share: str, proxy_factory: Callable[..., ProxyHandle], context: Any) -> None:
    proxy = proxy_factory()
    _populate(proxy)
    first, second = context.new_page(), context.new_page()
    for page in (first, second):
        page.goto(f"{proxy.url}/?share={share}")
    for page in (first, second):
        wait_until(lambda p=page: len(read_board(p)) == 5 and _conn(p) == "live", within=5, what="a live board")
    assert first.evaluate("window.queuecast.board.mode") == share
    wait_until(lambda: proxy.subscribers == 1, within=3, what="one stream for two tabs")
    time.sleep(0.5)
    assert proxy.subscribers == 1

    # another board (a different subset) has its own stream
    other = context.new_page()
    other.goto(f"{proxy.url}/?share={share}&queues=q-sales")
    wait_until(lambda: proxy.subscribers == 2, within=5, what="a second board's stream")
    other.close()
    wait_until(lambda: proxy.subscribers == 1, within=5, what="that stream closed")

    # the first tab goes away: the second keeps its live board, still on one stream
    first.close()
    proxy.post([queue_state("q-loyalty", "Loyalty", waiting=2, longest_s=3)])
    wait_until(lambda: second.locator('tr[data-queue="q-loyalty"] td[data-col="waiting"]').get_attribute(
        "data-value") == "2", within=5, what="the remaining tab updated")
    wait_until(lambda: proxy.subscribers == 1, within=5, what="still one stream")
    assert _conn(second) == "live"


def test_closed_stream_is_recreated_with_backoff_without_reload(
        proxy_factory: Callable[..., ProxyHandle], context: Any, trio_thread: TrioThread) -> None:
    # Over QC_MAX_CLIENTS the proxy answers 503: the browser's EventSource gives up (CLOSED).
    proxy = proxy_factory(max_clients=0)
    _populate(proxy)
    page = context.new_page()
    page.goto(proxy.url + "/")
    page.evaluate(WATCH_CONNECTION_JS)
    wait_until(lambda: "retrying in" in (page.locator("#conn").get_attribute("title") or ""), within=5,
               what="a scheduled re-creation")
    assert _conn(page) == "reconnecting"
    page.evaluate("window.__sameDocument = true")

    def admit() -> None:  # room for clients again (Runtime is the proxy's one mutable seam)
        proxy.runtime.settings = dataclasses.replace(proxy.runtime.settings, max_clients=100)

    trio_thread.run_sync(admit)
    wait_until(lambda: _conn(page) == "live" and len(read_board(page)) == 5, within=20, what="live after 503s")
    assert page.evaluate("window.__sameDocument") is True
    assert proxy.subscribers == 1


STORE_CHECKS_JS = """async () => {
  const { QueueStore, backoffDelay, streamUrl } = await import('/static/queuecast-client.js');
  const out = {};
  const s = new QueueStore({ now: () => 1_000_000 });
  const seen = [];
  s.subscribe((c) => seen.push(c.kind));
  const v = (id, waiting) => ({ queueId: id, name: id, waiting });
  s.applyFrame('snapshot', { epoch: 'e1', seq: 5, asOf: 't', queues: { a: v('a', 1), b: v('b', 2) } }, 'e1-5');
  out.afterSnapshot = [...s.queues.keys()];
  s.applyFrame('delta', { epoch: 'e1', seq: 6, asOf: 't', queues: { a: v('a', 9) }, removed: ['b'] }, 'e1-6');
  out.afterDelta = Object.fromEntries([...s.queues].map(([k, x]) => [k, x.waiting]));
  out.duplicateIgnored = s.applyFrame('delta', { epoch: 'e1', seq: 6, queues: { a: v('a', 0) }, removed: [] }) &&
    s.get('a').waiting === 9;
  out.otherEpochRefused = s.applyFrame('delta', { epoch: 'e2', seq: 7, queues: {}, removed: [] }) === false;
  s.applyFrame('snapshot', { epoch: 'e2', seq: 1, asOf: 't', queues: { c: v('c', 3) } }, 'e2-1');
  out.snapshotReplaces = [...s.queues.keys()];
  out.lastEventId = s.lastEventId;
  out.kinds = seen;
  const caps = [0, 1, 2, 3, 10, 40].map((n) => backoffDelay(n, { baseMs: 1000, maxMs: 30000, random: () => 0.999999 }));
  out.backoffCaps = caps;
  out.backoffFloor = backoffDelay(5, { random: () => 0 });
  out.url = streamUrl('/dashboard-stream', { queues: ['a', 'b'], lastEventId: 'e1-6' });
  return out;
}"""


def test_store_and_backoff_rules_in_the_browser(proxy_factory: Callable[..., ProxyHandle], context: Any) -> None:
    proxy = proxy_factory()
    page = context.new_page()
    page.goto(proxy.url + "/static/index.html")
    out = page.evaluate(STORE_CHECKS_JS)
    assert out["afterSnapshot"] == ["a", "b"]
    assert out["afterDelta"] == {"a": 9}
    assert out["duplicateIgnored"] and out["otherEpochRefused"]
    assert out["snapshotReplaces"] == ["c"] and out["lastEventId"] == "e2-1"
    assert out["kinds"] == ["snapshot", "delta", "snapshot"]
    assert out["backoffCaps"] == [999, 1999, 3999, 7999, 29999, 29999]  # full jitter under min(30 s, 2^n s)
    assert out["backoffFloor"] == 0
    assert out["url"] == "/dashboard-stream?queues=a%2Cb&lastEventId=e1-6"


def test_screenshot_of_a_populated_board_at_1920x1080(
        proxy_factory: Callable[..., ProxyHandle], context: Any) -> None:
    """Saves docs/wallboard.png. A fake page clock lays 15 minutes of real frames into the sparklines."""
    proxy = proxy_factory(stale_after_s=3600)
    _populate(proxy)
    page = context.new_page()
    page.clock.install()
    page.goto(proxy.url + "/?share=off")
    wait_until(lambda: len(read_board(page)) == 5, within=5, what="five rows")
    shape = {"q-billing": 9, "q-claims": 4, "q-loyalty": 1, "q-sales": 14, "q-support": 6}
    for step in range(30):  # 30 × 30 s of page time, one update per queue each
        version = page.evaluate("window.queuecast.store.version")
        proxy.post([queue_state(q, q, waiting=max(0, round(base + base * 0.6 * ((step * (i + 3)) % 7 - 3) / 3)))
                    for i, (q, base) in enumerate(shape.items())])
        wait_until(lambda v=version: page.evaluate("window.queuecast.store.version") > v, within=3, what="frame in")
        page.clock.fast_forward(30_000)
    page_now[0] = datetime.fromtimestamp(page.evaluate("Date.now()") / 1000, UTC)
    try:
        _populate(proxy)  # the final figures, with their thresholds
    finally:
        page_now[0] = None
    time.sleep(0.3)
    page.clock.run_for(1_000)
    assert mismatches(read_board(page), proxy.queues()["queues"]) == []
    assert page.evaluate("document.querySelectorAll('.c-trend path[d^=M]').length") == 5
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 20_000
