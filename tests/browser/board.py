"""Reading the wallboard from a Playwright page, and comparing it with ``QueueView``s."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")

ROUTING_STATUSES = ("IDLE", "INTERACTING", "COMMUNICATING", "NOT_RESPONDING", "OFF_QUEUE")

# Every cell's raw value (data-value), shown text and threshold level, per queue row (or tile), in display
# order, on every page (rows of other pages are hidden, not removed).
READ_BOARD_JS = """() => [...document.querySelectorAll('#rows tr[data-queue], #tiles .tile[data-queue]')].map(tr => ({
  queueId: tr.dataset.queue,
  cells: Object.fromEntries([...tr.querySelectorAll('[data-col]')].map(td => [td.dataset.col, {
    value: td.getAttribute('data-value'), text: td.querySelector('.v')?.textContent ?? null,
    level: td.getAttribute('data-level') || '', badge: td.querySelector('.badge')?.textContent ?? '',
    target: td.getAttribute('data-target')}])),
  media: Object.fromEntries([...tr.querySelectorAll('.media .m')].map(m => [m.dataset.media, Number(m.dataset.value)])),
}))"""

# Records every state the connection pill shows (a transient "reconnecting" is easy to miss by polling).
WATCH_CONNECTION_JS = """() => {
  const el = document.getElementById('conn');
  window.__connStates = [el.dataset.state];
  new MutationObserver(() => {
    const s = el.dataset.state;
    if (window.__connStates[window.__connStates.length - 1] !== s) window.__connStates.push(s);
  }).observe(el, {attributes: true, attributeFilter: ['data-state']});
}"""


def read_board(page: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = page.evaluate(READ_BOARD_JS)
    return rows


def wait_until(probe: Callable[[], T], *, within: float, interval: float = 0.1, what: str = "condition") -> T:
    """Poll ``probe`` until it returns something truthy; fail with the last value after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not reached within {within} s (last: {value!r})")
        time.sleep(interval)


def _same_float(shown: str | None, expected: float | None) -> bool:
    if expected is None:
        return shown in (None, "")
    return shown not in (None, "") and math.isclose(float(shown), expected, rel_tol=1e-9, abs_tol=1e-9)


def _same_instant(shown: str | None, expected: str | None) -> bool:
    if expected is None:
        return shown in (None, "")
    return shown not in (None, "") and datetime.fromisoformat(shown) == datetime.fromisoformat(expected)


def mismatches(board: list[dict[str, Any]], views: dict[str, dict[str, Any]]) -> list[str]:
    """What differs between the rendered board and ``views`` (queueId → QueueView); [] when equal."""
    problems: list[str] = []
    shown = {row["queueId"]: row for row in board}
    if set(shown) != set(views):
        problems.append(f"rows {sorted(shown)} != queues {sorted(views)}")
    for queue_id, view in views.items():
        row = shown.get(queue_id)
        if row is None:
            continue
        cells = row["cells"]
        interval = view.get("interval") or {}
        checks: list[tuple[str, bool]] = [("name", cells["name"]["value"] == view["name"])]
        for key in ("waiting", "interacting", "alerting"):
            checks.append((key, cells[key]["value"] == str(view[key]) and cells[key]["text"] == str(view[key])))
        checks.append(("longest", _same_instant(cells["longest"]["value"], view["longestWaitingSince"])))
        for status in ROUTING_STATUSES:
            n = view["agents"].get(status, 0)
            checks.append((f"agents-{status}", cells[f"agents-{status}"]["value"] == str(n)))
        checks.append(("sl", _same_float(cells["sl"]["value"], interval.get("serviceLevel"))))
        checks.append(("sl target", _same_float(cells["sl"]["target"], interval.get("serviceLevelTarget"))))
        checks.append(("abandon", _same_float(cells["abandon"]["value"], interval.get("abandonRate"))))
        checks.append(("asa", _same_float(cells["asa"]["value"], interval.get("asaMs"))))
        checks.append(("aht", _same_float(cells["aht"]["value"], interval.get("ahtMs"))))
        for key in ("offered", "answered"):
            expected = interval.get(key)
            checks.append((key, cells[key]["value"] == ("" if expected is None else str(expected))))
        # per-media waiting: every media the row breaks down must match, and add up to the total
        media = {m: s["waiting"] for m, s in view["media"].items()}
        if row["media"]:
            same = all(media.get(m) == n for m, n in row["media"].items())
            checks.append(("media", same and sum(row["media"].values()) == view["waiting"]))
        for name, ok in checks:
            if not ok:
                problems.append(f"{queue_id} {name}: board {cells.get(name.split()[0])} vs view {view}")
    return problems
