"""Two or three proxies in one process sharing one real Redis: frames, resume, callbacks, lease, outage."""

from __future__ import annotations

import json
from typing import Any

import httpx
import trio

from proxy.settings import Secret
from tests.cluster.conftest import RedisServer
from tests.conftest import RunningProxy, StartProxy
from tests.helpers import envelope, open_stream, post_callback


async def until(predicate: Any, within: float = 10.0) -> None:
    with trio.fail_after(within):
        while not predicate():  # noqa: ASYNC110  # state owned by servers under test
            await trio.sleep(0.02)


async def start_cluster(start_proxy: StartProxy, redis: RedisServer, n: int, **overrides: Any) -> list[RunningProxy]:
    proxies = [await start_proxy(redis_url=Secret(redis.url), lease_s=2.0, **overrides) for _ in range(n)]
    await until(lambda: sum(p.runtime.cluster is not None and p.runtime.cluster.leading for p in proxies) == 1)
    # every instance has read the new epoch's first entry
    await until(lambda: len({p.runtime.broker.epoch for p in proxies}) == 1
                and not proxies[0].runtime.broker.epoch.startswith("sync"))
    return proxies


def leader_of(proxies: list[RunningProxy]) -> RunningProxy:
    (leader,) = [p for p in proxies if p.runtime.cluster is not None and p.runtime.cluster.leading]
    return leader


async def test_callback_on_a_follower_reaches_clients_of_every_instance(start_proxy, redis_server):
    proxies = await start_cluster(start_proxy, redis_server, 2)
    follower = next(p for p in proxies if p is not leader_of(proxies))
    async with httpx.AsyncClient(base_url=proxies[0].url, timeout=httpx.Timeout(5, read=None)) as a, \
            httpx.AsyncClient(base_url=proxies[1].url, timeout=httpx.Timeout(5, read=None)) as b, \
            httpx.AsyncClient(base_url=follower.url) as poster:
        async with open_stream(a) as (_, ra), open_stream(b) as (_, rb):
            assert (await ra.next()).event == "snapshot" and (await rb.next()).event == "snapshot"
            r = await post_callback(poster, envelope("q1", oWaiting=3, queueName="Billing"))
            assert r.status_code == 200 and r.json() == {"received": 1, "accepted": 1, "duplicate": 0}
            ea, da = await ra.next_json()
            eb, db = await rb.next_json()
        assert ea.event == eb.event == "delta" and ea.id == eb.id
        assert da["queues"]["q1"]["waiting"] == db["queues"]["q1"]["waiting"] == 3
        qa, qb = (await a.get("/api/v1/queues")).json(), (await b.get("/api/v1/queues")).json()
        assert qa["queues"] == qb["queues"] and qa["seq"] == qb["seq"] and qa["epoch"] == qb["epoch"]


async def test_a_client_resumes_on_another_instance_with_exactly_the_missed_deltas(start_proxy, redis_server):
    proxies = await start_cluster(start_proxy, redis_server, 2)
    a, b = proxies
    async with httpx.AsyncClient(base_url=a.url, timeout=httpx.Timeout(5, read=None)) as ca, \
            httpx.AsyncClient(base_url=b.url, timeout=httpx.Timeout(5, read=None)) as cb:
        await post_callback(ca, envelope("q1", oWaiting=1))
        await until(lambda: a.runtime.broker.seq >= 1 and b.runtime.broker.seq >= 1)
        async with open_stream(ca) as (_, reader):
            first = await reader.next()
        last_id = first.id
        for n in range(2, 5):  # three deltas while the client is away
            await post_callback(cb, envelope(f"q{n}", oWaiting=n))
        await until(lambda: b.runtime.broker.seq >= 4)
        async with open_stream(cb, headers={"Last-Event-ID": last_id}) as (_, reader):
            got = [await reader.next_json() for _ in range(3)]
        assert [e.event for e, _ in got] == ["delta"] * 3
        assert [list(d["queues"]) for _, d in got] == [["q2"], ["q3"], ["q4"]]
        epoch, seq = last_id.rsplit("-", 1)
        assert [e.id for e, _ in got] == [f"{epoch}-{int(seq) + k}" for k in (1, 2, 3)]


