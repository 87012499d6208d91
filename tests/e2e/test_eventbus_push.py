"""End to end: the simulator's Event Bus pushes signed callbacks; the proxy's state equals the world's truth."""

import httpx
import trio

from tests.conftest import start_stack
from tests.e2e.conftest import comparable


async def settle_and_compare(stack, within: float = 10.0) -> tuple[dict, dict]:
    """Pause the world, then wait until the proxy's views equal ``/sim/truth``."""
    async with httpx.AsyncClient(timeout=10) as c:
        assert (await c.post(f"{stack.sim_url}/sim/pause")).status_code in (200, 204)
        with trio.move_on_after(within):
            while True:
                truth = comparable((await c.get(f"{stack.sim_url}/sim/truth")).json()["queues"])
                seen = comparable((await c.get(f"{stack.proxy.url}/api/v1/queues")).json()["queues"])
                if seen == truth:
                    return seen, truth
                await trio.sleep(0.1)
        return seen, truth


async def test_proxy_converges_to_the_simulator_truth(stack):
    async with httpx.AsyncClient(timeout=10) as c:
        r = await c.post(f"{stack.sim_url}/sim/waves", json={"ratePerMin": 1200, "durationS": 30})
        assert r.status_code == 201
    await trio.sleep(2.0)  # let the world move: calls arrive, wait, get answered or abandon
    seen, truth = await settle_and_compare(stack)
    assert truth, "the world produced no queue"
    assert seen == truth


async def test_redeliveries_and_duplicates_do_not_skew_the_board(nursery, start_proxy):
    stack = await start_stack(nursery, start_proxy, batch=True)
    async with httpx.AsyncClient(timeout=10) as c:
        r = await c.put(f"{stack.sim_url}/sim/faults", json={"duplicateProbability": 0.5, "reorderProbability": 0.3})
        assert r.status_code == 200
        await c.post(f"{stack.sim_url}/sim/waves", json={"ratePerMin": 1200, "durationS": 30})
    await trio.sleep(2.0)
    seen, truth = await settle_and_compare(stack)
    assert seen == truth
    metrics = stack.proxy.runtime.metrics.render().decode()
    duplicates = float(metrics.split('queuecast_events_total{outcome="duplicate"} ')[1].split()[0])
    assert duplicates > 0


async def test_eventbridge_deliveries_converge_to_the_simulator_truth(nursery, start_proxy):
    """The EventBridge envelope (template detail-type, whole-second time) pushing real partial messages."""
    stack = await start_stack(nursery, start_proxy, fmt="EventBridge")
    async with httpx.AsyncClient(timeout=10) as c:
        await c.post(f"{stack.sim_url}/sim/waves", json={"ratePerMin": 1200, "durationS": 30})
    await trio.sleep(2.0)
    seen, truth = await settle_and_compare(stack)
    assert truth and seen == truth
    metrics = stack.proxy.runtime.metrics.render().decode()
    assert float(metrics.split('queuecast_callbacks_total{status="200"} ')[1].split()[0]) > 10  # pushed, not polled
