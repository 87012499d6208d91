"""The wallboard on a wall (issue 13): every queue readable without touching the screen.

Sixty and two hundred queues at 1920×1080 and 3840×2160: each queue is shown within one rotation
(or the board fits), no text overflows its box, the type stays above the floor, and an alarm on a
queue of another page is visible on the page shown now. Tiles and ``columns=`` show what the URL
asks; group totals (an explicit map, by division) add up against ``/sim/truth``; a saved board comes
from ``QC_BOARDS_FILE``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.board import mismatches, read_board, wait_until
from tests.browser.conftest import REPO, ProxyHandle, SimHandle
from tests.browser.feed import interval_figures, queue_state

pytestmark = pytest.mark.browser

DEPARTMENTS = ("Billing", "Sales", "Claims", "Returns", "Onboarding", "Technical", "Premium", "Renewals", "Accounts",
               "Shipping", "Loyalty", "Fraud", "Payments", "Retention", "Warranty", "Bookings")
SUFFIXES = ("Support", "Care", "Desk", "Line", "Team")
ALARM_QUEUE = "q-zz-alarm"
SHOT_ROWS = REPO / "docs" / "wallboard-60-rows.png"
SHOT_TILES = REPO / "docs" / "wallboard-60-tiles.png"

# Queue items shown now (not on another page): id, box, and whether the box lies inside <main>.
VISIBLE_JS = """() => {
  const main = document.getElementById('main').getBoundingClientRect();
  return [...document.querySelectorAll('#rows tr[data-queue], #tiles .tile[data-queue]')].filter(e => !e.hidden)
    .map(e => { const r = e.getBoundingClientRect();
      return {q: e.dataset.queue, inside: r.top >= main.top - 1 && r.bottom <= main.bottom + 1 &&
              r.left >= main.left - 1 && r.right <= main.right + 1 && r.height > 0}; });
}"""
# Every visible text box whose content does not fit it (cut or spilling), with where it is.
OVERFLOW_JS = """() => [...document.querySelectorAll(
    '#rows tr:not([hidden]) .line, main[data-dense=false] #rows tr:not([hidden]) .sub, ' +
    '#tiles .tile:not([hidden]) .line, #tiles .tile:not([hidden]) .label, .board:not([hidden]) thead th')]
  .filter(e => e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1)
  .map(e => `${e.closest('[data-queue]')?.dataset.queue ?? ''}/${e.closest('[data-col]')?.dataset.col ?? ''}: ` +
            `${e.textContent} (${e.scrollWidth}>${e.clientWidth} or ${e.scrollHeight}>${e.clientHeight})`)"""
# The type size of the queue names shown now, in px.
NAME_PX_JS = """() => Math.min(...[...document.querySelectorAll(
  '#rows tr[data-queue]:not([hidden]) [data-col=name], #tiles .tile[data-queue]:not([hidden]) [data-col=name]')]
  .map(e => parseFloat(getComputedStyle(e).fontSize)))"""


def _name(i: int) -> str:
    """Names like the simulator's: a department and a suffix, numbered past the first ones."""
    base = f"{DEPARTMENTS[i % len(DEPARTMENTS)]} {SUFFIXES[(i // len(DEPARTMENTS)) % len(SUFFIXES)]}"
    return base if i < len(DEPARTMENTS) * len(SUFFIXES) else f"{base} {i}"


