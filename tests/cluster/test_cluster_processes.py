"""Three ``queuecast proxy`` processes, one real Redis, the simulator: the cluster as it runs.

The proxies pull from the simulator's Notifications channels (the leader only); each test compares
every instance's board with ``/sim/truth`` with the world paused.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import trio

from tests.cluster.conftest import RedisServer, free_port, redis_binary
from tests.e2e.conftest import RunningSim, StartSim, comparable, wait_until
from tests.helpers import SECRET

LEASE_S = 2.0


@dataclass
class ProxyProcess:
    url: str
    process: subprocess.Popen[bytes]

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


def _env(sim: RunningSim, redis: RedisServer, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QC_")}
    env.update({
        "QC_PORT": str(port), "QC_REDIS_URL": redis.url, "QC_LEASE_S": str(LEASE_S),
        "QC_CALLBACK_SECRET": SECRET, "QC_UPSTREAM": "notifications", "QC_API_BASE": sim.url,
        "QC_LOGIN_BASE": sim.url, "QC_CLIENT_ID": sim.settings.client_id,
        "QC_CLIENT_SECRET": sim.settings.client_secret, "QC_REFRESH_S": "0.5", "QC_AGGREGATE_MS": "100",
        "QC_HEARTBEAT_TIMEOUT_S": "5", "QC_LOG_LEVEL": "WARNING",
    })
    return env


@pytest.fixture
def processes() -> Iterator[list[ProxyProcess]]:
    started: list[ProxyProcess] = []
    yield started
    for p in started:
        if p.alive:
            p.process.send_signal(signal.SIGTERM)
    for p in started:
        try:
            p.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.process.kill()
            p.process.wait()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


async def spawn(processes: list[ProxyProcess], sim: RunningSim, redis: RedisServer,
                http: httpx.AsyncClient) -> ProxyProcess:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "queuecast", "proxy", "--port", str(port)],  # noqa: ASYNC220  # starts, does not wait
                            env=_env(sim, redis, port), stdout=subprocess.DEVNULL)
    p = ProxyProcess(f"http://127.0.0.1:{port}", proc)
    processes.append(p)

    async def up() -> bool:
        assert p.alive, "the proxy exited"
        try:
            return (await http.get(f"{p.url}/healthz")).status_code == 200
        except httpx.TransportError:
            return False

    await wait_until(up, within_s=20)
    return p


async def metric(http: httpx.AsyncClient, p: ProxyProcess, name: str) -> float:
    text = (await http.get(f"{p.url}/metrics")).text
    found = re.search(rf"^{name} ([0-9.e+-]+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


async def leaders(http: httpx.AsyncClient, procs: list[ProxyProcess]) -> list[ProxyProcess]:
    return [p for p in procs if p.alive and await metric(http, p, "queuecast_cluster_leader") == 1.0]


async def boards_equal_truth(http: httpx.AsyncClient, sim: RunningSim, procs: list[ProxyProcess]) -> bool:
    truth = comparable((await http.get(f"{sim.url}/sim/truth")).json()["queues"])
    for p in procs:
        if comparable((await http.get(f"{p.url}/api/v1/queues")).json()["queues"]) != truth:
            return False
    return len(truth) == sim.settings.queues


async def converge(http: httpx.AsyncClient, sim: RunningSim, procs: list[ProxyProcess], within_s: float) -> None:
    await http.post(f"{sim.url}/sim/pause")
    try:
        await wait_until(lambda: boards_equal_truth(http, sim, procs), within_s=within_s, every_s=0.2)
    except trio.TooSlowError:
        truth = comparable((await http.get(f"{sim.url}/sim/truth")).json()["queues"])
        for p in procs:
            assert comparable((await http.get(f"{p.url}/api/v1/queues")).json()["queues"]) == truth, p.url
        raise


class SocketWatch:
    """Polls the simulator's open WebSocket count: the most ever open at once."""

    def __init__(self) -> None:
        self.most = 0

    async def run(self, http: httpx.AsyncClient, sim: RunningSim) -> None:
        while True:
            stats = (await http.get(f"{sim.url}/sim/stats")).json()
            self.most = max(self.most, stats["sockets"])
            await trio.sleep(0.05)


