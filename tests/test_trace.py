"""Record and replay: traces of real-shaped messages, captured by the recorder, replay through a real proxy."""

from __future__ import annotations

import functools
import io
import itertools
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import trio

import bench.trace
from bench.callback import signed_body
from bench.messages import Agents, Figures, Instant, Interval
from bench.retime import Retimer
from bench.timefmt import interval_start_ms
from bench.trace.format import read_trace, scrub
from bench.trace.recorder import Recorder, record
from bench.trace.replayer import replay
from tests.conftest import StartProxy
from tests.helpers import SECRET

TRACES = Path(__file__).resolve().parent.parent / "scenarios" / "traces"
OBSERVATIONS = re.compile(r"^v2\.analytics\.queues\.([^.]+)\.observations$")
T0 = interval_start_ms(1_796_000_000_000) + 17 * 60_000 + 123  # 17 min 0.123 s into a 30-minute interval


async def _queues(url: str, count: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url) as client:
        with trio.fail_after(5):
            while True:  # the aggregator publishes asynchronously (window 0 in tests)
                queues: dict[str, Any] = (await client.get("/api/v1/queues")).json()["queues"]
                if len(queues) == count:
                    return queues
                await trio.sleep(0.02)


def test_scrub_removes_subscription_ids_and_personal_fields_and_keeps_queue_data() -> None:
    envelope = Instant("q1", "voice", T0, waiting=3).envelope(subscription_id="sub-secret-42")
    envelope["payload"]["group"]["userId"] = "u-7"
    envelope["payload"]["data"][0]["email"] = "ann@example.com"
    envelope["payload"]["data"][0]["metrics"][0]["nested"] = [{"ani": "+15551234"}]
    out = scrub([envelope])
    assert out[0]["subscriptionId"] == "sub-trace"
    payload = out[0]["payload"]
    assert payload["group"]["queueId"] == "q1" and payload["group"]["mediaType"] == "voice"
    assert payload["data"][0]["metrics"][0]["stats"] == {"count": 3}
    assert payload["group"]["userId"] == payload["data"][0]["email"] == "[redacted]"
    assert payload["data"][0]["metrics"][0]["nested"][0]["ani"] == "[redacted]"
    assert "sub-secret-42" not in json.dumps(out)


async def test_recorder_rejects_a_bad_signature_and_never_writes_headers() -> None:
    out = io.StringIO()
    recorder = Recorder(out, "s3cret")
    raw, headers = signed_body(Instant("q1", "voice", T0, waiting=1).envelope(), "s3cret")
    lower = {k.lower(): v for k, v in headers.items()}
    assert (await recorder.handler("POST", "/api/v1/event-stream/callback", lower, raw))[0] == 200
    bad = {**lower, "x-hub-signature-256": "sha256=00"}
    assert (await recorder.handler("POST", "/api/v1/event-stream/callback", bad, raw))[0] == 401
    assert recorder.deliveries == 1 and recorder.rejected == 1
    assert "sha256=" not in out.getvalue() and "s3cret" not in out.getvalue()


