"""The Event Bus subscription's secret can be changed in place (PATCH); it is never read back."""

from __future__ import annotations

import hashlib
import hmac
import json

import trio

from .conftest import Receiver, Sim

TOPIC = "com.genesyscloud.telephony.queue.update"


def _signature(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


async def test_patching_the_secret_signs_every_later_attempt_with_it(sim: Sim, receiver: Receiver) -> None:
    h = await sim.auth()
    await sim.client.post("/sim/pause")
    receiver.fail_each_body = 1  # the first attempt of each body fails: its redelivery comes after the PATCH
    r = await sim.client.post("/api/v2/events/subscriptions", headers=h, json={
        "callbackUrl": receiver.url, "topics": [TOPIC], "secret": "old-secret-0123456789",
        "retryIntervalSeconds": 0.3, "maxRetryAttempts": 3})
    sub = r.json()
    assert r.status_code == 201 and "secret" not in json.dumps(sub)
    await sim.client.post("/sim/advance", json={"seconds": 5})
    first = (await receiver.wait_for(1))[0]
    assert first.headers["x-hub-signature-256"] == _signature(b"old-secret-0123456789", first.body)
    r = await sim.client.patch(f"/api/v2/events/subscriptions/{sub['id']}", headers=h,
                               json={"secret": "new-secret-0123456789"})
    assert r.status_code == 200 and r.json()["id"] == sub["id"] and "new-secret" not in r.text
    with trio.fail_after(5):
        while not any(x.body == first.body for x in receiver.received[1:]):  # noqa: ASYNC110
            await trio.sleep(0.02)
    again = next(x for x in receiver.received[1:] if x.body == first.body)
    assert again.headers["x-hub-signature-256"] == _signature(b"new-secret-0123456789", again.body)
    assert (await sim.stats())["subscriptions"] == 1


async def test_a_bad_patch_is_a_400_naming_the_field_and_an_unknown_id_a_404(sim: Sim, receiver: Receiver) -> None:
    h = await sim.auth()
    r = await sim.client.post("/api/v2/events/subscriptions", headers=h,
                              json={"callbackUrl": receiver.url, "topics": [TOPIC]})
    path = f"/api/v2/events/subscriptions/{r.json()['id']}"
    bad = await sim.client.patch(path, headers=h, json={"topics": ["x"]})
    assert bad.status_code == 400 and bad.json()["message"].startswith("topics:")
    bad = await sim.client.patch(path, headers=h, json={"secret": 42})
    assert bad.status_code == 400 and bad.json()["message"].startswith("secret:")
    missing = await sim.client.patch("/api/v2/events/subscriptions/nope", headers=h, json={"secret": "s"})
    assert missing.status_code == 404
    assert (await sim.client.patch(path, json={"secret": "s"})).status_code == 401
