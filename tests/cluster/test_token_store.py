"""The token shared through a real Redis: one token request per cluster, never the client secret stored."""

from __future__ import annotations

import json

import httpx
import trio

from proxy.auth.token import TokenManager
from proxy.cluster.store import Keys, open_store
from proxy.cluster.token_store import RedisTokenStore
from proxy.settings import Secret
from tests.cluster.conftest import RedisServer

CLIENT_SECRET = "client-secret-never-in-redis"


class Login:
    def __init__(self) -> None:
        self.requests = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        await trio.sleep(0.2)  # the platform takes a while: others must wait for this one
        return httpx.Response(200, json={"access_token": f"tok-{self.requests}", "expires_in": 3600})


async def test_instances_refreshing_at_once_make_one_token_request_and_share_it(redis_server: RedisServer):
    login = Login()
    async with open_store(Secret(redis_server.url)) as redis, \
            httpx.AsyncClient(transport=httpx.MockTransport(login)) as http:
        keys = Keys("qc-test")
        managers = [TokenManager(http=http, token_url="https://login.test/oauth/token", client_id="id",
                                 client_secret=Secret(CLIENT_SECRET), store=RedisTokenStore(redis, keys))
                    for _ in range(3)]
        values: list[str] = []

        async def get(m: TokenManager) -> None:
            values.append((await m.token()).value)

        async with trio.open_nursery() as nursery:
            for m in managers:
                nursery.start_soon(get, m)
        assert login.requests == 1 and values == ["tok-1"] * 3
        assert sum(m.shared for m in managers) == 2
        stored = {k.decode(): v.decode() for k, v in (await redis.hgetall("qc-test:token")).items()}
        assert stored["value"] == "tok-1" and 3590 < float(stored["expires"]) - float(stored["issued"]) <= 3600
        everything = [await redis.dump(k) for k in await redis.keys("*")]
        assert all(CLIENT_SECRET.encode() not in (blob or b"") for blob in everything)
        assert json.dumps(stored).find(CLIENT_SECRET) == -1


async def test_a_refused_token_is_not_adopted_again_from_the_store(redis_server: RedisServer):
    login = Login()
    async with open_store(Secret(redis_server.url)) as redis, \
            httpx.AsyncClient(transport=httpx.MockTransport(login)) as http:
        store = RedisTokenStore(redis, Keys("qc-test"))
        m = TokenManager(http=http, token_url="https://login.test/oauth/token", client_id="id",
                         client_secret=Secret(CLIENT_SECRET), store=store)
        first = await m.token()
        m.invalidate(first)  # the platform answered 401 with it
        second = await m.token()
        assert (first.value, second.value, login.requests) == ("tok-1", "tok-2", 2)