async def test_record_then_replay_round_trip_reaches_the_proxy(tmp_path: Path, start_proxy: StartProxy) -> None:
    path = tmp_path / "trace.jsonl"
    start = interval_start_ms(T0)
    sent = [
        Instant("q-a", "voice", T0, waiting=3, interacting=1, alerting=0).envelope(),
        [Instant("q-b", "voice", T0 + 1, waiting=5).envelope(), Agents("q-b", T0 + 2, (("IDLE", 4),)).envelope(),
         Interval("q-c", "voice", T0 + 3, start, Figures(offered=6, answered=4, answered_sum_ms=40_000,
                                                         sl_numerator=3, sl_denominator=4)).envelope()],
        Instant("q-a", "voice", T0 + 4, waiting=4).envelope(),  # only waiting changed
    ]
    with path.open("w") as out:
        async with trio.open_nursery() as nursery:
            url = await nursery.start(functools.partial(record, out, duration_s=1.0, simulator_url=None,
                                                        secret="rec-secret"))
            async with httpx.AsyncClient() as client:
                for body in sent:
                    raw, headers = signed_body(body, "rec-secret")
                    assert (await client.post(url, content=raw, headers=headers)).status_code == 200
                    await trio.sleep(0.05)
    header, lines = read_trace(path)
    assert header["trace"] == "queuecast"
    entries = list(lines)
    assert [e["body"] for e in entries] == [scrub(b) for b in sent]
    assert all(0 <= a["t"] <= b["t"] for a, b in itertools.pairwise(entries))

    proxy = await start_proxy()
    stats = await replay(path, target=proxy.url, secret=SECRET, speed=20.0)
    assert stats.deliveries == 3 and stats.envelopes == 5 and stats.failed == 0
    queues = await _queues(proxy.url, 3)
    assert (queues["q-a"]["waiting"], queues["q-a"]["interacting"]) == (4, 1)  # absent = unchanged
    assert queues["q-b"]["waiting"] == 5 and queues["q-b"]["agents"]["IDLE"] == 4
    interval = queues["q-c"]["interval"]
    assert (interval["offered"], interval["answered"], interval["serviceLevel"]) == (6, 4, 0.75)
    moved = datetime.fromisoformat(interval["start"])
    assert moved.minute % 30 == 0 and moved.second == 0 and moved.microsecond == 0  # still a 30-minute interval


def test_retimer_moves_every_time_by_whole_intervals_to_now_or_just_after() -> None:
    now = datetime(2026, 12, 1, 14, 1, 0, 500_000, tzinfo=UTC)
    retime = Retimer(now)
    first = Instant("q", "voice", T0, waiting=1).envelope()
    later = Instant("q", "voice", T0 + 1, waiting=2).envelope()
    figures = Interval("q", "voice", T0 + 2, interval_start_ms(T0), Figures(offered=1)).envelope()
    moved = [retime(first), retime(later), retime(figures)]

    def interval(envelope: dict[str, Any]) -> tuple[datetime, datetime]:
        a, b = envelope["payload"]["data"][0]["interval"].split("/")
        return datetime.fromisoformat(a), datetime.fromisoformat(b)

    at = interval(moved[0])[0]
    assert interval(moved[0]) == (at, at) and moved[0]["timestamp"] == "2026-12-01T14:17:00.123Z"
    assert now <= at < now + timedelta(minutes=30)  # not before now: never stale against live data
    assert interval(moved[1])[0] - at == timedelta(milliseconds=1)  # spacing and order kept
    start, end = interval(moved[2])
    assert (start, end) == (datetime(2026, 12, 1, 14, 0, tzinfo=UTC), datetime(2026, 12, 1, 14, 30, tzinfo=UTC))
    assert start <= at < end  # the interval message names the interval of its instants, as recorded
    assert retime.newest == datetime.fromisoformat(moved[2]["timestamp"])  # instants only, not interval ends


async def test_recorder_subscribes_to_the_observations_topic_of_every_queue(tmp_path: Path) -> None:
    from simulator.server import serve as serve_simulator
    from simulator.settings import SimSettings

    path = tmp_path / "sim.jsonl"
    settings = SimSettings(port=0, seed=3, queues=3, agents=30, speed=30.0, arrivals_per_min=240.0)
    async with trio.open_nursery() as nursery:
        url = await nursery.start(functools.partial(serve_simulator, settings))
        with path.open("w") as out:
            recorder = await record(out, duration_s=1.5, simulator_url=url, secret=None)
        async with httpx.AsyncClient(base_url=url) as client:
            token = (await client.post("/oauth/token", data={"grant_type": "client_credentials"},
                                       auth=(settings.client_id, settings.client_secret))).json()["access_token"]
            listed = (await client.get("/api/v2/routing/queues", params={"pageSize": 500},
                                       headers={"Authorization": f"Bearer {token}"})).json()["entities"]
        nursery.cancel_scope.cancel()
    assert recorder.deliveries > 0
    _, lines = read_trace(path)
    envelopes = [b for e in lines if "body" in e for b in (e["body"] if isinstance(e["body"], list) else [e["body"]])]
    queue_ids = {q["id"] for q in listed}
    assert envelopes
    for envelope in envelopes:
        match = OBSERVATIONS.match(envelope["topic"])
        assert match and match.group(1) in queue_ids, envelope["topic"]
        assert envelope["payload"]["group"]["queueId"] == match.group(1) and envelope["payload"]["data"]


