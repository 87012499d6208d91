"""The control API: pause/resume/advance, waves, faults, stats, determinism over HTTP."""

from __future__ import annotations

import trio

from .conftest import Sim, StartSim


async def test_pause_settles_the_truth_and_resume_continues(sim: Sim) -> None:
    await sim.client.post("/sim/pause")
    first = await sim.truth()
    await trio.sleep(0.2)
    assert await sim.truth() == first
    await sim.client.post("/sim/resume")
    await trio.sleep(0.2)
    assert (await sim.truth())["asOf"] > first["asOf"]


async def test_a_wave_on_one_queue_floods_it(sim: Sim) -> None:
    await sim.client.post("/sim/pause")
    qid = (await sim.queue_ids())[0]
    before = (await sim.truth())["queues"][qid]["interval"]["offered"]
    r = await sim.client.post("/sim/waves", json={"queueId": qid, "ratePerMin": 600, "durationS": 60})
    assert r.status_code == 201 and r.json()["queueId"] == qid
    assert [w["waveId"] for w in (await sim.client.get("/sim/waves")).json()["entities"]] == [r.json()["waveId"]]
    await sim.client.post("/sim/advance", json={"seconds": 60})
    assert (await sim.truth())["queues"][qid]["interval"]["offered"] - before > 400
    assert (await sim.client.get("/sim/waves")).json()["entities"] == []


async def test_a_wave_can_be_stopped_and_bad_waves_are_400(sim: Sim) -> None:
    wave = (await sim.client.post("/sim/waves", json={"ratePerMin": 60, "durationS": 600})).json()
    assert (await sim.client.delete(f"/sim/waves/{wave['waveId']}")).status_code == 204
    assert (await sim.client.delete(f"/sim/waves/{wave['waveId']}")).status_code == 404
    r = await sim.client.post("/sim/waves", json={"queueId": "nope", "ratePerMin": 1, "durationS": 1})
    assert r.status_code == 400 and "queueId" in r.json()["error"]
    r = await sim.client.post("/sim/waves", json={"durationS": 1})
    assert r.status_code == 400 and "ratePerMin" in r.json()["error"]


async def test_platform_error_fault_answers_503(sim: Sim) -> None:
    h = await sim.auth()
    r = await sim.client.put("/sim/faults", json={"platformErrorProbability": 1.0})
    assert r.json()["platformErrorProbability"] == 1.0
    r = await sim.client.get("/api/v2/routing/queues", headers=h)
    assert r.status_code == 503 and r.json()["status"] == 503
    await sim.client.put("/sim/faults", json={"platformErrorProbability": 0})
    assert (await sim.client.get("/api/v2/routing/queues", headers=h)).status_code == 200
    assert (await sim.stats())["responses_5xx_injected"] == 1


async def test_faults_reject_unknown_or_out_of_range_fields(sim: Sim) -> None:
    r = await sim.client.put("/sim/faults", json={"duplicateProbability": 2})
    assert r.status_code == 400 and "duplicateProbability" in r.json()["error"]
    r = await sim.client.put("/sim/faults", json={"chaos": 1})
    assert r.status_code == 400 and "chaos" in r.json()["error"]
    assert (await sim.client.get("/sim/faults")).json()["duplicateProbability"] == 0


async def test_stats_report_gauges_and_counters(sim: Sim) -> None:
    await sim.auth()
    stats = await sim.stats()
    for key in (
        "deliveries",
        "redeliveries",
        "drops",
        "responses_401",
        "responses_429",
        "tokens_issued",
        "channels",
        "sockets",
        "subscriptions",
        "paused",
    ):
        assert key in stats
    assert stats["tokens_issued"] == 1 and stats["world_changes"] > 0


async def test_same_seed_gives_the_same_truth_over_http(start_sim: StartSim) -> None:
    truths = []
    for _ in range(2):
        sim = await start_sim(tick_s=3600.0)  # the world moves only when told to
        await sim.client.post("/sim/advance", json={"seconds": 600})
        truths.append(await sim.truth())
    assert truths[0] == truths[1]