def _wall(proxy: ProxyHandle, n: int) -> list[str]:
    """``n`` calm queues (no threshold crossed), the last by name in alarm (a 400 s wait). Returns the ids."""
    ids = [f"q-{i:03d}" for i in range(n - 1)] + [ALARM_QUEUE]
    states = [queue_state(q, _name(i), waiting=i % 4, longest_s=(i % 4) * 9 or None, oInteracting=5 + i % 7,
                          oUserRoutingStatuses={"IDLE": 1 + i % 5, "INTERACTING": 5 + i % 7, "OFF_QUEUE": i % 3},
                          interval=interval_figures(20 + i % 30, 18 + i % 30, 1, (17 + i % 30, 18 + i % 30), 0.8))
              for i, q in enumerate(ids[:-1])]
    states.append(queue_state(ALARM_QUEUE, "Zimmermann Overflow Care", waiting=3, longest_s=400, oInteracting=4,
                              oUserRoutingStatuses={"IDLE": 0, "INTERACTING": 4},
                              interval=interval_figures(30, 28, 2, (26, 28), 0.8)))
    with httpx.Client(timeout=10) as client:
        for start in range(0, len(states), 50):
            proxy.post(states[start:start + 50], client)
    return ids


def _layout(page: Any) -> dict[str, Any]:
    layout: dict[str, Any] = page.evaluate("window.queuecast.layout")
    return layout


def _laid_out(page: Any, n: int) -> dict[str, Any]:
    wait_until(lambda: len(read_board(page)) == n, within=10, what=f"{n} queues on the board")
    return wait_until(lambda: (lay := _layout(page))["perPage"] and lay, within=5, what="a layout")


def _walk_pages(page: Any, height: int, alarm: str | None = ALARM_QUEUE) -> set[str]:
    """Shows each page in turn; on each, every item is whole inside the board, no text overflows, the
    type is at or above the floor and the queue ``alarm`` is in view. Returns the queues seen."""
    layout = _layout(page)
    floor = 18 * height / 1080
    seen: set[str] = set()
    for index in range(layout["pages"]):
        page.evaluate(f"window.queuecast.showPage({index})")
        wait_until(lambda i=index: page.locator("#page .text").text_content() == f"{i + 1} / {layout['pages']}"
                   or layout["pages"] == 1, within=3, what=f"page {index + 1}")
        time.sleep(0.15)  # one render pass
        visible = page.evaluate(VISIBLE_JS)
        assert visible and all(v["inside"] for v in visible), [v for v in visible if not v["inside"]][:3]
        assert page.evaluate(OVERFLOW_JS) == []
        assert page.evaluate(NAME_PX_JS) >= floor - 0.5
        seen |= {v["q"] for v in visible}
        if alarm is None:
            continue
        chip = page.locator(f'#alarms .chip[data-queue="{alarm}"]')
        on_this_page = alarm in {v["q"] for v in visible}
        assert on_this_page or (chip.is_visible() and _in_viewport(page, chip)), \
            f"alarm out of sight on page {index + 1}: {chip.bounding_box()} {layout} " \
            f"{page.evaluate('document.getElementById(`alarms`).outerHTML')} {page.evaluate(VISIBLE_JS)[:2]}"
    return seen


def _figures_differ(board: list[dict[str, Any]], views: dict[str, Any]) -> list[str]:
    """Rows are checked whole (``mismatches``); tiles on the figures they show."""
    if board and "interacting" in board[0]["cells"]:
        return mismatches(board, views)
    wrong = [] if {t["queueId"] for t in board} == set(views) else ["not every queue has a tile"]
    for tile in board:
        view, cells = views[tile["queueId"]], tile["cells"]
        if (cells["name"]["value"], cells["waiting"]["value"], cells["agents-IDLE"]["value"]) != (
                view["name"], str(view["waiting"]), str(view["agents"]["IDLE"])):
            wrong.append(f"{tile['queueId']}: {cells} vs {view}")
        if not math.isclose(float(cells["sl"]["value"]), view["interval"]["serviceLevel"]):
            wrong.append(f"{tile['queueId']} sl: {cells['sl']} vs {view['interval']}")
    return wrong


def _in_viewport(page: Any, locator: Any) -> bool:
    box = locator.bounding_box()
    size = page.viewport_size
    return bool(box and box["x"] >= 0 and box["y"] >= 0 and box["x"] < size["width"]
                and box["y"] + box["height"] <= size["height"])


