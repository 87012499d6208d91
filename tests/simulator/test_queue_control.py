"""The control API's queue routes: ``POST /sim/queues`` and ``DELETE /sim/queues/{id}``."""

from __future__ import annotations

from .conftest import Sim


async def test_queues_can_be_added_and_deleted(sim: Sim) -> None:
    await sim.client.post("/sim/pause")
    h = await sim.auth()
    r = await sim.client.post("/sim/queues", json={"name": "Night Desk"})
    assert r.status_code == 201 and r.json()["name"] == "Night Desk" and r.json()["mediaTypes"] == ["voice", "chat"]
    qid = r.json()["id"]
    listed = (await sim.client.get("/api/v2/routing/queues", params={"pageSize": 100}, headers=h)).json()
    assert {"id": qid, "name": "Night Desk"} in [{"id": q["id"], "name": q["name"]} for q in listed["entities"]]
    view = (await sim.truth())["queues"][qid]
    assert view["name"] == "Night Desk" and view["updatedAt"] is not None  # initial state published, paused
    await sim.client.post("/sim/advance", json={"seconds": 120})  # arrivals reach it; nobody answers
    assert (await sim.truth())["queues"][qid]["interval"]["offered"] >= 1
    for bad in ({"name": "Night Desk"}, {"name": " "}, {}):
        r = await sim.client.post("/sim/queues", json=bad)
        assert r.status_code == 400 and "name" in r.json()["error"]

    victim = (await sim.queue_ids())[0]
    wave = (await sim.client.post("/sim/waves", json={"queueId": victim, "ratePerMin": 60, "durationS": 600})).json()
    assert (await sim.client.delete(f"/sim/queues/{victim}")).status_code == 204
    assert (await sim.client.delete(f"/sim/queues/{victim}")).status_code == 404
    assert victim not in await sim.queue_ids() and victim not in (await sim.truth())["queues"]
    assert wave["waveId"] not in [w["waveId"] for w in (await sim.client.get("/sim/waves")).json()["entities"]]
    listed = (await sim.client.get("/api/v2/routing/queues", params={"pageSize": 100}, headers=h)).json()
    assert victim not in [q["id"] for q in listed["entities"]]
    await sim.client.post("/sim/resume")
    await sim.client.post("/sim/advance", json={"seconds": 600})  # the world runs on without it
    assert victim not in (await sim.truth())["queues"]
