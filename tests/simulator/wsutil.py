"""WebSocket helpers (trio-websocket, a real client)."""

from __future__ import annotations

import json
from typing import Any

import trio
from trio_websocket import WebSocketConnection

from .conftest import Sim


async def next_json(ws: WebSocketConnection, *, within: float = 5.0, skip_heartbeats: bool = True) -> Any:
    with trio.fail_after(within):
        while True:
            msg = json.loads(await ws.get_message())
            if (
                skip_heartbeats
                and msg.get("topicName") == "channel.metadata"
                and msg["eventBody"].get("message") == "WebSocket Heartbeat"
            ):
                continue
            return msg


async def new_channel(sim: Sim, headers: dict[str, str], queue_ids: list[str]) -> dict[str, Any]:
    r = await sim.client.post("/api/v2/notifications/channels", headers=headers)
    assert r.status_code == 200, r.text
    ch = r.json()
    topics = [{"id": f"v2.analytics.queues.{q}.observations"} for q in queue_ids]
    r = await sim.client.put(f"/api/v2/notifications/channels/{ch['id']}/subscriptions", json=topics, headers=headers)
    assert r.status_code == 200, r.text
    return dict(ch)