async def test_replay_with_a_wrong_secret_counts_failures(tmp_path: Path, start_proxy: StartProxy) -> None:
    path = tmp_path / "t.jsonl"
    body = Instant("q1", "voice", T0, waiting=1).envelope()
    path.write_text('{"trace":"queuecast","version":1}\n' + json.dumps({"t": 0, "body": body}) + "\n")
    proxy = await start_proxy()
    stats = await replay(path, target=proxy.url, secret="wrong", speed=1.0)
    assert stats.failed == 1 and stats.statuses == {401: 1}


def _kind(payload: dict[str, Any]) -> str:
    start, _, end = payload["data"][0]["interval"].partition("/")
    if "mediaType" not in payload["group"]:
        return "agents"
    return "instant" if start == end else "interval"


def test_shipped_traces_are_valid_small_scrubbed_and_real_shaped() -> None:
    traces = sorted(TRACES.glob("*.jsonl"))
    assert len(traces) >= 2
    for path in traces:
        assert path.stat().st_size < 2_200_000, path
        header, lines = read_trace(path)
        assert "shape=real" in header["source"], path
        entries = list(lines)
        bodies = [e for e in entries if "body" in e]
        assert len(bodies) > 50, path
        text = path.read_text()
        assert "sha256=" not in text and "queuecast-demo" not in text and "queueState" not in text
        envelopes = [b for e in bodies for b in (e["body"] if isinstance(e["body"], list) else [e["body"]])]
        assert all(e["subscriptionId"] == "sub-trace" for e in envelopes)
        assert all(OBSERVATIONS.match(e["topic"]) for e in envelopes), path
        kinds = {_kind(e["payload"]) for e in envelopes}
        assert kinds == {"instant", "interval", "agents"}, (path, kinds)
        instants = [e["payload"]["data"][0]["metrics"] for e in envelopes if _kind(e["payload"]) == "instant"]
        assert any(len(metrics) < 3 for metrics in instants), path  # only what changed
        assert not any(m["metric"] == "oLongestWaiting" for metrics in instants for m in metrics)


async def test_a_shipped_trace_replays_through_a_proxy(start_proxy: StartProxy) -> None:
    path = TRACES / "peak-wave-token-expiry.jsonl"
    _, lines = read_trace(path)
    queue_ids = {b["payload"]["group"]["queueId"]
                 for e in lines if "body" in e for b in (e["body"] if isinstance(e["body"], list) else [e["body"]])}
    proxy = await start_proxy()
    stats = await replay(path, target=proxy.url, secret=SECRET, speed=1000.0, progress_s=3600.0)
    assert stats.failed == 0 and stats.statuses == {200: stats.deliveries}
    queues = await _queues(proxy.url, len(queue_ids))
    assert set(queues) == queue_ids
    assert all(q["interval"] is not None and q["updatedAt"] is not None for q in queues.values())
    assert sum(q["interval"]["offered"] for q in queues.values()) > 0


def test_the_package_reexports_what_the_cli_calls() -> None:
    # queuecast/cli.py does "import bench.trace as trace" and calls these two
    assert bench.trace.record_main is not None and bench.trace.replay_main is not None
    assert bench.trace.read_trace is read_trace and bench.trace.replay is replay