async def test_duplicate_callbacks_on_different_instances_are_applied_once(start_proxy, redis_server):
    proxies = await start_cluster(start_proxy, redis_server, 3)
    clients = [httpx.AsyncClient(base_url=p.url) for p in proxies]
    try:
        events = [envelope(f"q{i % 5}", oWaiting=i, observed_ms=1000 + i) for i in range(40)]
        outcomes = {"accepted": 0, "duplicate": 0}
        for i, event in enumerate(events):
            for copy in range(2 if i % 7 == 0 else 1):  # some delivered twice, to another instance
                r = await post_callback(clients[(i + copy) % 3], event)
                assert r.status_code == 200
                for key in outcomes:
                    outcomes[key] += r.json()[key]
        assert outcomes == {"accepted": 40, "duplicate": 6}
        leader = leader_of(proxies)
        applied = leader.runtime.cluster.metrics.callbacks.labels("applied")  # type: ignore[union-attr]
        await until(lambda: applied._value.get() == 40)
        await trio.sleep(0.3)
        assert applied._value.get() == 40
        views = [(await c.get("/api/v1/queues")).json()["queues"] for c in clients]
        assert views[0] == views[1] == views[2]
        assert {q: v["waiting"] for q, v in views[0].items()} == {f"q{k}": 35 + k for k in range(5)}
    finally:
        for c in clients:
            await c.aclose()


async def test_follower_takes_over_when_the_leader_stops_and_numbering_continues(start_proxy, redis_server):
    proxies = await start_cluster(start_proxy, redis_server, 2)
    leader = leader_of(proxies)
    other = next(p for p in proxies if p is not leader)
    async with httpx.AsyncClient(base_url=other.url) as c:
        await post_callback(c, envelope("q1", oWaiting=1, observed_ms=10))
        await until(lambda: other.runtime.broker.seq >= 1)
        seq_before, epoch = other.runtime.broker.seq, other.runtime.broker.epoch
        leader.stop.set()  # the leader's process ends (its lease is released on the way out)
        # released on the way out: taken over before the lease (2 s) could have expired
        await until(lambda: other.runtime.cluster is not None and other.runtime.cluster.leading, within=1.9)
        await post_callback(c, envelope("q1", oWaiting=2, observed_ms=20))
        await until(lambda: other.runtime.broker.seq > seq_before)
        assert other.runtime.broker.epoch == epoch
        body = (await c.get("/api/v1/queues")).json()
        assert body["queues"]["q1"]["waiting"] == 2


async def test_redis_outage_keeps_clients_and_answers_callbacks_503_then_recovers(start_proxy, redis_server):
    proxies = await start_cluster(start_proxy, redis_server, 2)
    a = proxies[0]
    async with httpx.AsyncClient(base_url=a.url, timeout=httpx.Timeout(5, read=None)) as c:
        await post_callback(c, envelope("q1", oWaiting=1, observed_ms=10))
        await until(lambda: a.runtime.broker.seq >= 1)
        async with open_stream(c) as (_, reader):
            assert (await reader.next()).event == "snapshot"
            redis_server.stop()
            while True:  # the status already queued, then the instance's own word: degraded, redis
                status = await reader.next(within=10, skip_status=False)
                assert status.event == "status"
                if json.loads(status.data)["detail"] == "redis":
                    break
            shown = json.loads(status.data)
            assert shown["upstream"] == "degraded" and shown["source"] == "cluster" and shown["since"]
            r = await post_callback(c, envelope("q1", oWaiting=5, observed_ms=20))
            assert r.status_code == 503 and "redis://" not in r.text
            ready = await c.get("/readyz")
            assert ready.status_code == 503 and "broker detached" in ready.json()["problems"]
            redis_server.start()  # empty: the data is gone, as after a restart without persistence
            await until(lambda: all(p.runtime.broker.attached for p in proxies), within=15)
            await until(lambda: sum(p.runtime.cluster.leading for p in proxies) == 1, within=15)  # type: ignore[union-attr]
            r = await post_callback(c, envelope("q1", oWaiting=7, observed_ms=30))
            assert r.status_code == 200
            while True:  # the stream goes on: a status back to live, then the new state
                event = await reader.next(within=10)
                if "q1" in json.loads(event.data)["queues"] and json.loads(event.data)["queues"]["q1"]["waiting"] == 7:
                    break


