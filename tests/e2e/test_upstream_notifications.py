"""Notifications mode against the simulator, over real HTTP and WebSocket.

Each test runs a real proxy (Hypercorn) and a real simulator; the upstream connects to the
simulator's OAuth, REST and WebSocket endpoints. The wallboard state is compared with
``/sim/truth`` with the world paused (views without ``updatedAt``: a backfill carries its own time).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
import trio

from proxy.settings import Secret
from proxy.upstream.context import UpstreamContext
from proxy.upstream.notifications import Lane, NotificationsUpstream
from proxy.upstream.runner import run_upstream
from tests.conftest import RunningProxy, StartProxy
from tests.e2e.conftest import RunningSim, StartSim, Views, start_upstream, upstream_config, wait_until


@dataclass
class Rig:
    sim: RunningSim
    proxy: RunningProxy
    ctx: UpstreamContext
    views: Views

    @property
    def lane(self) -> Lane:
        assert isinstance(self.ctx.component, NotificationsUpstream)
        return self.ctx.component.lanes[0]

    async def live(self) -> bool:
        comp = self.ctx.component
        return isinstance(comp, NotificationsUpstream) and bool(comp.lanes) and \
            self.proxy.runtime.status.state == "live" and self.lane.stats.backfills >= 1

    async def converge(self, within_s: float = 10.0) -> None:
        await self.views.sim("POST", "/sim/pause")
        try:
            await wait_until(self.views.converged, within_s=within_s)
        except trio.TooSlowError:
            assert await self.views.proxy() == await self.views.truth()  # shows the difference
            raise
        assert len(await self.views.truth()) == self.sim.settings.queues


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


async def rig(nursery: trio.Nursery, start_sim: StartSim, start_proxy: StartProxy, http: httpx.AsyncClient,
              *, sim: dict[str, object] | None = None, **config: object) -> Rig:
    simulator = await start_sim(**{"speed": 20.0, "queues": 3, "agents": 20, "notify_min_interval_s": 0.05,
                                   **(sim or {})})
    proxy = await start_proxy()
    ctx = await start_upstream(nursery, proxy, upstream_config(simulator.url, simulator.settings, **config))
    r = Rig(simulator, proxy, ctx, Views(http, proxy.url, simulator.url))
    await wait_until(r.live)
    return r


async def test_dashboard_converges_to_truth_after_backfill(
    nursery: trio.Nursery, start_sim: StartSim, start_proxy: StartProxy, http: httpx.AsyncClient
) -> None:
    r = await rig(nursery, start_sim, start_proxy, http)
    await trio.sleep(0.5)  # let the world move while the stream carries it
    await r.converge()
    assert r.lane.stats.frames >= 1 and r.lane.stats.backfills == 1


async def test_after_a_forced_socket_drop_backfill_restores_the_truth(
    nursery: trio.Nursery, start_sim: StartSim, start_proxy: StartProxy, http: httpx.AsyncClient
) -> None:
    r = await rig(nursery, start_sim, start_proxy, http, sim={"arrivals_per_min": 60.0})
    await r.converge()
    # drop the socket without warning (tokens expire, the channel dies with them) and keep the proxy
    # from reconnecting for a second, while the world moves on: those events are lost for good
    await r.views.sim("POST", "/sim/oauth/outage", json={"seconds": 1.0})
    await r.views.sim("POST", "/sim/tokens/expire")
    for _ in range(3):
        await r.views.sim("POST", "/sim/advance", json={"seconds": 60})
    assert await r.views.proxy() != await r.views.truth()
    await r.converge()  # the world pauses; only the reconnect's backfill can bring those changes
    assert r.lane.stats.reconnects >= 1 and r.lane.stats.backfills >= 2
    assert r.proxy.runtime.status.state == "live"


async def test_token_expiry_during_stream_is_handed_over_without_gap(
    nursery: trio.Nursery, start_sim: StartSim, start_proxy: StartProxy, http: httpx.AsyncClient
) -> None:
    # 3 s tokens (refreshed at half their life): several handovers in a few seconds
    r = await rig(nursery, start_sim, start_proxy, http, sim={"token_ttl_s": 3})
    await wait_until(lambda: _at_least(r.lane.stats.handovers, 2), within_s=10)
    stats = await r.views.stats()
    assert r.lane.stats.reconnects == 0
    assert r.lane.stats.uncovered_s == 0.0  # a socket was connected at every moment
    assert stats["responses_401"] == 0  # never used an expired token
    # one new channel per handover, and old channels die with their token: nothing leaks
    assert stats["channels_created"] <= r.lane.stats.handovers + 1
    assert stats["channels"] <= 3  # current + previous (+ one the simulator has not swept yet)
    assert r.proxy.runtime.status.state == "live"
    await r.converge()


async def test_socket_closing_opens_the_replacement_before_the_old_socket_closes(
    nursery: trio.Nursery, start_sim: StartSim, start_proxy: StartProxy, http: httpx.AsyncClient
) -> None:
    r = await rig(nursery, start_sim, start_proxy, http)
    warned = await r.views.sim("POST", "/sim/sockets/closing", json={"graceS": 20})  # 1 s real at speed 20
    assert warned["warned"] == 1
    await wait_until(lambda: _at_least(r.lane.stats.replacements, 1))
    await trio.sleep(1.2)  # past the announced close
    stats = await r.views.stats()
    assert r.lane.stats.reconnects == 0 and r.lane.stats.uncovered_s == 0.0
    assert stats["channels_created"] == 1 and stats["sockets"] == 1  # same channel, new socket
    await r.converge()


async def test_channel_is_resubscribed_before_it_expires(
    nursery: trio.Nursery, start_sim: StartSim, start_proxy: StartProxy, http: httpx.AsyncClient
) -> None:
    r = await rig(nursery, start_sim, start_proxy, http, sim={"channel_ttl_s": 1.0})
    await wait_until(lambda: _at_least(r.lane.stats.resubscriptions, 4), within_s=10)  # renewed at 80 % of 1 s
    stats = await r.views.stats()
    assert stats["channels_expired"] == 0 and stats["channels_created"] == 1
    assert r.lane.stats.reconnects == 0
    await r.converge()


async def test_token_endpoint_outage_continues_on_old_token_and_recovers(
    nursery: trio.Nursery, start_sim: StartSim, start_proxy: StartProxy, http: httpx.AsyncClient
) -> None:
    r = await rig(nursery, start_sim, start_proxy, http, sim={"token_ttl_s": 8})  # refresh due at 4 s
    await r.views.sim("POST", "/sim/oauth/outage", json={"seconds": 5.0})
    await wait_until(lambda: _at_least(r.lane.stats.handovers, 1), within_s=10)
    stats = await r.views.stats()
    assert stats["token_503s"] >= 1  # refreshes were attempted during the outage, and failed
    assert stats["tokens_issued"] == 2 and stats["responses_401"] == 0
    assert r.lane.stats.reconnects == 0 and r.lane.stats.uncovered_s == 0.0
    await r.converge()


async def test_revoked_token_is_replaced_and_the_stream_recovers(
    nursery: trio.Nursery, start_sim: StartSim, start_proxy: StartProxy, http: httpx.AsyncClient
) -> None:
    r = await rig(nursery, start_sim, start_proxy, http)
    await r.views.sim("POST", "/sim/tokens/revoke")
    await wait_until(lambda: _at_least(r.lane.stats.handovers + r.lane.stats.reconnects, 1))
    await wait_until(r.live)
    assert (await r.views.stats())["tokens_issued"] == 2
    await r.converge()


async def test_silent_socket_is_replaced_after_the_heartbeat_timeout(
    nursery: trio.Nursery, start_sim: StartSim, start_proxy: StartProxy, http: httpx.AsyncClient
) -> None:
    r = await rig(nursery, start_sim, start_proxy, http, sim={"heartbeat_s": 0.2}, heartbeat_timeout_s=0.6)
    await trio.sleep(1.0)
    assert r.lane.stats.heartbeat_timeouts == 0 and r.lane.stats.heartbeats >= 2  # heartbeats keep it alive
    await r.views.sim("PUT", "/sim/faults", json={"latencyMs": 1000})  # every frame 1 s late: silence
    await wait_until(lambda: _at_least(r.lane.stats.heartbeat_timeouts, 1), within_s=5)
    await r.views.sim("PUT", "/sim/faults", json={"latencyMs": 0})
    await wait_until(r.live, within_s=5)
    await r.converge()


async def test_exhausted_allowance_is_waited_out_without_any_429(
    nursery: trio.Nursery, start_sim: StartSim, start_proxy: StartProxy, http: httpx.AsyncClient
) -> None:
    # 3 requests per 1 s window per token: start-up alone needs more; inin-ratelimit-* says when to stop
    r = await rig(nursery, start_sim, start_proxy, http, sim={"rate_limit_per_min": 3, "rate_limit_window_s": 1.0})
    assert (await r.views.stats())["responses_429"] == 0  # never more than the platform allows
    await r.converge()


async def test_429_storm_is_backed_off_with_retry_after(
    nursery: trio.Nursery, start_sim: StartSim, start_proxy: StartProxy, http: httpx.AsyncClient
) -> None:
    r = await rig(nursery, start_sim, start_proxy, http, sim={"rate_limit_per_min": 20, "rate_limit_window_s": 2.0})
    await r.views.sim("POST", "/sim/pause")
    token = r.ctx.tokens.current
    assert token is not None
    # someone else burns this token's allowance: the proxy's limiter cannot know, the platform says 429
    burned_429 = 0
    while burned_429 == 0:
        response = await http.get(f"{r.sim.url}/api/v2/routing/queues",
                                  headers={"Authorization": f"Bearer {token.value}"})
        burned_429 += response.status_code == 429
    retry_after = float(response.headers["retry-after"])
    t0 = trio.current_time()
    await r.views.sim("POST", "/sim/sockets/closing", json={"graceS": 20})  # forces a backfill
    await wait_until(lambda: _at_least(r.lane.stats.backfills, 2), within_s=10)
    auth = r.ctx.platform.http.auth
    assert auth.retried_429 >= 1  # type: ignore[union-attr]
    assert trio.current_time() - t0 >= retry_after - 0.5  # waited for Retry-After before the retry
    assert 1 <= (await r.views.stats())["responses_429"] - burned_429 <= 2  # waited out, not hammered
    await r.converge()


async def test_invalid_client_stops_the_upstream_with_a_clear_message(
    nursery: trio.Nursery, start_sim: StartSim, start_proxy: StartProxy, http: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "wrong-secret-1234567890"
    simulator = await start_sim()
    proxy = await start_proxy()
    await nursery.start(_run_until_done, proxy, upstream_config(simulator.url, simulator.settings,
                                                                client_secret=Secret(secret)))
    status = proxy.runtime.status
    await wait_until(lambda: _at_least(int(status.reason == "credentials"), 1), within_s=5)
    assert status.state == "down"
    assert "invalid_client" in status.last_detail and "QC_CLIENT_SECRET" in status.last_detail
    published = proxy.runtime.broker.snapshot().upstream or {}
    assert published["detail"] == "credentials" and published["upstream"] == "down"  # the browser gets a word
    assert (await http.get(f"{simulator.url}/sim/stats")).json()["invalid_client"] == 1  # no retry storm
    assert (await http.get(f"{proxy.url}/api/v1/queues")).status_code == 200  # the proxy still serves
    assert secret not in caplog.text and secret not in status.last_detail


async def _run_until_done(proxy: RunningProxy, config: object, *,
                          task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    task_status.started()
    await run_upstream(proxy.runtime.sinks(), config)  # type: ignore[arg-type]


async def _at_least(value: int, minimum: int) -> bool:
    return value >= minimum


@pytest.mark.parametrize(("routing_status_mode", "agent_metric"), [
    ("changed", "oUserRoutingStatuses"), ("whole", "oOnQueueUsers"), ("changed", "oOnQueueUsers")])
async def test_agent_counts_converge_whichever_way_the_org_sends_them(
    nursery: trio.Nursery, start_sim: StartSim, start_proxy: StartProxy, http: httpx.AsyncClient,
    routing_status_mode: str, agent_metric: str,
) -> None:
    r = await rig(nursery, start_sim, start_proxy, http, sim={
        "routing_status_mode": routing_status_mode, "agent_metric": agent_metric, "arrivals_per_min": 120.0})
    await trio.sleep(1.0)  # agents go idle, busy, idle: only the changed statuses are sent
    await r.converge()


async def test_a_run_across_an_interval_boundary_rolls_the_board_over(
    nursery: trio.Nursery, start_sim: StartSim, start_proxy: StartProxy, http: httpx.AsyncClient
) -> None:
    # The world starts 90 simulated seconds before a :00/:30 boundary that lies ahead of the wall clock (so
    # the proxy's "now" is the newest platform time), and a burst of calls gives every queue figures that
    # straddle the boundary: the board must move to the new interval exactly as the world's truth does.
    # (A quiet queue's clock-driven rollover is pinned in tests/test_interval_clock.py.)
    half_hour_ms = 30 * 60 * 1000
    boundary_ms = (int(time.time() * 1000) // half_hour_ms + 2) * half_hour_ms
    r = await rig(nursery, start_sim, start_proxy, http, sim={"start_at_ms": boundary_ms - 90_000,
                                                              "arrivals_per_min": 1.0})
    await r.views.sim("POST", "/sim/waves", json={"ratePerMin": 2400, "durationS": 8})
    boundary = datetime.fromtimestamp(boundary_ms / 1000, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"

    async def crossed() -> bool:
        return all(v["interval"]["start"] == boundary for v in (await r.views.truth()).values())

    await trio.sleep(0.6)  # the burst is over (8 simulated seconds at 20x)
    assert not await crossed(), "the world reached the boundary before the burst ended: the test proves nothing"
    await wait_until(crossed, within_s=10)
    await trio.sleep(0.3)
    await r.converge()
    assert all(v["interval"]["start"] == boundary for v in (await r.views.proxy()).values())


async def test_with_the_activity_topic_the_board_converges_and_the_longest_wait_stays_live(
    nursery: trio.Nursery, start_sim: StartSim, start_proxy: StartProxy, http: httpx.AsyncClient
) -> None:
    # QC_TOPICS opts into v2.analytics.queues.{id}.activity; no REST refresh, so the longest wait after
    # the first backfill can only come from the activity frames (the real observations shape omits it)
    topics = ("v2.analytics.queues.{id}.observations", "v2.analytics.queues.{id}.activity")
    r = await rig(nursery, start_sim, start_proxy, http, topics=topics, refresh_s=0.0,
                  sim={"arrivals_per_min": 120.0})
    assert r.lane.channel is not None
    assert {t for t in r.lane.channel.topics if t.endswith(".activity")} == {
        f"v2.analytics.queues.{q}.activity" for q in r.lane.queue_ids}
    await trio.sleep(1.0)
    await r.converge()
    assert r.lane.stats.backfills == 1
    assert any(v["media"][m]["longestWaitingSince"] for v in (await r.views.truth()).values() for m in v["media"]), \
        "somebody waits at the end: the test proves nothing otherwise"
