"""A network split between the leader and Redis: the leader stops its upstream before its lease can expire,
a follower takes over, and the platform never sees two channel sets at once."""

from __future__ import annotations

import json

import httpx
import trio

from proxy.settings import Secret
from tests.cluster.conftest import RedisServer
from tests.cluster.test_cluster_inprocess import until
from tests.conftest import StartProxy
from tests.e2e.conftest import StartSim
from tests.helpers import envelope, open_stream, post_callback


class Splitter:
    """A TCP forwarder to Redis that can cut every connection through it (and refuse new ones)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.cut = False
        self._scopes: set[trio.CancelScope] = set()

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        await trio.serve_listeners(self._handle, listeners, task_status=task_status)

    async def _handle(self, client: trio.SocketStream) -> None:
        async with client:
            if self.cut:
                return
            with trio.CancelScope() as scope:
                self._scopes.add(scope)
                try:
                    upstream = await trio.open_tcp_stream("127.0.0.1", self.target_port)
                    async with upstream, trio.open_nursery() as nursery:
                        nursery.start_soon(self._pump, client, upstream)
                        nursery.start_soon(self._pump, upstream, client)
                finally:
                    self._scopes.discard(scope)

    async def _pump(self, source: trio.SocketStream, sink: trio.SocketStream) -> None:
        try:
            async for chunk in source:
                await sink.send_all(chunk)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    def split(self) -> None:
        """Silence: drop every connection and refuse new ones (as a partition looks to the instance)."""
        self.cut = True
        for scope in list(self._scopes):
            scope.cancel()

    def heal(self) -> None:
        self.cut = False


async def test_a_leader_cut_off_from_redis_stops_its_upstream_before_a_follower_takes_over(
    nursery: trio.Nursery, start_proxy: StartProxy, start_sim: StartSim, redis_server: RedisServer,
) -> None:
    sim = await start_sim(speed=20.0, queues=3, agents=12, notify_min_interval_s=0.05)
    splitter = Splitter(redis_server.port)
    await nursery.start(splitter.serve)
    upstream = {"upstream": "notifications", "api_base": sim.url, "login_base": sim.url, "refresh_s": 0.5,
                "client_id": sim.settings.client_id, "client_secret": Secret(sim.settings.client_secret),
                "lease_s": 2.0, "heartbeat_timeout_s": 5.0}
    a = await start_proxy(redis_url=Secret(f"redis://127.0.0.1:{splitter.port}/0"), **upstream)
    await until(lambda: a.runtime.cluster is not None and a.runtime.cluster.leading)
    b = await start_proxy(redis_url=Secret(redis_server.url), **upstream)
    assert a.runtime.cluster is not None and b.runtime.cluster is not None
    most = 0
    async with httpx.AsyncClient() as http, httpx.AsyncClient() as watcher, trio.open_nursery() as watching:
        async def sockets(client: httpx.AsyncClient = http) -> int:
            return int((await client.get(f"{sim.url}/sim/stats")).json()["sockets"])

        async def watch() -> None:
            nonlocal most
            while True:
                most = max(most, await sockets(watcher))
                await trio.sleep(0.02)

        with trio.fail_after(10):
            while await sockets() != 1:  # noqa: ASYNC110  # remote state
                await trio.sleep(0.05)
        watching.start_soon(watch)
        splitter.split()
        cut_at = trio.current_time()
        await until(lambda: not a.runtime.cluster.leading, within=2.0)  # type: ignore[union-attr]
        stepped_down_s = trio.current_time() - cut_at
        await until(lambda: b.runtime.cluster.leading, within=4.0)  # type: ignore[union-attr]
        took_over_s = trio.current_time() - cut_at
        with trio.fail_after(10):
            while await sockets() != 1:  # noqa: ASYNC110  # the new leader's channel
                await trio.sleep(0.05)
        splitter.heal()
        await until(lambda: a.runtime.broker.attached, within=10)
        await trio.sleep(1)
        assert not a.runtime.cluster.leading and b.runtime.cluster.leading
        assert most == 1, "two instances held Notifications sockets at once"
        assert stepped_down_s < took_over_s <= 2.0 + 0.3
        truth = (await http.get(f"{sim.url}/sim/truth")).json()["queues"]
        for p in (a, b):  # both boards carry every queue again (the new leader backfilled)
            await until(lambda p=p: len(p.runtime.broker.snapshot().views) == len(truth), within=10)
        watching.cancel_scope.cancel()


async def test_an_instance_whose_place_in_the_stream_was_trimmed_gives_its_clients_a_snapshot(
    nursery: trio.Nursery, start_proxy: StartProxy, redis_server: RedisServer,
) -> None:
    splitter = Splitter(redis_server.port)
    await nursery.start(splitter.serve)
    a = await start_proxy(redis_url=Secret(redis_server.url), lease_s=2.0, ring_size=10)
    await until(lambda: a.runtime.cluster is not None and a.runtime.cluster.leading)
    b = await start_proxy(redis_url=Secret(f"redis://127.0.0.1:{splitter.port}/0"), lease_s=2.0, ring_size=10)
    async with httpx.AsyncClient(base_url=a.url) as ca, \
            httpx.AsyncClient(base_url=b.url, timeout=httpx.Timeout(5, read=None)) as cb:
        await post_callback(ca, envelope("q0", oWaiting=0, observed_ms=1))
        await until(lambda: b.runtime.broker.seq == a.runtime.broker.seq >= 1)
        async with open_stream(cb) as (_, reader):
            assert (await reader.next()).event == "snapshot"
            splitter.split()
            await until(lambda: not b.runtime.broker.attached)
            # far more frames than the stream keeps (MAXLEN ~ 10 trims whole nodes of 100 entries)
            for n in range(1, 400):
                await post_callback(ca, envelope(f"q{n % 7}", oWaiting=n, observed_ms=10 + n))
            await until(lambda: a.runtime.broker.seq >= 300, within=30)
            splitter.heal()
            await until(lambda: b.runtime.broker.seq == a.runtime.broker.seq, within=15)
            while True:  # statuses aside, what comes next is the state as a whole
                event = await reader.next(within=10)
                if event.event == "snapshot":
                    break
                assert event.event == "delta"  # (a delta still on its way before the cut)
            data = json.loads(event.data)
        assert b.runtime.broker.resyncs >= 1
        assert data["queues"] == (await ca.get("/api/v1/queues")).json()["queues"]