async def test_a_password_protected_redis_works_and_the_password_is_never_shown(
    start_proxy: StartProxy, tmp_path: Any, caplog: Any,
) -> None:
    import logging

    from tests.cluster.conftest import RedisServer, redis_binary

    password = "s3cret-redis-pass"
    server = RedisServer(redis_binary(), tmp_path, password=password)
    server.start()
    try:
        caplog.set_level(logging.DEBUG)
        proxies = await start_cluster(start_proxy, server, 1)
        async with httpx.AsyncClient(base_url=proxies[0].url) as c:
            r = await post_callback(c, envelope("q1", oWaiting=2))
            assert r.status_code == 200 and r.json()["accepted"] == 1
            texts = [(await c.get(path)).text for path in ("/metrics", "/readyz", "/api/v1/queues")]
        server.stop()  # and an outage: its log lines must not carry the URL either
        await until(lambda: not proxies[0].runtime.broker.attached)
        assert password not in caplog.text and all(password not in t for t in texts)
        assert "***@127.0.0.1" in caplog.text  # the join line shows where, not how
    finally:
        server.stop()


async def test_a_new_leader_adopts_the_clusters_token_instead_of_asking_the_platform(
    start_proxy: StartProxy, start_sim: Any, redis_server: RedisServer,
) -> None:
    sim = await start_sim(queues=2, agents=6)
    upstream = {"upstream": "notifications", "api_base": sim.url, "login_base": sim.url,
                "client_id": sim.settings.client_id, "client_secret": Secret(sim.settings.client_secret)}
    proxies = await start_cluster(start_proxy, redis_server, 2, **upstream)
    leader = leader_of(proxies)
    other = next(p for p in proxies if p is not leader)
    async with httpx.AsyncClient() as http:
        async def tokens_issued() -> int:
            return int((await http.get(f"{sim.url}/sim/stats")).json()["tokens_issued"])

        async def live(p: RunningProxy) -> bool:
            return len((await http.get(f"{p.url}/api/v1/queues")).json()["queues"]) == 2

        with trio.fail_after(10):
            while not await live(leader) or await tokens_issued() < 1:  # noqa: ASYNC110  # remote state
                await trio.sleep(0.05)
        assert await tokens_issued() == 1
        leader.stop.set()
        await until(lambda: other.runtime.cluster is not None and other.runtime.cluster.leading)
        with trio.fail_after(10):  # the new leader's upstream is up: its socket is open
            while (await http.get(f"{sim.url}/sim/stats")).json()["sockets"] != 1:  # noqa: ASYNC110
                await trio.sleep(0.05)
        assert await tokens_issued() == 1  # the token in Redis was adopted: no second request


async def test_a_new_leader_without_credentials_goes_on_from_the_clusters_state(start_proxy, redis_server):
    """Push only, nothing to backfill from: the followers applied every accepted callback too."""
    proxies = await start_cluster(start_proxy, redis_server, 2)
    leader = leader_of(proxies)
    other = next(p for p in proxies if p is not leader)
    async with httpx.AsyncClient(base_url=other.url) as c:
        await post_callback(c, envelope("q1", media="chat", oWaiting=3, queueName="Billing", observed_ms=10))
        await until(lambda: other.runtime.broker.seq >= 1)
        leader.stop.set()
        await until(lambda: other.runtime.cluster is not None and other.runtime.cluster.leading)
        await post_callback(c, envelope("q1", media="voice", oWaiting=2, observed_ms=20))
        seq = other.runtime.broker.seq
        await until(lambda: other.runtime.broker.seq > seq)
        view = (await c.get("/api/v1/queues")).json()["queues"]["q1"]
    assert view["name"] == "Billing" and view["waiting"] == 5
    assert view["media"]["chat"]["waiting"] == 3 and view["media"]["voice"]["waiting"] == 2
