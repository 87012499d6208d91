"""A message names its queue twice — in its topic and in its body's ``group.queueId`` — and the two
must agree; a queue id is at most 128 characters (the platform's are 36-character UUIDs). Found by
``queuecast chaos``: a signed delivery on queue A's topic whose body named a 200 KB queue id put
that queue on every board (and into every SSE client's snapshot) until the proxy restarted."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from proxy.errors import InvalidInput
from proxy.ingest.notification import parse_notification
from tests.conftest import RunningProxy
from tests.helpers import envelope, post_callback

Q1, Q2 = "3f1c0a56-0000-4000-8000-000000000001", "3f1c0a56-0000-4000-8000-000000000002"
NOW = "2026-11-27T21:00:00.100Z"


def body(queue_id: str) -> dict[str, Any]:
    return {"group": {"queueId": queue_id, "mediaType": "voice"},
            "data": [{"interval": f"{NOW}/{NOW}", "metrics": [{"metric": "oWaiting", "stats": {"count": 4}}]}]}


def delivery(topic_queue: str, body_queue: str) -> dict[str, Any]:
    return {"eventId": str(uuid.uuid4()), "topic": f"v2.analytics.queues.{topic_queue}.observations",
            "timestamp": NOW, "payload": body(body_queue)}


@pytest.mark.parametrize("body_queue", [Q2, "q" * 200_000, "q" * 129])
async def test_a_delivery_whose_body_names_another_queue_is_refused_whole(
    client: httpx.AsyncClient, proxy: RunningProxy, body_queue: str
) -> None:
    batch = [delivery(Q1, Q1), delivery(Q1, body_queue)]
    r = await post_callback(client, batch)
    assert r.status_code == 400
    assert r.json()["field"] == "$[1].payload.group.queueId"
    assert (await client.get("/api/v1/queues")).json()["queues"] == {}  # atomic: nothing applied
    assert (await post_callback(client, delivery(Q1, Q1))).status_code == 200
    assert list((await client.get("/api/v1/queues")).json()["queues"]) == [Q1]


async def test_an_eventbridge_delivery_whose_body_names_another_queue_is_refused(client: httpx.AsyncClient) -> None:
    bridge = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "v2.analytics.queues.{id}.observations",
              "source": "aws.partner/genesys.com/cloud/org/x", "time": "2026-11-27T21:00:00Z",
              "detail": {"topicName": f"v2.analytics.queues.{Q1}.observations", "version": "2",
                         "eventBody": body(Q2), "metadata": {"CorrelationId": "c"}}}
    r = await post_callback(client, bridge)
    assert r.status_code == 400 and r.json()["field"] == "$.detail.eventBody.group.queueId"


async def test_a_queue_update_with_an_overlong_queue_id_is_refused(client: httpx.AsyncClient) -> None:
    r = await post_callback(client, envelope("q" * 129, oWaiting=1))
    assert r.status_code == 400 and "queueId" in r.json()["field"]
    assert (await post_callback(client, envelope("q" * 128, oWaiting=1))).status_code == 200


@pytest.mark.parametrize("body_queue", [Q2, "q" * 200_000])
def test_a_frame_whose_body_names_another_queue_is_invalid(body_queue: str) -> None:
    frame = json.dumps({"topicName": f"v2.analytics.queues.{Q1}.observations", "version": "2",
                        "eventBody": body(body_queue), "metadata": {"CorrelationId": "c"}})
    with pytest.raises(InvalidInput) as raised:
        parse_notification(frame)
    assert raised.value.field == "$.eventBody.group.queueId"
    ok = json.dumps({"topicName": f"v2.analytics.queues.{Q1}.observations", "eventBody": body(Q1)})
    assert parse_notification(ok).observations[0].queue_id == Q1