@pytest.mark.parametrize("size", [(1920, 1080), (3840, 2160)], ids=["1080p", "2160p"])
@pytest.mark.parametrize("count", [60, 200])
@pytest.mark.parametrize("layout", ["rows", "tiles"])
def test_every_queue_is_shown_within_one_rotation_and_an_alarm_elsewhere_is_visible_now(
        layout: str, count: int, size: tuple[int, int], proxy_factory: Callable[..., ProxyHandle],
        browser: Any) -> None:
    proxy = proxy_factory()
    ids = _wall(proxy, count)
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    try:
        page = context.new_page()
        page.goto(f"{proxy.url}/?share=off&layout={layout}")
        lay = _laid_out(page, count)
        # these boards do not fit at a legible size: they page, with an indicator and the alarm pinned
        assert lay["pages"] > 1 and lay["mode"] == "rotate", lay
        assert page.locator("#page").is_visible()
        assert page.locator(f'#alarms .chip[data-queue="{ALARM_QUEUE}"]').is_visible()
        assert lay["perPage"] * (lay["pages"] - 1) < count <= lay["perPage"] * lay["pages"]  # pages evenly filled
        assert _walk_pages(page, size[1]) == set(ids)
        assert _figures_differ(read_board(page), proxy.queues()["queues"]) == []
    finally:
        context.close()


def test_pages_turn_on_their_own(proxy_factory: Callable[..., ProxyHandle], context: Any) -> None:
    proxy = proxy_factory()
    _wall(proxy, 60)
    page = context.new_page()
    page.goto(f"{proxy.url}/?share=off&pageSeconds=2")
    lay = _laid_out(page, 60)
    shown = [page.locator("#page .text").text_content()]
    wait_until(lambda: page.locator("#page .text").text_content() != shown[0], within=4, what="the next page")
    assert page.locator("#page .text").text_content() == f"2 / {lay['pages']}"


def test_a_few_queues_fit_one_screen_in_large_type(proxy_factory: Callable[..., ProxyHandle], context: Any) -> None:
    proxy = proxy_factory()
    ids = _wall(proxy, 6)
    page = context.new_page()
    page.goto(f"{proxy.url}/?share=off")
    lay = _laid_out(page, 6)
    assert lay["pages"] == 1 and lay["mode"] == "fit" and not lay["dense"], lay
    assert not page.locator("#page").is_visible() and not page.locator("#alarms").is_visible()
    assert page.evaluate(NAME_PX_JS) >= 24  # well above the 18 px floor: a board of six reads from afar
    assert {v["q"] for v in page.evaluate(VISIBLE_JS)} == set(ids)
    assert page.evaluate(OVERFLOW_JS) == []
    assert page.evaluate(  # names get the width they need: none is cut
        "document.querySelectorAll('[data-col=name][data-cut=true]').length") == 0


