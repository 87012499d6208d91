"""Every error the simulator gives is the platform's ``ErrorBody`` (JSON), unrouted requests included."""

from __future__ import annotations

import pytest
from trio_websocket import ConnectionRejected, open_websocket_url

from . import shapes
from .conftest import Sim


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("POST", "/api/v2/analytics/nothing/here", 404, "not.found"),
        ("GET", "/api/v2/notifications", 404, "not.found"),
        ("GET", "/no/such/route", 404, "not.found"),
        ("GET", "/api/v2/analytics/queues/observations/query", 405, "method.not.allowed"),
        ("DELETE", "/api/v2/notifications/channels", 405, "method.not.allowed"),
    ],
)
async def test_unrouted_requests_answer_json_error_bodies(
    sim: Sim, method: str, path: str, status: int, code: str
) -> None:
    r = await sim.client.request(method, path, headers=await sim.auth())
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    shapes.check(shapes.ERROR_BODY, body)
    assert (body["status"], body["code"]) == (status, code)


async def test_a_handled_404_is_an_error_body_too(sim: Sim) -> None:
    r = await sim.client.get("/api/v2/notifications/channels/nope/subscriptions", headers=await sim.auth())
    assert r.status_code == 404
    shapes.check(shapes.ERROR_BODY, r.json())
    assert r.json()["code"] == "not.found"


async def test_websocket_to_an_unknown_channel_is_refused_with_an_error_body(sim: Sim) -> None:
    with pytest.raises(ConnectionRejected) as info:
        async with open_websocket_url(sim.url.replace("http", "ws") + "/channels/nope"):
            pass
    assert info.value.status_code == 404
    assert b'"code":"not.found"' in (info.value.body or b"").replace(b" ", b"")
