"""reconnect_storm: every viewer drops its stream at the same instant and reconnects at once.

Storms happen every STORM_EVERY_S seconds (aligned on the wall clock, so all users drop together).
A reconnection must get 200, or 503 with ``Retry-After`` when the proxy sheds (QC_MAX_CLIENTS):
then the viewer waits that long and retries. Anything else is a failure. Each viewer keeps the
state its stream gives it (snapshot, then deltas merged by queue) and, just before the next storm,
compares it with the proxy's ``/api/v1/queues``: when both are at the same frame (same seq — the
500 ms window makes that the usual case right after a frame), every queue view must be identical
("viewer converged", a failure otherwise); when the proxy has moved on, the check is counted as
"not comparable" rather than guessed at.
"""

from __future__ import annotations

import json
import os
import time

from _common import SIM_URL, metric, read_sse
from locust import HttpUser, constant, task

STORM_EVERY_S = float(os.environ.get("STORM_EVERY_S", "5"))


class Viewer(HttpUser):
    wait_time = constant(0)

    @task
    def watch(self) -> None:
        started = time.time()
        with self.client.get("/dashboard-stream", stream=True, headers={"Accept": "text/event-stream"},
                             timeout=(5, 30), name="GET /dashboard-stream", catch_response=True) as response:
            if response.status_code == 503:
                retry = response.headers.get("Retry-After")
                if retry is None:
                    response.failure("503 without Retry-After")
                    return
                response.success()
                metric("shed (503 + Retry-After)", float(retry) * 1000, kind="SHED")
                time.sleep(float(retry))
                return
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
                return
            response.success()
            storm_at = (int(time.time() / STORM_EVERY_S) + 1) * STORM_EVERY_S
            state: dict[str, object] = {}
            seq = -1
            for event, _, data in read_sse(response):
                if event in ("snapshot", "delta"):
                    frame = json.loads(data)
                    if event == "snapshot":
                        metric("reconnect → snapshot", (time.time() - started) * 1000, kind="CONNECT")
                        state = dict(frame["queues"])
                    else:
                        for queue_id in frame.get("removed", []):
                            state.pop(queue_id, None)
                        state.update(frame["queues"])
                    seq = frame["seq"]
                    if time.time() >= storm_at:
                        self._check_convergence(state, seq)
                        break
                elif time.time() >= storm_at:
                    break
            response.close()
        # sleep to the storm instant so all users reconnect together
        time.sleep(max(0.0, storm_at - time.time()))

    def _check_convergence(self, state: dict[str, object], seq: int) -> None:
        current = self.client.get("/api/v1/queues", name="GET /api/v1/queues").json()
        if current["seq"] != seq:
            metric("viewer converged (not comparable: proxy moved on)", 0, kind="CHECK")
        elif current["queues"] != state:
            differing = sorted(q for q in set(current["queues"]) | set(state)
                               if current["queues"].get(q) != state.get(q))
            metric("viewer converged", 0, kind="CHECK",
                   exception=AssertionError(f"viewer state differs from the proxy on {differing[:3]}"))
        else:
            metric("viewer converged", 0, kind="CHECK")
        if SIM_URL:
            self.client.get(f"{SIM_URL}/sim/truth", name="sim: truth")
