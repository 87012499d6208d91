"""The short form of ``make chaos`` (inside ``make test``): every fault of the simulator on a seeded
schedule for 30 s against both upstream modes side by side, then the checks of ``queuecast chaos``:
each real SSE client's board equals ``/sim/truth`` exactly, no component restarted, both proxies
ready, every strike accepted — and the faults really happened (the simulator counted them) and the
proxies really met them (their metrics moved)."""

from __future__ import annotations

from pathlib import Path

from queuecast.chaos.plan import CATALOGUE
from queuecast.chaos.run import ChaosConfig, run_chaos


async def test_every_fault_for_30_s_then_the_boards_equal_the_truth(tmp_path: Path) -> None:
    report = await run_chaos(ChaosConfig(seed=11, duration_s=30.0, settle_s=25.0, out_dir=tmp_path),
                             say=lambda line: None)
    failed = [c for c in report["checks"] if not c["ok"]]
    assert not failed, failed
    assert {f["fault"] for f in report["faults"]} == {f.name for f in CATALOGUE} | {"hostile_frames"}
    assert all(f["strikes"] >= 1 for f in report["faults"])
    sim = report["simulatorDeltas"]
    for counter in ("duplicates", "reordered", "callback_errors_injected", "callback_timeouts_injected",
                    "hostile_sent", "responses_429", "responses_401", "token_503s", "queues_deleted",
                    "queues_created"):
        assert sim.get(counter, 0) > 0, counter
    # a socket fault finds no socket while the lane is between two (after a revocation, say): some may
    # count 0 in a short run, not all
    socket_faults = ("socket_closing_sent", "sockets_silenced", "no_longer_subscribed_sent", "channels_removed")
    assert sum(sim.get(counter, 0) > 0 for counter in socket_faults) >= 2
    eventbus, notifications = report["proxyDeltas"]["eventbus"], report["proxyDeltas"]["notifications"]
    assert eventbus['queuecast_events_total{outcome="duplicate"}'] > 0
    assert eventbus['queuecast_callbacks_total{status="400"}'] > 0  # hostile deliveries refused
    def did(event: str) -> float:
        return notifications.get(f'queuecast_upstream_events_total{{event="{event}"}}', 0.0)

    assert did("token_refresh") > 0 and did("backfill") > 0
    # faults overlap (a silent socket swallows a socket_closing or a no_longer_subscribed notice; a
    # revoked token takes the channel with it), so each shows as one of these, all of them as some
    assert did("socket_replaced") + did("heartbeat_timeout") + did("resubscribed") + did("reconnect") >= 3
    assert sorted(Path(p).suffix for p in report["files"]) == [".json", ".md"]
    assert all(Path(p).parent == tmp_path for p in report["files"])
