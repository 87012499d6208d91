"""REST backfill: observations query, aggregates query, queue discovery; all match the truth."""

from __future__ import annotations

from typing import Any

from simulator import wire
from simulator.enums import AGGREGATE_METRICS, OBSERVATION_DETAIL_METRICS, OBSERVATION_METRICS

from .conftest import Sim


def _filter(qids: list[str]) -> dict[str, Any]:
    return {
        "type": "and",
        "clauses": [{"type": "or", "predicates": [{"dimension": "queueId", "value": q} for q in qids]}],
    }


async def test_observations_query_matches_the_truth(sim: Sim) -> None:
    await sim.client.post("/sim/pause")
    await sim.client.post("/sim/advance", json={"seconds": 120})
    qids = await sim.queue_ids()
    r = await sim.client.post(
        "/api/v2/analytics/queues/observations/query",
        headers=await sim.auth(),
        json={
            "filter": _filter(qids),
            "metrics": ["oWaiting", "oInteracting", "oAlerting", "oUserRoutingStatuses"],
            "detailMetrics": ["oWaiting"],
        },
    )
    assert r.status_code == 200 and "inin-ratelimit-count" in r.headers
    truth = (await sim.truth())["queues"]
    seen_media: dict[str, set[str]] = {}
    for result in r.json()["results"]:
        group, data = result["group"], {d.get("qualifier", d["metric"]): d for d in result["data"]}
        view = truth[group["queueId"]]
        if "mediaType" not in group:
            assert all(d["stats"]["count"] > 0 for d in result["data"]), "zero routing statuses are omitted"
            assert {s: data[s]["stats"]["count"] if s in data else 0 for s in view["agents"]} == view["agents"]
            continue
        m = view["media"][group["mediaType"]]
        seen_media.setdefault(group["queueId"], set()).add(group["mediaType"])
        assert (
            data["oWaiting"]["stats"]["count"],
            data["oInteracting"]["stats"]["count"],
            data["oAlerting"]["stats"]["count"],
        ) == (m["waiting"], m["interacting"], m["alerting"])
        dates = [o["observationDate"] for o in data["oWaiting"]["observations"]]
        assert len(dates) == m["waiting"]
        assert (min(dates) if dates else None) == m["longestWaitingSince"]
    assert seen_media == {q: {"voice", "chat"} for q in qids}, "every media is listed, even at zero"


async def test_observations_query_errors_name_the_field(sim: Sim) -> None:
    h = await sim.auth()
    url = "/api/v2/analytics/queues/observations/query"
    r = await sim.client.post(url, headers=h, json={"filter": _filter([]), "metrics": ["oBogus"]})
    assert r.status_code == 400 and "metrics[0]" in r.json()["message"]
    r = await sim.client.post(url, headers=h, json={"metrics": ["oWaiting"]})
    assert r.status_code == 400 and "filter" in r.json()["message"]


async def test_aggregates_query_sums_the_current_interval_like_the_truth(sim: Sim) -> None:
    await sim.client.post("/sim/pause")
    await sim.client.post("/sim/advance", json={"seconds": 300})
    truth = (await sim.truth())["queues"]
    iv = next(iter(truth.values()))["interval"]
    r = await sim.client.post(
        "/api/v2/analytics/conversations/aggregates/query",
        headers=await sim.auth(),
        json={
            "interval": f"{iv['start']}/{iv['end']}",
            "groupBy": ["queueId"],
            "metrics": ["nOffered", "tAnswered", "tAbandon", "oServiceLevel"],
        },
    )
    assert r.status_code == 200
    results = r.json()["results"]
    assert len(results) == len(truth)
    for result in results:
        view = truth[result["group"]["queueId"]]["interval"]
        metrics = {m["metric"]: m["stats"] for m in result["data"][0]["metrics"]}
        assert metrics["nOffered"]["count"] == view["offered"]
        assert metrics["tAnswered"]["count"] == view["answered"]
        assert metrics["tAbandon"]["count"] == view["abandoned"]
        sl = metrics["oServiceLevel"]
        assert (sl["numerator"] / sl["denominator"] if sl["denominator"] else None) == view["serviceLevel"]
    r = await sim.client.post(
        "/api/v2/analytics/conversations/aggregates/query",
        headers=await sim.auth(),
        json={"interval": "2020-01-01T00:00:00.000Z/2020-01-02T00:00:00.000Z", "metrics": ["nOffered"]},
    )
    assert r.json() == {"results": []}


async def test_routing_queues_are_paged(start_sim: Any) -> None:
    sim: Sim = await start_sim(queues=5)
    h = await sim.auth()
    pages = [
        (await sim.client.get("/api/v2/routing/queues", params={"pageSize": 2, "pageNumber": n}, headers=h)).json()
        for n in (1, 2, 3)
    ]
    assert [len(p["entities"]) for p in pages] == [2, 2, 1]
    assert all(p["total"] == 5 and p["pageCount"] == 3 for p in pages)
    assert [e["id"] for p in pages for e in p["entities"]] == await sim.queue_ids()