def test_columns_and_tiles_render_what_the_url_asks(proxy_factory: Callable[..., ProxyHandle], context: Any) -> None:
    proxy = proxy_factory()
    _wall(proxy, 12)
    views = proxy.queues()["queues"]
    page = context.new_page()
    page.goto(f"{proxy.url}/?share=off&columns=sl,waiting,aht,agents")
    wait_until(lambda: len(read_board(page)) == 12, within=10, what="12 rows")
    agents = [f"agents-{s}" for s in ("IDLE", "INTERACTING", "COMMUNICATING", "NOT_RESPONDING", "OFF_QUEUE")]
    wanted = ["name", "sl", "waiting", "aht", *agents]
    assert page.evaluate("[...document.querySelectorAll('#columns th')].map(th => th.dataset.col)") == wanted
    for row in read_board(page):
        assert list(row["cells"]) == wanted
        view = views[row["queueId"]]
        assert row["cells"]["waiting"]["value"] == str(view["waiting"])
        assert math.isclose(float(row["cells"]["sl"]["value"]), view["interval"]["serviceLevel"])
        assert row["cells"]["agents-IDLE"]["value"] == str(view["agents"]["IDLE"])

    page.goto(f"{proxy.url}/?share=off&layout=tiles")
    wait_until(lambda: len(read_board(page)) == 12, within=10, what="12 tiles")
    assert page.locator("#board").is_hidden() and page.locator("#tiles").is_visible()
    for tile in read_board(page):
        assert list(tile["cells"]) == ["name", "waiting", "longest", "sl", "agents-IDLE"]  # what is read first
        assert tile["cells"]["agents-IDLE"]["value"] == str(views[tile["queueId"]]["agents"]["IDLE"])
    title = page.locator('.tile[data-queue="q-001"]').get_attribute("title") or ""
    assert title.startswith(_name(1)) and "AHT" in title and "abandoned" in title  # the rest, on hover
    assert page.evaluate(OVERFLOW_JS) == []

    page.goto(f"{proxy.url}/?share=off&layout=tiles&columns=abandon,asa")
    wait_until(lambda: len(read_board(page)) == 12, within=10, what="12 tiles")
    assert all(list(t["cells"]) == ["name", "abandon", "asa"] for t in read_board(page))


# Each group total row: its name and every cell's raw value.
GROUPS_JS = """() => [...document.querySelectorAll('#rows tr[data-group]')].map(tr => ({
  group: tr.dataset.group, at: [...tr.parentElement.children].indexOf(tr),
  cells: Object.fromEntries([...tr.querySelectorAll('[data-col]')].map(td => [td.dataset.col,
    td.getAttribute('data-value')]))}))"""
ORDER_JS = "() => [...document.querySelectorAll('#rows tr')].map(tr => tr.dataset.queue || 'group:' + tr.dataset.group)"


def _expected_totals(views: list[dict[str, Any]]) -> dict[str, float | None]:
    """A group's totals from the truth: sums, and service level as Σ numerators / Σ denominators (the
    truth's own terms of each queue's ratio)."""
    ivs = [v["interval"] for v in views]
    num = sum(iv["serviceLevelNumerator"] for iv in ivs)
    den = sum(iv["serviceLevelDenominator"] for iv in ivs)
    offered = sum(iv["offered"] for iv in ivs)
    answered = sum(iv["answered"] for iv in ivs)
    out: dict[str, float | None] = {key: sum(v[key] for v in views) for key in ("waiting", "interacting", "alerting")}
    for status in ("IDLE", "INTERACTING", "COMMUNICATING", "NOT_RESPONDING", "OFF_QUEUE"):
        out[f"agents-{status}"] = sum(v["agents"][status] for v in views)
    out |= {"offered": offered, "answered": answered, "sl": num / den if den else None,
            "abandon": sum(iv["abandoned"] for iv in ivs) / offered if offered else None,
            "asa": sum((iv["asaMs"] or 0) * iv["answered"] for iv in ivs) / answered if answered else None}
    return out


def _assert_totals(name: str, cells: dict[str, Any], views: list[dict[str, Any]]) -> None:
    """The group row's cells equal the totals of ``views``; its service level to the last bit."""
    expected = _expected_totals(views)
    for key, value in expected.items():
        if value is None:
            assert cells[key] in (None, ""), (name, key, cells[key])
        else:
            assert math.isclose(float(cells[key]), value, rel_tol=1e-9, abs_tol=1e-9), (name, key, cells[key])
    # exact, not close: the same Σ numerators / Σ denominators as the truth's terms
    assert (float(cells["sl"]) if cells["sl"] else None) == expected["sl"], (name, cells["sl"])


