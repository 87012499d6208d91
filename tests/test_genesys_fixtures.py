"""Real-shaped Genesys message sequences (``tests/fixtures/genesys/``) through every path, step by step.

Each sequence goes through the callback in the guide's Event Bus envelope and in EventBridge's
(whose ``time`` is whole seconds and deliberately far from the message's), and through a
Notifications lane fed frames; after each step the whole ``QueueView`` must equal the fixture's.
A property test replays each sequence shuffled and duplicated: the board must end the same.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.http.callback import handle_callback
from proxy.ingest.signature import sign
from proxy.runtime import Runtime, build_runtime
from proxy.state.observation import ROUTING_STATUSES
from tests.conftest import proxy_settings
from tests.helpers import SECRET
from tests.test_hostile_values import _lane

FIXTURES = Path(__file__).parent / "fixtures" / "genesys"
SEQUENCES = sorted(p.name for p in FIXTURES.glob("*.json") if p.name != "envelopes.json")
PATHS = ("eventbus", "eventbridge", "websocket")


def load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return doc


def expected_view(queue_id: str, expect: dict[str, Any]) -> dict[str, Any]:
    """The whole view a fixture's ``expect`` describes (what it does not list is at its empty value)."""
    media = {name: {"waiting": 0, "interacting": 0, "alerting": 0, "longestWaitingSince": None, **values}
             for name, values in sorted(expect.get("media", {}).items())}
    return {
        "queueId": queue_id,
        "name": queue_id,
        "division": None,
        "waiting": sum(m["waiting"] for m in media.values()),
        "interacting": sum(m["interacting"] for m in media.values()),
        "alerting": sum(m["alerting"] for m in media.values()),
        "longestWaitingSince": expect.get("longestWaitingSince"),
        "longestWaitingAsOf": expect.get("longestWaitingAsOf"),
        "media": media,
        "agents": {status: expect.get("agents", {}).get(status, 0) for status in ROUTING_STATUSES},
        "interval": expect.get("interval"),
        "updatedAt": expect.get("updatedAt"),
    }


class Feed:
    """Delivers event bodies to one runtime along one path."""

    def __init__(self, path: str, queue_id: str) -> None:
        self.path = path
        self.runtime: Runtime = build_runtime(proxy_settings())
        self.lane = _lane(self.runtime, queue_id) if path == "websocket" else None

    def topic(self, body: dict[str, Any]) -> str:
        return f"v2.analytics.queues.{body['group']['queueId']}.observations"

    def body(self, body: dict[str, Any]) -> None:
        if self.path == "websocket":
            self.frame({"topicName": self.topic(body), "version": "2", "eventBody": body})
        elif self.path == "eventbridge":
            self.post({"version": "0", "id": str(uuid.uuid4()), "detail-type": "v2.analytics.queues.{id}.observations",
                       "source": "aws.partner/genesys.com", "time": "2024-12-30T09:00:00Z",  # unused, on purpose
                       "detail": {"topicName": self.topic(body), "version": "2", "eventBody": body}})
        else:
            self.post({"eventId": str(uuid.uuid4()), "topic": self.topic(body),
                       "timestamp": "2031-01-01T00:00:00.000Z", "payload": body})  # unused, on purpose

    def frame(self, frame: dict[str, Any]) -> None:
        assert self.lane is not None
        lane = self.lane

        async def feed() -> str:
            return lane.feed(json.dumps(frame))

        assert trio.run(feed) in ("applied", "control"), frame

    def post(self, envelope: dict[str, Any]) -> None:
        raw = json.dumps(envelope).encode()
        headers = {"x-hub-signature-256": sign(raw, SECRET), "content-type": "application/json"}

        async def handle() -> tuple[int, bytes]:
            return handle_callback(self.runtime, raw, headers)

        status, answer = trio.run(handle)
        assert status == 200, answer

    def view(self, queue_id: str) -> dict[str, Any]:
        body: dict[str, Any] = self.runtime.reducer.view(queue_id).body
        return body


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", SEQUENCES)
def test_each_step_leaves_the_exact_board(name: str, path: str) -> None:
    doc = load(name)
    feed = Feed(path, doc["queueId"])
    for index, step in enumerate(doc["steps"]):
        feed.body(step["message"])
        assert feed.view(doc["queueId"]) == expected_view(doc["queueId"], step["expect"]), f"{name} step {index}"


def test_raw_eventbridge_and_websocket_deliveries() -> None:
    doc = load("envelopes.json")
    feed = Feed("websocket", doc["queueId"])
    for delivery in doc["deliveries"]:
        if delivery["kind"] == "eventbridge":
            feed.post(delivery["raw"])
        else:
            feed.frame(delivery["raw"])
        assert feed.view(doc["queueId"]) == expected_view(doc["queueId"], delivery["expect"]), delivery["kind"]


@settings(max_examples=60, deadline=None)
@given(data=st.data(), name=st.sampled_from(SEQUENCES))
def test_any_interleaving_ends_on_the_same_board(data: st.DataObject, name: str) -> None:
    doc = load(name)
    messages = [step["message"] for step in doc["steps"]]
    shuffled = data.draw(st.permutations(messages + data.draw(st.lists(st.sampled_from(messages), max_size=4))))
    in_order, any_order = Feed("eventbus", doc["queueId"]), Feed("eventbus", doc["queueId"])
    for body in messages:
        in_order.body(body)
    for body in shuffled:
        any_order.body(body)
    assert any_order.view(doc["queueId"]) == in_order.view(doc["queueId"])
    assert in_order.view(doc["queueId"]) == expected_view(doc["queueId"], doc["steps"][-1]["expect"])
