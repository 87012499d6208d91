"""The upstream status: worst of its sources, a fixed vocabulary for the browser, staleness of pushes."""

from __future__ import annotations

from typing import Any

import trio

from proxy.errors import AuthError, PlatformError, RateLimited, UpstreamError
from proxy.upstream.status import PUSH, StatusTracker, reason_of


def tracker(push: Any = None, stale_after_s: float = 10.0) -> tuple[StatusTracker, list[dict[str, Any]]]:
    published: list[dict[str, Any]] = []
    return StatusTracker(stale_after_s=stale_after_s, publish=lambda body: published.append(dict(body)),
                         push=push), published


async def test_one_healthy_lane_does_not_hide_another_lanes_outage() -> None:
    status, published = tracker()
    status.report("channel 1", "live")
    status.report("channel 2", "down", "socket", "channel 2: connection refused by 10.0.0.1")
    status.note_event()  # events keep arriving on channel 1
    assert status.state == "down"
    assert published[-1]["upstream"] == "down" and published[-1]["source"] == "channel 2"
    status.report("channel 2", "live")
    assert status.state == "live" and published[-1]["source"] is None


def test_the_browser_gets_a_word_and_the_log_gets_the_details() -> None:
    status, published = tracker()
    secretish = "POST https://api.example/oauth/token: client 'abc' rejected (invalid_client)"
    status.report("upstream", "down", "credentials", secretish)
    assert published[-1]["detail"] == "credentials"
    assert all(secretish not in str(body) for body in published)
    assert status.last_detail == secretish


def test_reasons_are_a_fixed_vocabulary() -> None:
    assert reason_of(AuthError("x", fatal=True)) == "credentials"
    assert reason_of(AuthError("x")) == "token"
    assert reason_of(RateLimited(3)) == "rate_limited"
    assert reason_of(PlatformError("x", status=0)) == "network"
    assert reason_of(PlatformError("x", status=503)) == "platform_5xx"
    assert reason_of(PlatformError("x", status=404)) == "platform"
    assert reason_of(UpstreamError("x")) == "platform"
    assert reason_of(OSError("x")) == "socket"


async def test_push_source_turns_live_on_data_and_only_it() -> None:
    status, _ = tracker(push="down")
    assert (status.state, status.reason) == ("down", "waiting")
    status.note_event()
    assert status.state == "live"
    status.forget(PUSH)
    status.report("channel 1", "degraded", "socket")
    status.note_event()  # a pull mode: data does not override the lane's own word
    assert status.state == "degraded"


def test_among_equal_states_the_newest_report_is_shown() -> None:
    status, _ = tracker()
    status.report("discovery", "down", "connecting")
    status.report("upstream", "down", "credentials")
    assert status.reason == "credentials"


def test_an_unchanged_report_publishes_nothing() -> None:
    status, published = tracker()
    status.report("channel 1", "live")
    count = len(published)
    status.report("channel 1", "live")
    assert len(published) == count


async def test_push_degrades_after_silence_and_recovers_on_the_next_event(autojump_clock: object) -> None:
    status, _ = tracker(push="down", stale_after_s=10.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(status.watch)
        status.note_event()
        await trio.sleep(9.9)
        assert status.state == "live"
        await trio.sleep(0.2)
        assert (status.state, status.reason) == ("degraded", "no_events")
        status.note_event()
        assert status.state == "live"
        nursery.cancel_scope.cancel()
