"""The wallboard figure: events/s that a real board in headless Chromium renders during a wave.

A proxy with ``QC_AGGREGATE_MS=0`` (one frame per callback: the page's harshest case) is primed
with every (queue, media), one board opens in Chromium and holds every row, and then a
:class:`bench.wave.Wave` goes through the proxy's callback while the page counts, from its own
clock: animation frames, render passes (``window.queuecast.stats``), frames applied, long tasks
(``PerformanceObserver('longtask')``) and the longest render pass. After the last callback is
answered the page waits, frame by frame, until every row shows the final state the wave derived
from what the proxy acknowledged.

``events_per_s`` = acknowledged wave events ÷ (instrumentation → the frame the board first shows
that final state): the rate at which events became visible, catch-up included. It is absolute (not
ratio-based) and depends on Chromium and on a shared CPU, so it is reported and never gated.

The proxy runs below the browser's priority (nice 10), as in the browser tests: in production the
wallboard's machine is not the proxy's, and the page's long tasks should measure the page.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import trio

from bench.browser import CHROMIUM, launch
from bench.procs import Child
from bench.wave import MEDIA, Wave, WaveResult, WaveShape

PROXY_NICENESS = 10

ROWS_JS = "n => document.querySelectorAll('#rows tr').length >= n"

# Counts animation frames and long tasks from now on (the wave starts right after).
INSTRUMENT_JS = """() => {
  const s = window.queuecast.stats;
  s.maxPassMs = 0;
  const m = window.__measure = {t0: performance.now(), frames: 0, longTasks: [], passesAtStart: s.renderPasses,
                                framesAtStart: s.framesApplied, stampsAtStart: s.passStamps.length};
  new PerformanceObserver((list) => { for (const e of list.getEntries()) m.longTasks.push(e.duration); })
    .observe({type: 'longtask'});
  const count = () => { m.frames++; requestAnimationFrame(count); };
  requestAnimationFrame(count);
}"""

# Resolves at the first animation frame where every row shows its expected [waiting, interacting,
# alerting], or after timeoutMs with caughtUp false.
CAUGHT_UP_JS = """({expected, timeoutMs}) => new Promise((resolve) => {
  const t0 = performance.now();
  const cell = (tr, col) => tr.querySelector(`[data-col="${col}"]`)?.getAttribute('data-value');
  const shows = () => Object.entries(expected).every(([q, [w, i, a]]) => {
    const tr = document.querySelector(`#rows tr[data-queue="${CSS.escape(q)}"]`);
    return tr !== null && cell(tr, 'waiting') === String(w) && cell(tr, 'interacting') === String(i)
      && cell(tr, 'alerting') === String(a);
  });
  const check = () => {
    const now = performance.now();
    if (shows()) resolve({caughtUp: true, at: now, waitedMs: now - t0});
    else if (now - t0 > timeoutMs) resolve({caughtUp: false, at: now, waitedMs: now - t0});
    else requestAnimationFrame(check);
  };
  check();
})"""

RESULT_JS = """() => {
  const m = window.__measure, s = window.queuecast.stats;
  const stamps = s.passStamps.slice(m.stampsAtStart);
  return {t0: m.t0, now: performance.now(), frames: m.frames, longTasks: m.longTasks,
          passes: s.renderPasses - m.passesAtStart, applied: s.framesApplied - m.framesAtStart,
          distinctStamps: new Set(stamps).size, stamps: stamps.length, maxPassMs: s.maxPassMs,
          rows: document.querySelectorAll('#rows tr').length};
}"""


BOARD_STATE_JS = """() => `${document.querySelectorAll('#rows tr').length} rows, connection `
  + `${document.getElementById('conn')?.dataset.state ?? '?'}`"""


class WallboardFailed(RuntimeError):
    """The page did not get through the measurement (a timeout, a crash); the message says where."""


def _in_browser(chromium: Path, url: str, wave: Wave, catch_up_s: float) -> dict[str, Any]:
    """Runs in one worker thread: the page, instrumented, while the wave runs back in trio."""
    from playwright.sync_api import Error

    with launch(chromium) as browser:
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        page.set_default_timeout(15_000)
        try:
            page.goto(url + "/")
            page.wait_for_function(ROWS_JS, arg=len(wave.queue_ids))
            page.evaluate(INSTRUMENT_JS)
            sent: WaveResult = trio.from_thread.run(wave.run, url)
            expected = {q: list(counts) for q, counts in wave.expected().items()}
            caught: dict[str, Any] = page.evaluate(CAUGHT_UP_JS, {"expected": expected,
                                                                  "timeoutMs": catch_up_s * 1000})
            page_figures: dict[str, Any] = page.evaluate(RESULT_JS)
        except Error as exc:
            try:
                state = str(page.evaluate(BOARD_STATE_JS))
            except Error:
                state = "page gone"
            raise WallboardFailed(f"{str(exc).strip().splitlines()[0]} (board: {state})") from exc
        version = browser.version
    return _report(wave, sent, caught, page_figures, version)


def _report(wave: Wave, sent: WaveResult, caught: dict[str, Any], page: dict[str, Any],
            version: str) -> dict[str, Any]:
    shape = wave.shape
    window_s = (caught["at"] - page["t0"]) / 1000
    frames_s = (page["now"] - page["t0"]) / 1000
    long_tasks = [float(d) for d in page["longTasks"]]
    return {
        "queues": shape.queues, "media": len(MEDIA), "offered_events_per_s": shape.events_per_s,
        "duration_s": shape.duration_s, "batch": shape.batch, "aggregate_ms": 0, "browser": f"Chromium {version}",
        "proxy_niceness": PROXY_NICENESS,
        "events_per_s": round(sent.acked_events / window_s, 1) if caught["caughtUp"] else None,
        "caught_up": bool(caught["caughtUp"]),
        "catch_up_ms": round(float(caught["waitedMs"]), 1),
        "events": sent.events, "acked_events": sent.acked_events, "failed_callbacks": sent.failed_callbacks,
        "posted_events_per_s": round(sent.acked_per_s, 1),
        "frames_applied": page["applied"], "render_passes": page["passes"], "animation_frames": page["frames"],
        "animation_frames_per_s": round(page["frames"] / max(1e-9, frames_s), 1),
        "frames_with_two_passes": page["stamps"] - page["distinctStamps"],
        "long_tasks": {"count": len(long_tasks), "max_ms": round(max(long_tasks, default=0.0), 1)},
        "max_pass_ms": round(float(page["maxPassMs"]), 2),
        "rows": page["rows"],
    }


async def wallboard(proxy: Child, *, secret: str, shape: WaveShape, chromium: Path = CHROMIUM,
                    catch_up_s: float = 10.0) -> dict[str, Any]:
    """Measure one wave through ``proxy`` (started with ``QC_AGGREGATE_MS=0``) into a board.

    Raises :class:`bench.browser.BrowserUnavailable` when no Chromium can be driven,
    :class:`WallboardFailed` when the page does not get through, and :class:`bench.wave.WaveError`
    when the proxy refuses the priming callbacks.
    """
    proxy.ps.nice(PROXY_NICENESS)
    wave = Wave(shape, secret=secret)
    await wave.prime(proxy.url)
    return await trio.to_thread.run_sync(functools.partial(_in_browser, chromium, proxy.url, wave, catch_up_s))
