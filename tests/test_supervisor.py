"""Supervision: a crashing component is restarted, counted and reported; a crash loop stops the proxy."""

from __future__ import annotations

import httpx
import pytest
import trio

from proxy.errors import CrashLoop
from proxy.runtime import build_runtime
from proxy.server import serve
from proxy.supervisor import RestartPolicy, Supervisor
from tests.conftest import StartProxy, proxy_settings
from tests.helpers import envelope, open_stream, post_callback


class Flaky:
    """A component that crashes ``crashes`` times (after starting), then runs until cancelled."""

    def __init__(self, crashes: int, *, before_start: bool = False) -> None:
        self.crashes = crashes
        self.before_start = before_start
        self.starts = 0
        self.crash_now = trio.Event()

    async def __call__(self, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        self.starts += 1
        if self.before_start and self.starts <= self.crashes:
            raise RuntimeError("boom before start")
        task_status.started(f"start {self.starts}")
        if self.starts <= self.crashes:
            await self.crash_now.wait()
            raise RuntimeError(f"boom {self.starts}")
        await trio.sleep_forever()


async def test_a_crashed_component_is_restarted_counted_and_reported_down_meanwhile(autojump_clock: object) -> None:
    restarted: list[str] = []
    sup = Supervisor(policy=RestartPolicy(backoff_initial_s=1.0, backoff_max_s=1.0), on_restart=restarted.append)
    flaky = Flaky(crashes=1)
    async with trio.open_nursery() as nursery:
        assert await nursery.start(sup.run, "flaky", flaky) == "start 1"
        assert sup.state("flaky") == "up"
        flaky.crash_now.set()
        await trio.sleep(0.1)
        assert sup.state("flaky") == "down" and restarted == ["flaky"]
        await trio.sleep(1.0)  # the backoff (≤ 1 s)
        assert sup.state("flaky") == "up" and flaky.starts == 2 and sup.restarts == {"flaky": 1}
        nursery.cancel_scope.cancel()


async def test_a_component_crashing_before_it_started_releases_the_starter_and_restarts(autojump_clock: object) -> None:
    sup = Supervisor(policy=RestartPolicy(backoff_initial_s=0.5, backoff_max_s=0.5))
    flaky = Flaky(crashes=2, before_start=True)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run, "early", flaky)  # returns although the first start failed
        await trio.sleep(2)
        assert flaky.starts == 3 and sup.state("early") == "up"
        nursery.cancel_scope.cancel()


async def test_a_crash_loop_raises_crash_loop_naming_the_component(autojump_clock: object) -> None:
    sup = Supervisor(policy=RestartPolicy(max_crashes=3, window_s=60, backoff_initial_s=0.1, backoff_max_s=0.1))

    async def always_crashes(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        raise ValueError("bad value from upstream")

    with pytest.raises(CrashLoop) as info:
        await sup.run("upstream", always_crashes)
    assert info.value.component == "upstream" and "3 times" in str(info.value)
    assert isinstance(info.value.__cause__, ValueError)


async def test_crashes_spread_beyond_the_window_never_stop_the_process(autojump_clock: object) -> None:
    sup = Supervisor(policy=RestartPolicy(max_crashes=2, window_s=10, backoff_initial_s=0.1, backoff_max_s=0.1))
    flaky = Flaky(crashes=5)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run, "slow-crasher", flaky)
        for _ in range(5):
            await trio.sleep(11)  # one crash per 11 s: never two within 10 s
            flaky.crash_now.set()
            flaky.crash_now = trio.Event()
            await trio.sleep(1)
        assert flaky.starts == 6 and sup.restarts["slow-crasher"] == 5
        nursery.cancel_scope.cancel()


async def test_cancellation_is_not_a_crash() -> None:
    sup = Supervisor()
    with trio.move_on_after(0.05):
        await sup.run("sleeper", Flaky(crashes=0))
    assert sup.restarts == {}


async def test_readyz_is_503_naming_a_crashed_component_and_200_again_after_its_restart(
    start_proxy: StartProxy,
) -> None:
    proxy = await start_proxy()
    rt = proxy.runtime
    flaky = Flaky(crashes=1)
    rt.supervisor.policy = RestartPolicy(backoff_initial_s=0.5, backoff_max_s=0.5)
    rt.components = (*rt.components, "extra")
    async with httpx.AsyncClient(base_url=proxy.url, timeout=5) as client, trio.open_nursery() as nursery:
        await nursery.start(rt.supervisor.run, "extra", flaky)
        assert (await client.get("/readyz")).status_code == 200
        flaky.crash_now.set()
        with trio.fail_after(5):
            while (r := await client.get("/readyz")).status_code != 503:  # noqa: ASYNC110  # polled over HTTP
                await trio.sleep(0.01)
        assert "component extra down" in r.json()["problems"]
        assert 'queuecast_component_restarts_total{component="extra"} 1.0' in (await client.get("/metrics")).text
        with trio.fail_after(5):
            while (await client.get("/readyz")).status_code != 200:  # noqa: ASYNC110  # polled over HTTP
                await trio.sleep(0.05)
        nursery.cancel_scope.cancel()


async def test_a_crashing_aggregator_is_restarted_and_the_stream_goes_on(start_proxy: StartProxy) -> None:
    proxy = await start_proxy()
    rt = proxy.runtime
    async with httpx.AsyncClient(base_url=proxy.url, timeout=httpx.Timeout(5, read=None)) as client:
        async with open_stream(client) as (_, reader):
            await reader.next()
            broken = rt.aggregator.flush

            def crash_once() -> None:
                rt.aggregator.flush = broken  # type: ignore[method-assign]
                raise RuntimeError("a bug in the aggregator")

            rt.aggregator.flush = crash_once  # type: ignore[method-assign]
            await post_callback(client, envelope("q1", oWaiting=1))  # the loop crashes on this one
            await post_callback(client, envelope("q1", oWaiting=2))
            with trio.fail_after(5):
                while True:
                    _, frame = await reader.next_json()
                    if frame["queues"].get("q1", {}).get("waiting") == 2:
                        break
    assert rt.supervisor.restarts == {"aggregator": 1}


async def test_a_crash_loop_stops_the_server_with_the_reason() -> None:
    settings = proxy_settings()
    rt = build_runtime(settings, policy=RestartPolicy(max_crashes=2, backoff_initial_s=0.01, backoff_max_s=0.01))

    async def broken_ticker(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        raise RuntimeError("keepalive bug")

    rt._keepalive_ticker = broken_ticker  # type: ignore[method-assign]  # the seam: a component that always crashes
    with pytest.raises(CrashLoop) as info, trio.fail_after(5):
        await serve(settings, runtime=rt)  # no shutdown trigger: only the crash loop ends it
    assert info.value.component == "keepalive"
