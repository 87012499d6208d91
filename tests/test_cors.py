import httpx
import pytest

from proxy.http.cors import CorsPolicy

WALL = "https://wall.example.com"


def test_policy_is_exact_origin():
    policy = CorsPolicy((WALL,))
    assert policy.allows(WALL)
    assert not policy.allows("https://wall.example.com.evil.io")
    assert not policy.allows("http://wall.example.com")
    assert policy.preflight("https://evil.io") == (403, [("Vary", "Origin")])


@pytest.fixture
async def cors_client(start_proxy):
    p = await start_proxy(cors_origins=(WALL,))
    async with httpx.AsyncClient(base_url=p.url, timeout=httpx.Timeout(5, read=None)) as c:
        yield c


async def test_preflight_from_an_allowed_origin_allows_last_event_id(cors_client):
    r = await cors_client.options("/dashboard-stream", headers={
        "Origin": WALL, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "last-event-id"})
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == WALL
    assert "Last-Event-ID" in r.headers["access-control-allow-headers"]


async def test_preflight_from_another_origin_is_refused_without_cors_headers(cors_client):
    r = await cors_client.options("/dashboard-stream", headers={
        "Origin": "https://evil.io", "Access-Control-Request-Method": "GET"})
    assert r.status_code == 403
    assert not any(k.startswith("access-control-") for k in r.headers)


async def test_stream_and_api_carry_the_origin_only_when_allowed(cors_client):
    async with cors_client.stream("GET", "/dashboard-stream", headers={"Origin": WALL}) as r:
        assert r.headers["access-control-allow-origin"] == WALL
    async with cors_client.stream("GET", "/dashboard-stream", headers={"Origin": "https://evil.io"}) as r:
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    r = await cors_client.get("/api/v1/queues", headers={"Origin": WALL})
    assert r.headers["access-control-allow-origin"] == WALL
    r = await cors_client.get("/api/v1/queues", headers={"Origin": "https://evil.io"})
    assert "access-control-allow-origin" not in r.headers
