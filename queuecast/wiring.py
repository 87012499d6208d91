"""Wiring the simulator to a proxy through real HTTP, as a tenant would: an Event Bus subscription.

Used by ``queuecast demo``, the end-to-end tests and the bench. It speaks only HTTP, so neither the
proxy nor the simulator is imported by the other.
"""

from __future__ import annotations

import httpx

from proxy.contract import CALLBACK_PATH, QUEUE_UPDATE_TOPIC


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
) -> str:
    """Create an Event Bus subscription on the simulator that pushes to ``proxy_url``'s callback; returns its id."""
    async with httpx.AsyncClient(timeout=10) as client:
        token = await fetch_token(client, sim_url, client_id, client_secret)
        body: dict[str, object] = {
            "callbackUrl": proxy_url + CALLBACK_PATH,
            "topics": [QUEUE_UPDATE_TOPIC],
            "format": "JSON",
            "retryIntervalSeconds": retry_interval_s,
            "maxRetryAttempts": max_retry_attempts,
            "description": description,
            "batch": batch,
        }
        if callback_secret is not None:
            body["secret"] = callback_secret
        r = await client.post(
            f"{sim_url}/api/v2/events/subscriptions", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        r.raise_for_status()
        subscription_id: str = r.json()["id"]
        return subscription_id
