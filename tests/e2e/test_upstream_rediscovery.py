"""Queue re-discovery (``QC_QUEUES`` empty): queues created or deleted on the simulator while the
proxy runs reach the wallboard, over real HTTP, WebSocket and SSE.

The simulator's control API adds (``POST /sim/queues``) and deletes (``DELETE /sim/queues/{id}``)
queues; the proxy lists ``/api/v2/routing/queues`` again every ``rediscover_s`` (0.2 s here).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import trio

from proxy.settings import Secret
from proxy.upstream.eventbus import EventBusUpstream
from proxy.upstream.notifications import NotificationsUpstream
from tests.conftest import RunningProxy, StartProxy
from tests.e2e.conftest import StartSim, Views, start_upstream, upstream_config, wait_until
from tests.helpers import SECRET, SSEReader, open_stream

REDISCOVER_S = 0.2


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


Rig = tuple[RunningProxy, NotificationsUpstream, Views]


async def _notifications_rig(nursery: trio.Nursery, start_sim: StartSim, start_proxy: StartProxy,
                             http: httpx.AsyncClient, **config: Any) -> Rig:
    sim = await start_sim(speed=20.0, queues=3, agents=20, notify_min_interval_s=0.05)
    proxy = await start_proxy()
    ctx = await start_upstream(nursery, proxy, upstream_config(sim.url, sim.settings, rediscover_s=REDISCOVER_S,
                                                               **config))
    comp = ctx.component
    assert isinstance(comp, NotificationsUpstream)
    views = Views(http, proxy.url, sim.url)

    async def live() -> bool:
        return proxy.runtime.status.state == "live" and bool(comp.lanes) and comp.lanes[0].stats.backfills >= 1

    await wait_until(live)
    return proxy, comp, views


async def _has(views: Views, queue_id: str) -> bool:
    return queue_id in await views.proxy()


async def _lacks(views: Views, queue_id: str) -> bool:
    return queue_id not in await views.proxy()


async def _converged(views: Views) -> None:
    try:
        await wait_until(views.converged, within_s=10)
    except trio.TooSlowError:
        assert await views.proxy() == await views.truth()  # shows the difference
        raise


async def _removed(reader: SSEReader, queue_id: str) -> dict[str, Any]:
    """The first delta whose ``removed`` names ``queue_id`` (fails after 5 s)."""
    with trio.fail_after(5):
        while True:
            event, data = await reader.next_json()
            if event.event == "delta" and queue_id in data["removed"]:
                return data


async def test_added_queue_is_followed_and_deleted_queue_leaves_the_board(
    nursery: trio.Nursery, start_sim: StartSim, start_proxy: StartProxy, http: httpx.AsyncClient
) -> None:
    proxy, comp, views = await _notifications_rig(nursery, start_sim, start_proxy, http)
    lane = comp.lanes[0]
    added = await views.sim("POST", "/sim/queues", json={"name": "Night Desk"})
    qid = added["id"]
    await wait_until(lambda: _has(views, qid))
    assert (await views.proxy())[qid]["name"] == "Night Desk"
    await views.sim("POST", "/sim/pause")
    await _converged(views)  # the new queue's view equals the truth, and so do the others
    assert len(await views.truth()) == 4
    stats = await views.stats()
    assert stats["channels_created"] == 1 and len(comp.lanes) == 1  # POSTed to the channel with room
    assert lane.stats.topic_changes >= 1 and lane.stats.reconnects == 0

    victim = next(q for q in comp.queue_ids if q != qid)
    async with httpx.AsyncClient(base_url=proxy.url, timeout=httpx.Timeout(5, read=None)) as client, \
            open_stream(client) as (_, reader):
        assert (await reader.next()).event == "snapshot"
        await views.sim("DELETE", f"/sim/queues/{victim}")
        delta = await _removed(reader, victim)
        assert victim not in delta["queues"]
    assert await _lacks(views, victim)
    assert victim not in comp.queue_ids and victim not in comp.directory.names
    await _converged(views)
    await trio.sleep(3 * REDISCOVER_S)  # later re-discoveries and frames do not bring it back
    assert await _lacks(views, victim) and proxy.runtime.status.state == "live"


async def test_queue_beyond_the_topic_limit_opens_another_lane(
    nursery: trio.Nursery, start_sim: StartSim, start_proxy: StartProxy, http: httpx.AsyncClient
) -> None:
    proxy, comp, views = await _notifications_rig(nursery, start_sim, start_proxy, http, max_topics_per_channel=3)
    qid = (await views.sim("POST", "/sim/queues", json={"name": "Overflow Line"}))["id"]
    await wait_until(lambda: _has(views, qid))
    assert len(comp.lanes) == 2 and comp.lanes[1].queue_ids == [qid]
    await views.sim("POST", "/sim/pause")
    await _converged(views)
    stats = await views.stats()
    assert stats["channels_created"] == 2 and stats["sockets"] == 2
    await wait_until(lambda: _is(proxy.runtime.status.state, "live"))


async def test_eventbus_mode_follows_added_and_drops_deleted_queues(
    nursery: trio.Nursery, start_sim: StartSim, start_proxy: StartProxy, http: httpx.AsyncClient
) -> None:
    sim = await start_sim(speed=20.0, queues=2, agents=10)
    proxy = await start_proxy()
    ctx = await start_upstream(nursery, proxy, upstream_config(
        sim.url, sim.settings, mode="eventbus", public_url=proxy.url, callback_secret=Secret(SECRET),
        eventbus_check_s=0.1, rediscover_s=REDISCOVER_S))
    comp = ctx.component
    assert isinstance(comp, EventBusUpstream)
    views = Views(http, proxy.url, sim.url)
    await wait_until(lambda: _is(comp.created, 1))
    await views.sim("POST", "/sim/pause")
    qid = (await views.sim("POST", "/sim/queues", json={"name": "Night Desk"}))["id"]
    victim = next(q for q in await views.truth() if q != qid)
    await views.sim("DELETE", f"/sim/queues/{victim}")
    await wait_until(lambda: _lacks(views, victim))
    await _converged(views)  # the added queue is backfilled even though the world is paused
    # its topic is new: the subscription (one topic per queue, no update call) was recreated once
    assert qid in await views.proxy() and comp.created == 2


async def _is(value: object, expected: object) -> bool:
    return value == expected
