"""``queuecast proxy --workers N``: N processes on one port, which requires QC_REDIS_URL."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import trio

from tests.cluster.conftest import RedisServer, free_port
from tests.e2e.conftest import wait_until
from tests.helpers import SECRET, envelope, signed


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QC_")}
    return {**env, "QC_CALLBACK_SECRET": SECRET, "QC_LOG_LEVEL": "WARNING", **extra}


def test_workers_without_redis_is_a_clear_configuration_error() -> None:
    done = subprocess.run([sys.executable, "-m", "queuecast", "proxy", "--workers", "2", "--port", "0"],
                          env=_env(), capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "QC_REDIS_URL" in done.stderr and "--workers 2" in done.stderr


async def test_two_workers_share_one_port_and_one_cluster(redis_server: RedisServer, tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "workers.log").open("wb")
    parent = subprocess.Popen(  # noqa: ASYNC220  # starts, does not wait
        [sys.executable, "-m", "queuecast", "proxy", "--workers", "2", "--port", str(port)],
        env=_env(QC_REDIS_URL=redis_server.url, QC_LEASE_S="2"), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        seen: set[str] = set()

        async def both_answered() -> bool:
            # a new connection each time: the kernel spreads them over the workers' sockets
            try:
                async with httpx.AsyncClient() as client:
                    text = (await client.get(f"{url}/metrics")).text
            except httpx.TransportError:
                return False
            found = re.search(r"^queuecast_cluster_leader ([01])\.0$", text, re.M)
            if found:
                seen.add(found.group(1))
            return seen == {"0", "1"}  # the leader and the follower, two processes on one port

        try:
            await wait_until(both_answered, within_s=30, every_s=0.05)
        except trio.TooSlowError:
            raise AssertionError(f"saw {seen}; the workers said:\n{(tmp_path / 'workers.log').read_text()}") from None
        raw, headers = signed(envelope("q1", oWaiting=4, queueName="Billing"))
        async with httpx.AsyncClient(base_url=url) as client:
            r = await client.post("/api/v1/event-stream/callback", content=raw, headers=headers)
            assert r.status_code == 200 and r.json()["accepted"] == 1

        async def every_worker_shows_it() -> bool:
            for _ in range(6):
                async with httpx.AsyncClient(base_url=url) as client:
                    queues = (await client.get("/api/v1/queues")).json()["queues"]
                if queues.get("q1", {}).get("waiting") != 4:
                    return False
            return True

        await wait_until(every_worker_shows_it, within_s=10)
    finally:
        parent.send_signal(signal.SIGTERM)
        with trio.fail_after(15):
            while parent.poll() is None:  # noqa: ASYNC110  # a process, not an event
                await trio.sleep(0.05)
    log.close()
    assert parent.returncode == 0, (tmp_path / "workers.log").read_text()