async def test_aggregates_query_answers_t_handle_like_the_truths_handled_and_aht(sim: Sim) -> None:
    await sim.client.post("/sim/pause")
    await sim.client.post("/sim/advance", json={"seconds": 600})
    truth = (await sim.truth())["queues"]
    iv = next(iter(truth.values()))["interval"]
    r = await sim.client.post(
        "/api/v2/analytics/conversations/aggregates/query",
        headers=await sim.auth(),
        json={"interval": f"{iv['start']}/{iv['end']}", "groupBy": ["queueId"], "metrics": ["tHandle"]},
    )
    assert r.status_code == 200
    for result in r.json()["results"]:
        view = truth[result["group"]["queueId"]]["interval"]
        (metric,) = result["data"][0]["metrics"]
        assert metric["metric"] == "tHandle" and view["handled"] > 0
        assert metric["stats"]["count"] == view["handled"]
        assert metric["stats"]["sum"] / metric["stats"]["count"] == view["ahtMs"]
        assert 0 < metric["stats"]["min"] <= view["ahtMs"] <= metric["stats"]["max"]


async def test_observations_query_gives_on_and_off_queue_users_per_routing_status(sim: Sim) -> None:
    await sim.client.post("/sim/pause")
    await sim.client.post("/sim/advance", json={"seconds": 120})
    qids = await sim.queue_ids()
    r = await sim.client.post(
        "/api/v2/analytics/queues/observations/query",
        headers=await sim.auth(),
        json={"filter": _filter(qids), "metrics": ["oOnQueueUsers", "oOffQueueUsers"]},
    )
    truth = (await sim.truth())["queues"]
    for result in r.json()["results"]:
        agents = truth[result["group"]["queueId"]]["agents"]
        on = {d["qualifier"]: d["stats"]["count"] for d in result["data"] if d["metric"] == "oOnQueueUsers"}
        off = {d["qualifier"]: d["stats"]["count"] for d in result["data"] if d["metric"] == "oOffQueueUsers"}
        assert on == {s: n for s, n in agents.items() if n and s != "OFF_QUEUE"}, "one entry per status, zero omitted"
        assert off == ({"OFF_QUEUE": agents["OFF_QUEUE"]} if agents["OFF_QUEUE"] else {})


async def test_observations_query_accepts_every_metric_of_the_sdk_enum(sim: Sim) -> None:
    await sim.client.post("/sim/pause")
    await sim.client.post("/sim/advance", json={"seconds": 180})
    qids = await sim.queue_ids()
    r = await sim.client.post(
        "/api/v2/analytics/queues/observations/query",
        headers=await sim.auth(),
        json={"filter": _filter(qids), "metrics": list(OBSERVATION_METRICS), "detailMetrics": ["oWaiting"]},
    )
    assert r.status_code == 200, r.text
    truth = (await sim.truth())["queues"]
    for result in r.json()["results"]:
        if "mediaType" not in result["group"]:
            continue
        m = truth[result["group"]["queueId"]]["media"][result["group"]["mediaType"]]
        data = {d["metric"]: d["stats"] for d in result["data"]}
        assert data["oLongestWaiting"]["count"] == m["waiting"]
        since = data["oLongestWaiting"].get("calculatedMetricValue")
        assert (None if since is None else wire.iso(since)) == m["longestWaitingSince"]
        assert data["oLongestInteracting"]["count"] == m["interacting"]
        assert ("calculatedMetricValue" in data["oLongestInteracting"]) == (m["interacting"] > 0)
    assert "oLongestWaiting" not in OBSERVATION_DETAIL_METRICS
    bad = await sim.client.post(
        "/api/v2/analytics/queues/observations/query",
        headers=await sim.auth(),
        json={"filter": _filter(qids), "metrics": ["oWaiting"], "detailMetrics": ["oLongestWaiting"]},
    )
    assert bad.status_code == 400 and "detailMetrics[0]" in bad.json()["message"]


async def test_aggregates_query_accepts_every_metric_and_omits_what_the_world_never_counts(sim: Sim) -> None:
    await sim.client.post("/sim/pause")
    await sim.client.post("/sim/advance", json={"seconds": 600})
    iv = next(iter((await sim.truth())["queues"].values()))["interval"]
    url = "/api/v2/analytics/conversations/aggregates/query"
    body = {"interval": f"{iv['start']}/{iv['end']}", "groupBy": ["queueId"], "metrics": list(AGGREGATE_METRICS)}
    r = await sim.client.post(url, headers=await sim.auth(), json=body)
    assert r.status_code == 200, r.text
    for result in r.json()["results"]:
        names = [m["metric"] for m in result["data"][0]["metrics"]]
        assert {"nOffered", "tAnswered", "tAbandon", "oServiceLevel", "tHandle"} <= set(names)
        assert not {"nTransferred", "tHeld", "tTalk", "nOutbound"} & set(names)
        assert names == [m for m in AGGREGATE_METRICS if m in names], "in the requested order"
    only_unmodelled = {**body, "metrics": ["nTransferred", "tFlowOut"]}
    r = await sim.client.post(url, headers=await sim.auth(), json=only_unmodelled)
    assert r.status_code == 200 and r.json() == {"results": []}
    r = await sim.client.post(url, headers=await sim.auth(), json={**body, "metrics": ["nBogus"]})
    assert r.status_code == 400 and "metrics[0]" in r.json()["message"]
