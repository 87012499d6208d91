"""A token-restricted wallboard in headless Chromium: ``?access_token=`` leaves the address bar at once,
is never rendered, survives a reload (sessionStorage), and the board shows only the token's queues."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from proxy.auth.viewer import ViewerGate
from proxy.settings import Secret
from tests.browser.board import read_board, wait_until
from tests.browser.conftest import ProxyHandle
from tests.browser.feed import queue_state

pytestmark = pytest.mark.browser

KEY = "browser-viewer-key-" + "b" * 32


def _queues(page: Any) -> set[str]:
    return {row["queueId"] for row in read_board(page)}


def test_a_token_restricted_board_shows_only_its_queues_and_hides_the_token(
        proxy_factory: Callable[..., ProxyHandle], context: Any) -> None:
    proxy = proxy_factory(viewer_jwt_secret=Secret(KEY))
    proxy.post([queue_state("q-a", "Alpha", waiting=1), queue_state("q-b", "Bravo", waiting=2),
                queue_state("q-c", "Charlie", waiting=3)])
    token = ViewerGate(Secret(KEY)).issue(["q-a", "q-b"], ttl_s=600)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    # the page asks for q-b and q-c: the token allows q-b only
    page.goto(f"{proxy.url}/?queues=q-b,q-c&access_token={token}&share=off")
    wait_until(lambda: _queues(page) == {"q-b"}, within=5, what="only the token's queue q-b")
    assert "access_token" not in page.url and page.url.endswith("?queues=q-b%2Cq-c&share=off")
    assert token not in page.content()
    assert token not in page.evaluate("JSON.stringify(window.queuecast.config)")
    assert any("/dashboard-stream" in u and f"access_token={token}" in u for u in requests), "the stream carries it"

    proxy.post([queue_state("q-c", "Charlie", waiting=9), queue_state("q-b", "Bravo", waiting=7)])
    wait_until(lambda: page.locator('tr[data-queue="q-b"] td[data-col="waiting"]').get_attribute("data-value") == "7",
               within=5, what="a delta of an allowed queue")
    assert _queues(page) == {"q-b"}

    page.reload()  # the token was kept for this tab
    wait_until(lambda: _queues(page) == {"q-b"}, within=5, what="the board after a reload")
    assert "access_token" not in page.url

    stranger = context.browser.new_context().new_page()  # no token, no session: the proxy refuses the stream
    try:
        stranger.goto(f"{proxy.url}/?share=off")
        wait_until(lambda: stranger.evaluate("document.getElementById('conn').dataset.state") != "connecting",
                   within=5, what="the refused stream noticed")
        assert _queues(stranger) == set()
        assert stranger.evaluate("document.getElementById('conn').dataset.state") in ("reconnecting", "offline")
    finally:
        stranger.context.close()


def test_when_the_token_expires_the_board_says_so(proxy_factory: Callable[..., ProxyHandle], context: Any) -> None:
    proxy = proxy_factory(viewer_jwt_secret=Secret(KEY), keepalive_s=0.4)
    proxy.post([queue_state("q-a", "Alpha", waiting=1)])
    token = ViewerGate(Secret(KEY)).issue(["q-a"], ttl_s=2)
    page = context.new_page()
    page.goto(f"{proxy.url}/?share=off&access_token={token}")
    wait_until(lambda: _queues(page) == {"q-a"}, within=5, what="the board while the token is valid")
    wait_until(lambda: "viewer token expired" in (page.evaluate("document.getElementById('conn').title") or ""),
               within=10, what="the board saying its token expired")
    wait_until(lambda: proxy.subscribers == 0, within=3, what="the stream ended")
