"""JSON nested thousands deep (10 KB of brackets) is malformed input, never a crash: the callback
answers 400 (it answered 500 from a ``RecursionError``), a WebSocket frame is dropped as invalid (it
crashed the socket reader and restarted the whole upstream). Found by ``queuecast chaos``."""

from __future__ import annotations

import json

import httpx
import pytest

from proxy.errors import InvalidInput
from proxy.ingest.notification import parse_notification
from tests.conftest import RunningProxy
from tests.helpers import envelope, post_callback

DEEP = "[" * 5000 + "]" * 5000


async def test_a_deeply_nested_callback_body_is_a_400_and_the_next_one_lands(
    client: httpx.AsyncClient, proxy: RunningProxy
) -> None:
    for raw in (DEEP, '{"eventId": "e", "topic": "t", "timestamp": "2026-11-27T21:00:00Z", "payload": ' + DEEP + "}"):
        r = await post_callback(client, raw.encode())
        assert r.status_code == 400, r.text
        assert r.json()["field"] == "$"
    assert (await post_callback(client, envelope("q-1", oWaiting=2))).status_code == 200
    assert (await client.get("/api/v1/queues")).json()["queues"]["q-1"]["waiting"] == 2


@pytest.mark.parametrize("frame", [DEEP, json.dumps({"topicName": "v2.analytics.queues.q.observations"})[:-1]
                                   + ', "eventBody": ' + DEEP + "}"])
def test_a_deeply_nested_frame_is_invalid(frame: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_notification(frame)
    assert raised.value.field == "$"
