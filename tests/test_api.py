import subprocess
import sys

from tests.helpers import envelope, post_callback

VIEW_KEYS = {"queueId", "name", "division", "waiting", "interacting", "alerting", "longestWaitingSince",
             "longestWaitingAsOf", "media", "agents", "interval", "updatedAt"}


async def test_queues_returns_the_snapshot_body(client, proxy):
    await post_callback(client, envelope(
        "q-billing", media="voice", queueName="Billing", oWaiting=7, oInteracting=23, oAlerting=1,
        oLongestWaiting="2026-11-27T20:58:12.000Z",
        oUserRoutingStatuses={"IDLE": 4, "INTERACTING": 23, "NOT_RESPONDING": 0, "COMMUNICATING": 2, "OFF_QUEUE": 6},
        interval={"start": "2026-11-27T21:00:00Z", "end": "2026-11-27T21:30:00Z", "nOffered": 41,
                  "tAnswered": {"count": 35, "sum": 812000}, "tAbandon": {"count": 4, "sum": 96000},
                  "oServiceLevel": {"numerator": 30, "denominator": 35, "target": 0.8}},
    ))
    body = (await client.get("/api/v1/queues")).json()
    assert set(body) == {"epoch", "seq", "asOf", "queues", "upstream"}  # the snapshot frame's body
    assert body["epoch"] == proxy.runtime.broker.epoch and body["seq"] == proxy.runtime.broker.seq
    view = body["queues"]["q-billing"]
    assert set(view) == VIEW_KEYS
    assert view["interval"] == {
        "start": "2026-11-27T21:00:00.000Z", "end": "2026-11-27T21:30:00.000Z", "offered": 41, "answered": 35,
        "abandoned": 4, "abandonRate": 4 / 41, "asaMs": 812000 / 35, "handled": 0, "ahtMs": None,
        "serviceLevel": 30 / 35, "serviceLevelNumerator": 30, "serviceLevelDenominator": 35,
        "serviceLevelTarget": 0.8,
    }
    assert view["longestWaitingSince"] == "2026-11-27T20:58:12.000Z"
    assert view["longestWaitingAsOf"] is None  # from a live message, not from a REST answer
    assert view["agents"]["COMMUNICATING"] == 2


async def test_health_readiness_and_metrics(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    await post_callback(client, envelope("q1", oWaiting=1))
    text = (await client.get("/metrics")).text
    for name in ("queuecast_events_total", "queuecast_frames_total", "queuecast_sse_clients",
                 "queuecast_ingest_to_publish_seconds_bucket", "queuecast_callbacks_total"):
        assert name in text
    assert 'queuecast_callbacks_total{status="200"} 1.0' in text


async def test_wallboard_page_is_served(client):
    r = await client.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]


def test_proxy_command_names_the_bad_variable():
    env = {"QC_CALLBACK_SECRET": "x", "QC_TOPICS": "v2.*", "PATH": ""}
    r = subprocess.run([sys.executable, "-m", "queuecast", "proxy"], env=env, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 2 and "QC_TOPICS" in r.stderr and "wildcard" in r.stderr


def test_help_lists_the_commands():
    r = subprocess.run([sys.executable, "-m", "queuecast", "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    for command in ("proxy", "simulator", "demo", "bench", "record", "replay"):
        assert command in r.stdout