def test_group_totals_add_up_against_the_truth(
        proxy_factory: Callable[..., ProxyHandle], simulator_factory: Callable[..., SimHandle], context: Any) -> None:
    sim = simulator_factory(queues=8, agents=80, arrivals_per_min=60.0)
    proxy = proxy_factory(aggregate_ms=500, **sim.credentials())
    sim.subscribe(proxy.url)
    ids = sorted(q["id"] for q in sim.get("/sim/queues")["entities"])
    groups = {"North": ids[:3], "South": ids[3:6], "Other": ids[6:]}  # the last two are in no group: Other
    spec = ";".join(f"{g}:{','.join(members)}" for g, members in groups.items() if g != "Other")
    page = context.new_page()
    page.goto(f"{proxy.url}/?share=off&groups={spec}")
    sim.post("/sim/waves", {"ratePerMin": 600, "durationS": 3})
    time.sleep(4)
    sim.post("/sim/pause")
    truth = sim.get("/sim/truth")["queues"]
    wait_until(lambda: mismatches(read_board(page), truth) == [], within=5, what="board == /sim/truth")
    time.sleep(0.3)  # the group rows are summed in the same pass; one more for good measure

    shown = {g["group"]: g for g in page.evaluate(GROUPS_JS)}
    assert list(shown) == ["North", "South", "Other"]
    for name, members in groups.items():
        cells = shown[name]["cells"]
        assert cells["name"] == name
        _assert_totals(name, cells, [truth[q] for q in members])
        waits = [datetime.fromisoformat(truth[q]["longestWaitingSince"]) for q in members
                 if truth[q]["longestWaitingSince"]]
        assert (datetime.fromisoformat(cells["longest"]) if cells["longest"] else None) == min(waits, default=None)
    # each total comes first, then its own queues
    order = page.evaluate(ORDER_JS)
    for name, members in groups.items():
        at = order.index(f"group:{name}")
        assert set(order[at + 1:at + 1 + len(members)]) == set(members)

    page.goto(f"{proxy.url}/?share=off&groups=prefix")
    wait_until(lambda: len(read_board(page)) == 8, within=5, what="8 rows")
    words = {truth[q]["name"].split()[0] for q in ids}
    wait_until(lambda: {g["group"] for g in page.evaluate(GROUPS_JS)} == words, within=3, what="a group per word")

    # by the division the routing API gives each queue (the simulator has two, the queues alternating)
    divisions: dict[str, list[str]] = {}
    for q in ids:
        divisions.setdefault(truth[q]["division"], []).append(q)
    assert len(divisions) == 2 and all(len(members) >= 2 for members in divisions.values()), divisions
    page.goto(f"{proxy.url}/?share=off&groups=division")
    wait_until(lambda: len(page.evaluate(GROUPS_JS)) == 2, within=5, what="a group per division")
    shown = {g["group"]: g for g in page.evaluate(GROUPS_JS)}
    assert list(shown) == sorted(divisions)
    for name, members in divisions.items():
        _assert_totals(name, shown[name]["cells"], [truth[q] for q in members])


def test_sixty_simulated_queues_on_one_1080p_screen_and_the_screenshots(
        proxy_factory: Callable[..., ProxyHandle], simulator_factory: Callable[..., SimHandle], context: Any) -> None:
    """``queuecast demo --queues 60 --agents 600`` as a supervisor sees it; saves the docs' screenshots."""
    sim = simulator_factory(queues=60, agents=600, arrivals_per_min=30.0)
    proxy = proxy_factory(aggregate_ms=500, **sim.credentials())
    sim.subscribe(proxy.url)
    page = context.new_page()
    page.goto(f"{proxy.url}/?share=off")
    sim.post("/sim/waves", {"ratePerMin": 240, "durationS": 3})  # every queue and media observed at least once
    _laid_out(page, 60)
    time.sleep(4)
    sim.post("/sim/pause")
    truth = sim.get("/sim/truth")["queues"]
    wait_until(lambda: mismatches(read_board(page), truth) == [], within=5, what="board == /sim/truth")
    assert _walk_pages(page, 1080, alarm=None) == set(truth)
    page.evaluate("window.queuecast.showPage(0)")
    time.sleep(0.3)
    page.screenshot(path=str(SHOT_ROWS))

    page.goto(f"{proxy.url}/?share=off&layout=tiles")
    _laid_out(page, 60)
    assert _walk_pages(page, 1080, alarm=None) == set(truth)
    page.evaluate("window.queuecast.showPage(0)")
    time.sleep(0.3)
    page.screenshot(path=str(SHOT_TILES))
    assert SHOT_ROWS.stat().st_size > 50_000 and SHOT_TILES.stat().st_size > 50_000


