"""Wiring the simulator to a proxy through real HTTP, as a tenant would: an Event Bus subscription.

Used by ``queuecast demo``, the end-to-end tests and the bench. It speaks only HTTP, so neither the
proxy nor the simulator is imported by the other.
"""

from __future__ import annotations

import httpx

from proxy.contract import CALLBACK_PATH, observation_topic


async def fetch_token(client: httpx.AsyncClient, sim_url: str, client_id: str, client_secret: str) -> str:
    r = await client.post(
        f"{sim_url}/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, client_secret)
    )
    r.raise_for_status()
    token: str = r.json()["access_token"]
    return token


async def subscribe_eventbus(
    sim_url: str,
    proxy_url: str,
    *,
    client_id: str,
    client_secret: str,
    callback_secret: str | None = None,
    batch: bool = False,
    retry_interval_s: float = 1.0,
    max_retry_attempts: int = 5,
    description: str = "queuecast demo",
    fmt: str = "JSON",
    topics: list[str] | None = None,
) -> str:
    """Create an Event Bus subscription on the simulator that pushes to ``proxy_url``'s callback; returns its id.

    ``topics`` default to the real observations topic of every queue the routing API lists;
    ``fmt`` is ``JSON`` (the guide's envelope) or ``EventBridge`` (the DESIGN 3.2 envelope).
    """
    async with httpx.AsyncClient(timeout=10) as client:
        token = await fetch_token(client, sim_url, client_id, client_secret)
        auth = {"Authorization": f"Bearer {token}"}
        if topics is None:
            listed = await client.get(f"{sim_url}/api/v2/routing/queues", params={"pageSize": 500}, headers=auth)
            listed.raise_for_status()
            topics = [observation_topic(q["id"]) for q in listed.json()["entities"]]
        body: dict[str, object] = {
            "callbackUrl": proxy_url + CALLBACK_PATH,
            "topics": topics,
            "format": fmt,
            "retryIntervalSeconds": retry_interval_s,
            "maxRetryAttempts": max_retry_attempts,
            "description": description,
            "batch": batch,
        }
        if callback_secret is not None:
            body["secret"] = callback_secret
        r = await client.post(f"{sim_url}/api/v2/events/subscriptions", json=body, headers=auth)
        r.raise_for_status()
        subscription_id: str = r.json()["id"]
        return subscription_id