class StreamWatch:
    """One SSE client on an instance: the ids it received, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.ended = False

    async def run(self, url: str, last_event_id: str | None = None, *,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
        async with httpx.AsyncClient(timeout=httpx.Timeout(5, read=None)) as client, \
                client.stream("GET", f"{url}/dashboard-stream", headers=headers) as response:
            task_status.started()
            try:
                await self._read(response)
            except (httpx.RemoteProtocolError, httpx.ReadError):
                pass  # the server went away (a killed instance)
            self.ended = True

    async def _read(self, response: httpx.Response) -> None:
        event, ident = "", ""
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("id: "):
                ident = line[4:]
            elif line == "" and event:
                if ident:
                    self.events.append((event, ident))
                event, ident = "", ""

    def check_contiguous(self, after: str | None = None) -> int:
        """Every delta follows the frame before it by exactly one seq in one epoch (from the first
        snapshot, or from ``after`` for a resumed stream: then there is no snapshot); returns the count."""
        if after is None:
            assert self.events and self.events[0][0] == "snapshot"
            after, events = self.events[0][1], self.events[1:]
        else:
            events = self.events
        epoch, seq = after.rsplit("-", 1)
        last = int(seq)
        for event, ident in events:
            e, s = ident.rsplit("-", 1)
            assert event == "delta" and e == epoch and int(s) == last + 1, (event, ident, last)
            last = int(s)
        return len(events)


async def test_three_instances_converge_and_a_follower_takes_over_when_the_leader_is_killed(
    nursery: trio.Nursery, start_sim: StartSim, redis_server: RedisServer, processes: list[ProxyProcess],
    http: httpx.AsyncClient,
) -> None:
    sim = await start_sim(speed=20.0, queues=3, agents=20, notify_min_interval_s=0.05)
    procs = [await spawn(processes, sim, redis_server, http) for _ in range(3)]
    await wait_until(lambda: _one_leader(http, procs), within_s=15)
    await converge(http, sim, procs, within_s=20)
    await http.post(f"{sim.url}/sim/resume")

    sockets = SocketWatch()
    nursery.start_soon(sockets.run, http, sim)
    (leader,) = await leaders(http, procs)
    survivors = [p for p in procs if p is not leader]
    streams = [StreamWatch() for _ in survivors]
    for watch, p in zip(streams, survivors, strict=True):
        await nursery.start(watch.run, p.url)
    on_leader = StreamWatch()  # a client of the instance about to die
    await nursery.start(on_leader.run, leader.url)
    await http.post(f"{sim.url}/sim/waves", json={"ratePerMin": 1200, "durationS": 6})
    await trio.sleep(1.5)  # mid-wave
    leader.process.send_signal(signal.SIGKILL)
    killed_at = trio.current_time()
    await wait_until(lambda: _one_leader(http, survivors), within_s=3 * LEASE_S)
    takeover_s = trio.current_time() - killed_at
    with trio.fail_after(5):
        while not on_leader.ended:  # noqa: ASYNC110  # the kernel closes the dead process's sockets
            await trio.sleep(0.05)
    # its client reconnects to another instance with the last id it has: exactly the frames it missed
    resumed_from = on_leader.events[-1][1]
    resumed = StreamWatch()
    await nursery.start(resumed.run, survivors[0].url, resumed_from)
    await trio.sleep(2)  # the rest of the wave flows through the new leader
    await converge(http, sim, survivors, within_s=20)

    assert takeover_s <= LEASE_S + 0.5, takeover_s  # within the lease (+ this test's polling of /metrics)
    assert sockets.most == 1, "two instances held the Notifications channel at once"
    for watch in streams:
        assert watch.check_contiguous() > 0
    assert on_leader.check_contiguous() > 0
    assert resumed.events and resumed.events[0][0] == "delta"  # a replay, not a snapshot
    assert resumed.check_contiguous(after=resumed_from) > 0
    assert resumed.events[-1] == streams[0].events[-1]  # and then the same live frames as the others
    assert all(p.alive for p in survivors)


async def test_redis_stopped_for_ten_seconds_then_restarted_boards_converge_without_restarts(
    start_sim: StartSim, redis_server: RedisServer, processes: list[ProxyProcess], http: httpx.AsyncClient,
) -> None:
    sim = await start_sim(speed=20.0, queues=3, agents=20, notify_min_interval_s=0.05)
    procs = [await spawn(processes, sim, redis_server, http) for _ in range(3)]
    await wait_until(lambda: _one_leader(http, procs), within_s=15)
    await converge(http, sim, procs, within_s=20)
    await http.post(f"{sim.url}/sim/resume")
    pids = [p.process.pid for p in procs]
    await http.post(f"{sim.url}/sim/waves", json={"ratePerMin": 1200, "durationS": 12})
    await trio.sleep(1)
    redis_server.stop()
    await trio.sleep(10)
    for p in procs:  # serving the last state meanwhile; callbacks refused, not lost
        assert (await http.get(f"{p.url}/api/v1/queues")).status_code == 200
        status = await http.get(f"{p.url}/readyz")
        assert status.status_code == 503 and "broker detached" in status.json()["problems"]
    redis_server.start()  # empty, as after a restart without persistence
    await wait_until(lambda: _one_leader(http, procs), within_s=15)
    await trio.sleep(2)
    await converge(http, sim, procs, within_s=30)
    assert [p.process.pid for p in procs] == pids and all(p.alive for p in procs)
    for p in procs:
        assert await metric(http, p, "queuecast_cluster_attached") == 1.0
        assert await metric(http, p, 'queuecast_cluster_redis_errors_total{op="read"}') >= 1


async def _one_leader(http: httpx.AsyncClient, procs: list[ProxyProcess]) -> bool:
    return len(await leaders(http, procs)) == 1


async def test_redis_restarted_with_its_data_lets_every_client_go_on_without_a_gap(
    nursery: trio.Nursery, start_sim: StartSim, tmp_path: Any, processes: list[ProxyProcess],
    http: httpx.AsyncClient,
) -> None:
    redis = RedisServer(redis_binary(), tmp_path, persist=True)
    redis.start()
    try:
        sim = await start_sim(speed=20.0, queues=3, agents=20, notify_min_interval_s=0.05)
        procs = [await spawn(processes, sim, redis, http) for _ in range(3)]
        await wait_until(lambda: _one_leader(http, procs), within_s=15)
        await converge(http, sim, procs, within_s=20)
        await http.post(f"{sim.url}/sim/resume")
        streams = [StreamWatch() for _ in procs]
        for watch, p in zip(streams, procs, strict=True):
            await nursery.start(watch.run, p.url)
        await http.post(f"{sim.url}/sim/waves", json={"ratePerMin": 1200, "durationS": 8})
        await trio.sleep(1)
        before = [len(w.events) for w in streams]
        redis.stop()  # the leader steps down meanwhile; everyone keeps its clients
        await trio.sleep(4)
        redis.start()
        await wait_until(lambda: _one_leader(http, procs), within_s=15)
        await trio.sleep(2)
        await converge(http, sim, procs, within_s=30)
        for watch, n in zip(streams, before, strict=True):  # same epoch, every delta the next seq: no snapshot
            assert watch.check_contiguous() > 0 and len(watch.events) > n > 1
        assert all(p.alive for p in procs)
    finally:
        redis.stop()
