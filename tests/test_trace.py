"""Record and replay: a trace captured by the recorder replays through a real proxy's callback."""

from __future__ import annotations

import functools
import io
import itertools
import json
from pathlib import Path

import httpx
import trio

import bench.trace
from bench.trace.format import read_trace, scrub
from bench.trace.recorder import Recorder, record
from bench.trace.replayer import replay
from tests.conftest import StartProxy
from tests.helpers import SECRET, envelope, signed

TRACES = Path(__file__).resolve().parent.parent / "scenarios" / "traces"


def test_scrub_removes_subscription_ids_and_personal_fields_and_keeps_queue_data() -> None:
    body = [{"eventId": "e1", "subscriptionId": "sub-secret-42",
             "payload": {"queueState": {"queueId": "q1", "queueName": "Billing", "userId": "u-7",
                                        "email": "ann@example.com", "nested": [{"ani": "+15551234"}]}}}]
    out = scrub(body)
    assert out[0]["subscriptionId"] == "sub-trace"
    state = out[0]["payload"]["queueState"]
    assert state["queueId"] == "q1" and state["queueName"] == "Billing"
    assert state["userId"] == state["email"] == state["nested"][0]["ani"] == "[redacted]"
    assert "sub-secret-42" not in json.dumps(out)


async def test_recorder_rejects_a_bad_signature_and_never_writes_headers() -> None:
    out = io.StringIO()
    recorder = Recorder(out, "s3cret")
    raw, headers = signed(envelope("q1"), "s3cret")
    lower = {k.lower(): v for k, v in headers.items()}
    assert (await recorder.handler("POST", "/api/v1/event-stream/callback", lower, raw))[0] == 200
    bad = {**lower, "x-hub-signature-256": "sha256=00"}
    assert (await recorder.handler("POST", "/api/v1/event-stream/callback", bad, raw))[0] == 401
    assert recorder.deliveries == 1 and recorder.rejected == 1
    assert "sha256=" not in out.getvalue() and "s3cret" not in out.getvalue()


async def test_record_then_replay_round_trip_reaches_the_proxy(tmp_path: Path, start_proxy: StartProxy) -> None:
    path = tmp_path / "trace.jsonl"
    sent = [envelope("q-a", oWaiting=3), [envelope("q-b", oWaiting=5), envelope("q-c", oWaiting=7)],
            envelope("q-a", oWaiting=4)]
    with path.open("w") as out:
        async with trio.open_nursery() as nursery:
            url = await nursery.start(functools.partial(record, out, duration_s=1.0, simulator_url=None,
                                                        secret="rec-secret"))
            async with httpx.AsyncClient() as client:
                for body in sent:
                    raw, headers = signed(body, "rec-secret")
                    assert (await client.post(url, content=raw, headers=headers)).status_code == 200
                    await trio.sleep(0.05)
    header, lines = read_trace(path)
    assert header["trace"] == "queuecast"
    entries = list(lines)
    assert [e["body"] for e in entries] == [scrub(b) for b in sent]
    assert all(0 <= a["t"] <= b["t"] for a, b in itertools.pairwise(entries))

    proxy = await start_proxy()
    stats = await replay(path, target=proxy.url, secret=SECRET, speed=20.0)
    assert stats.deliveries == 3 and stats.envelopes == 4 and stats.failed == 0
    async with httpx.AsyncClient(base_url=proxy.url) as client:
        with trio.fail_after(5):
            while True:  # the aggregator publishes asynchronously (window 0 in tests)
                queues = (await client.get("/api/v1/queues")).json()["queues"]
                if len(queues) == 3:
                    break
                await trio.sleep(0.02)
    assert queues["q-a"]["waiting"] == 4 and queues["q-b"]["waiting"] == 5 and queues["q-c"]["waiting"] == 7


async def test_replay_with_a_wrong_secret_counts_failures(tmp_path: Path, start_proxy: StartProxy) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"trace":"queuecast","version":1}\n' + json.dumps({"t": 0, "body": envelope("q1")}) + "\n")
    proxy = await start_proxy()
    stats = await replay(path, target=proxy.url, secret="wrong", speed=1.0)
    assert stats.failed == 1 and stats.statuses == {401: 1}


def test_shipped_traces_are_valid_small_and_scrubbed() -> None:
    traces = sorted(TRACES.glob("*.jsonl"))
    assert len(traces) >= 2
    for path in traces:
        assert path.stat().st_size < 2_200_000, path
        _, lines = read_trace(path)
        entries = list(lines)
        bodies = [e for e in entries if "body" in e]
        assert len(bodies) > 50, path
        text = path.read_text()
        assert "sha256=" not in text and "queuecast-demo" not in text
        assert all(b["body"]["subscriptionId"] == "sub-trace" for b in bodies if isinstance(b["body"], dict))


def test_the_package_reexports_what_the_cli_calls() -> None:
    # queuecast/cli.py does "import bench.trace as trace" and calls these two
    assert bench.trace.record_main is not None and bench.trace.replay_main is not None
    assert bench.trace.read_trace is read_trace and bench.trace.replay is replay
