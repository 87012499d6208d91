"""call_wave: an Event Bus sender posting signed callbacks along a two-wave LoadTestShape.

Ramp to the peak (SCENARIO_USERS senders), hold, fall, then a second wave; a third of the senders
post batches of 50 envelopes, the rest single envelopes; the messages are real-shaped observations
(mostly instant counts, now and then interval figures or agent counts). Each sender posts back to back with a
short wait, so the peak rate is set by the user count (about 2,000 events/s needs ~40 users here).
"""

from __future__ import annotations

from _common import CALLBACK, DURATION_S, USERS, envelope, signed, workload
from locust import HttpUser, LoadTestShape, between, task

MESSAGES = workload(200, "wave")


class SingleSender(HttpUser):
    weight = 2
    wait_time = between(0.005, 0.02)

    @task
    def post_one(self) -> None:
        body, headers = signed(envelope(MESSAGES))
        self.client.post(CALLBACK, data=body, headers=headers, name="callback (single)")


class BatchSender(HttpUser):
    weight = 1
    wait_time = between(0.02, 0.05)

    @task
    def post_batch(self) -> None:
        body, headers = signed([envelope(MESSAGES) for _ in range(50)])
        self.client.post(CALLBACK, data=body, headers=headers, name="callback (batch of 50)")


class TwoWaves(LoadTestShape):
    """(fraction of the run, fraction of peak users): ramp, hold, fall, second wave, end."""

    stages = ((0.15, 0.5), (0.3, 1.0), (0.45, 1.0), (0.6, 0.2), (0.75, 1.0), (0.9, 0.6), (1.0, 0.2))

    def tick(self) -> tuple[int, float] | None:
        t = self.get_run_time()
        if t >= DURATION_S:
            return None
        for end, share in self.stages:
            if t < end * DURATION_S:
                users = max(1, round(USERS * share))
                return users, max(1.0, float(USERS))
        return None