def test_a_saved_board_from_the_boards_file(
        proxy_factory: Callable[..., ProxyHandle], context: Any, tmp_path: Path) -> None:
    path = tmp_path / "boards.toml"
    path.write_text('[boards.floor]\ntitle = "Floor 2"\nqueues = ["q-000", "q-001", "q-002"]\nlayout = "tiles"\n'
                    'columns = ["waiting", "longest"]\n\n[boards.floor.thresholds."q-002"]\nwait = [5, 10]\n')
    proxy = proxy_factory(boards_file=path)
    _wall(proxy, 12)
    page = context.new_page()
    page.goto(f"{proxy.url}/b/floor")
    wait_until(lambda: len(read_board(page)) == 3, within=10, what="the board's three queues")
    tiles = {t["queueId"]: t["cells"] for t in read_board(page)}
    assert set(tiles) == {"q-000", "q-001", "q-002"}  # only these reach the page (?queues= on the stream)
    assert all(list(cells) == ["name", "waiting", "longest"] for cells in tiles.values())
    assert page.locator("#title").text_content() == "Floor 2"
    # q-002 waits 18 s: an alarm by its own thresholds (5 s / 10 s); q-001's 9 s is nothing by the board's
    assert tiles["q-002"]["longest"]["level"] == "red" and tiles["q-001"]["longest"]["level"] == ""
    assert page.url == f"{proxy.url}/b/floor"

    page.goto(f"{proxy.url}/b/floor?layout=rows")  # a parameter on the short URL wins over the file
    wait_until(lambda: len(page.evaluate("[...document.querySelectorAll('#rows tr[data-queue]')]")) == 3,
               within=10, what="three rows")
    assert page.locator("#tiles").is_hidden()


def test_kiosk_hides_the_cursor_keeps_text_unselectable_asks_for_a_wake_lock_and_goes_full_screen(
        proxy_factory: Callable[..., ProxyHandle], context: Any) -> None:
    proxy = proxy_factory()
    _wall(proxy, 6)
    page = context.new_page()
    page.goto(f"{proxy.url}/?share=off")
    wait_until(lambda: len(read_board(page)) == 6, within=10, what="six rows")
    assert page.evaluate("getComputedStyle(document.body).userSelect") == "none"
    page.mouse.move(200, 300)
    assert page.evaluate("document.documentElement.classList.contains('idle')") is False
    wait_until(lambda: page.evaluate("getComputedStyle(document.querySelector('#rows th')).cursor") == "none",
               within=5, what="the cursor hidden after 3 s still")
    page.mouse.move(220, 320)
    assert page.evaluate("getComputedStyle(document.querySelector('#rows th')).cursor") != "none"
    # Chromium offers the Screen Wake Lock API: the board asked for it (a headless page may be refused)
    assert page.evaluate("window.queuecast.kiosk.wakeLock()") in ("held", "refused")
    page.evaluate("document.documentElement.requestFullscreen = () => { window.__fullscreen = true; "
                  "return Promise.resolve(); }")
    page.keyboard.press("f")
    assert page.evaluate("window.__fullscreen") is True

    page.goto(f"{proxy.url}/?share=off&kiosk=off")
    wait_until(lambda: len(read_board(page)) == 6, within=10, what="six rows")
    assert page.evaluate("getComputedStyle(document.body).userSelect") != "none"
