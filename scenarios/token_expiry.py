"""token_expiry: a simulator wave while tokens expire every N seconds and the token endpoint goes down.

``scenarios.run`` starts the simulator (8 s tokens) and the proxy in ``QC_UPSTREAM=notifications``
mode against it, so the proxy holds a token and a channel. A controller (one user) starts a wave,
expires every token every TOKEN_EXPIRE_EVERY_S seconds and takes the token endpoint down once for
OAUTH_OUTAGE_S seconds; viewers hold streams and report the gap between consecutive frames
("frame gap"). A handover without a hole keeps the gaps at the wave's cadence (about 1 s: the
platform sends at most one message per second per queue); a lost channel shows as a long gap.
"""

from __future__ import annotations

import os
import time

from _common import DURATION_S, SIM_URL, metric, read_sse
from locust import HttpUser, between, constant, task

EXPIRE_EVERY_S = float(os.environ.get("TOKEN_EXPIRE_EVERY_S", "5"))
OUTAGE_S = float(os.environ.get("OAUTH_OUTAGE_S", "3"))


class Controller(HttpUser):
    fixed_count = 1
    wait_time = constant(EXPIRE_EVERY_S)
    started = False

    @task
    def drive(self) -> None:
        if not SIM_URL:
            return
        if not self.started:
            self.started = True
            self.client.post(f"{SIM_URL}/sim/waves", json={"ratePerMin": 600, "durationS": DURATION_S},
                             name="sim: start wave")
            self.client.post(f"{SIM_URL}/sim/oauth/outage", json={"seconds": OUTAGE_S}, name="sim: token outage")
        self.client.post(f"{SIM_URL}/sim/tokens/expire", json={}, name="sim: expire tokens")


class Viewer(HttpUser):
    wait_time = between(0.1, 0.3)

    @task
    def watch(self) -> None:
        response = self.client.get("/dashboard-stream", stream=True, headers={"Accept": "text/event-stream"},
                                   timeout=(5, 30), name="GET /dashboard-stream")
        try:
            if response.status_code != 200:
                return
            last = time.time()
            for event, _, _ in read_sse(response):
                if event != "delta":
                    continue
                now = time.time()
                metric("frame gap", (now - last) * 1000)
                last = now
        finally:
            response.close()
