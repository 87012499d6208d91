"""The wallboard in headless Chromium, fed by the simulator through the proxy (issue 5)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from bench.wallboard import INSTRUMENT_JS, RESULT_JS
from bench.wave import Wave, WaveShape
from tests.browser.board import WATCH_CONNECTION_JS, mismatches, read_board, wait_until
from tests.browser.conftest import ProxyHandle, SimHandle
from tests.helpers import SECRET

pytestmark = pytest.mark.browser

SETTLE_S = 2.0


def _live(page: Any) -> bool:
    return bool(page.evaluate("document.getElementById('conn').dataset.state === 'live'"))


def _equals_truth_within(page: Any, sim: SimHandle, within: float) -> None:
    """The board equals ``/sim/truth`` within ``within`` s (the world is paused, so truth is fixed)."""
    truth = sim.get("/sim/truth")["queues"]
    started = time.monotonic()
    last: list[str] = []

    def equal() -> bool:
        nonlocal last
        last = mismatches(read_board(page), truth)
        return not last

    try:
        wait_until(equal, within=within, interval=0.05, what="board == /sim/truth")
    except AssertionError:
        pytest.fail(f"board differs from /sim/truth after {time.monotonic() - started:.1f} s: {last[:5]}")


def _fed_board(proxy_factory: Callable[..., ProxyHandle], simulator_factory: Callable[..., SimHandle],
               context: Any, **proxy_overrides: Any) -> tuple[ProxyHandle, SimHandle, Any]:
    sim = simulator_factory(queues=4, agents=40, arrivals_per_min=60.0)
    proxy = proxy_factory(aggregate_ms=500, **{**sim.credentials(), **proxy_overrides})  # the production window
    sim.subscribe(proxy.url)
    page = context.new_page()
    page.goto(proxy.url + "/")
    return proxy, sim, page


def test_board_shows_every_queue_and_equals_truth_once_the_world_settles(
        proxy_factory: Callable[..., ProxyHandle], simulator_factory: Callable[..., SimHandle], context: Any) -> None:
    _, sim, page = _fed_board(proxy_factory, simulator_factory, context)
    queue_ids = {q["id"] for q in sim.get("/sim/queues")["entities"]}
    # a wave touches every queue and media, so each (queue, media) has been observed at least once
    sim.post("/sim/waves", {"ratePerMin": 600, "durationS": 3})
    wait_until(lambda: {r["queueId"] for r in read_board(page)} == queue_ids, within=10, what="every queue shown")
    time.sleep(3)
    sim.post("/sim/pause")
    _equals_truth_within(page, sim, SETTLE_S)
    assert _live(page)


def test_proxy_restart_shows_reconnecting_then_live_without_reload(
        proxy_factory: Callable[..., ProxyHandle], simulator_factory: Callable[..., SimHandle], context: Any) -> None:
    proxy, sim, page = _fed_board(proxy_factory, simulator_factory, context)
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
    wait_until(lambda: _live(page) and read_board(page), within=10, what="a live board")
    page.evaluate("window.__sameDocument = true")
    page.evaluate(WATCH_CONNECTION_JS)

    restarted = proxy.restart()  # same port, fresh state and epoch
    wait_until(lambda: "reconnecting" in page.evaluate("window.__connStates"), within=5, what="reconnecting shown")
    wait_until(lambda: _live(page), within=15, what="live again")
    states = page.evaluate("window.__connStates")
    assert states[0] == "live" and "reconnecting" in states and states[-1] == "live", states

    # the fresh proxy has only seen what changed since it started: a wave re-observes every queue
    sim.post("/sim/waves", {"ratePerMin": 600, "durationS": 3})
    time.sleep(4)
    sim.post("/sim/pause")
    _equals_truth_within(page, sim, SETTLE_S)
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    assert navigations == [], navigations
    assert restarted.subscribers == 1


def test_a_wave_keeps_one_render_pass_per_animation_frame_and_no_long_task(
        proxy_factory: Callable[..., ProxyHandle], context: Any, trio_thread: Any) -> None:
    """What the page does under a wave; the rate it renders is a bench figure (``queuecast bench
    --sections wallboard``), measured with the same wave and the same page instrumentation."""
    proxy = proxy_factory()  # aggregate_ms=0: one frame per callback, the harshest case for the page
    wave = Wave(WaveShape(queues=40, events_per_s=1500, duration_s=4.0, batch=50), secret=SECRET)
    trio_thread.run(wave.prime, proxy.url)  # the board holds every queue before we measure
    page = context.new_page()
    page.goto(proxy.url + "/")
    wait_until(lambda: len(read_board(page)) == 40, within=10, what="40 rows")
    page.evaluate(INSTRUMENT_JS)

    sent = trio_thread.run(wave.run, proxy.url)
    time.sleep(0.5)  # let the last frames land
    result = page.evaluate(RESULT_JS)

    assert sent.failed_callbacks == 0, sent
    assert result["applied"] >= 20, result  # frames really arrived during the wave (~100 on a quiet machine)
    assert result["passes"] <= result["frames"] + 1, result  # never more passes than animation frames
    assert result["distinctStamps"] == result["stamps"], result  # no animation frame ran two passes
    assert result["passes"] < result["applied"], result  # bursts of frames cost one pass
    assert max(result["longTasks"], default=0) <= 200, result["longTasks"]
    assert mismatches(read_board(page), proxy.queues()["queues"]) == []
