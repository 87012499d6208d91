"""``queuecast record``: capture the callbacks that reach a receiver into a trace (see :mod:`.format`).

Recording works against the simulator (``--simulator URL`` subscribes its Event Bus to the
``v2.analytics.queues.{id}.observations`` topic of every queue its routing API lists, as
``queuecast/wiring.py`` does for the proxy, so recordings carry the real message shapes; or
``--start-simulator`` runs one in-process) or as a bare receiver (``--listen``) that any sender, a
real tenant's Event Bus included, can be pointed at.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import functools
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import trio

from bench.callback import CALLBACK_PATH, sign
from bench.clients import Poster
from bench.echo import serve_http
from bench.messages import observations_topic
from bench.progress import say
from bench.trace import format as fmt


@dataclass(eq=False)
class Recorder:
    """Writes the trace; its :meth:`handler` is the callback receiver (verifies the HMAC when it has a secret)."""

    out: IO[str]
    secret: str | None
    t0: float = field(default_factory=time.perf_counter)
    deliveries: int = 0
    envelopes: int = 0
    rejected: int = 0

    def header(self, source: str) -> None:
        self._line(fmt.header(source))

    def mark(self, text: str) -> None:
        self._line(fmt.mark(time.perf_counter() - self.t0, text))

    def _line(self, obj: dict[str, Any]) -> None:
        self.out.write(fmt.encode_line(obj))

    async def handler(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        if method != "POST" or path.split("?")[0] != CALLBACK_PATH:
            return 404, b'{"error":"not_found"}'
        if self.secret is not None:
            offered = headers.get("x-hub-signature-256", "")
            if not hmac.compare_digest(offered.encode(), sign(body, self.secret).encode()):
                self.rejected += 1
                return 401, b'{"error":"unauthorized"}'
        try:
            parsed = json.loads(body)
        except ValueError:
            self.rejected += 1
            return 400, b'{"error":"invalid JSON"}'
        self._line(fmt.delivery(time.perf_counter() - self.t0, parsed))
        self.deliveries += 1
        self.envelopes += len(parsed) if isinstance(parsed, list) else 1
        return 200, b'{"received":1}'


async def _token(http: Poster, client_id: str, client_secret: str) -> str:
    basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    status, body = await http.request("POST", "/oauth/token", b"grant_type=client_credentials",
                                      {"Authorization": f"Basic {basic}",
                                       "Content-Type": "application/x-www-form-urlencoded"})
    if status != 200:
        raise RuntimeError(f"simulator /oauth/token answered {status}: {body[:200]!r}")
    return str(json.loads(body)["access_token"])


async def _observation_topics(http: Poster, auth: dict[str, str]) -> list[str]:
    """The observations topic of every queue the simulator's routing API lists (one page of 500)."""
    status, body = await http.request("GET", "/api/v2/routing/queues?pageSize=500", b"", auth)
    if status != 200:
        raise RuntimeError(f"simulator /api/v2/routing/queues answered {status}: {body[:200]!r}")
    return [observations_topic(str(queue["id"])) for queue in json.loads(body)["entities"]]


@dataclass(frozen=True, slots=True)
class Drive:
    """What the recorder asks the simulator to do while recording (each also written as a mark)."""

    waves: tuple[tuple[float, float, float], ...] = ()
    """``(at_s, rate_per_min, duration_s)``: start a wave ``at_s`` seconds in."""
    expire_tokens_at: tuple[float, ...] = ()
    oauth_outage: tuple[tuple[float, float], ...] = ()
    """``(at_s, seconds)``: take the token endpoint down."""


async def record(out: IO[str], *, duration_s: float, simulator_url: str | None, secret: str | None,
                 listen_host: str = "127.0.0.1", listen_port: int = 0, client_id: str = "queuecast-demo",
                 client_secret: str = "queuecast-demo-secret", batch: bool = False, drive: Drive = Drive(),
                 source: str = "", task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> Recorder:
    """Record for ``duration_s`` seconds; reports the receiver's callback URL through ``task_status``."""
    if simulator_url is not None and secret is None:
        secret = secrets.token_hex(16)  # ours alone: the simulator signs with what we subscribe with
    recorder = Recorder(out, secret)
    recorder.header(source or (f"simulator {simulator_url}" if simulator_url else "callback receiver"))
    async with trio.open_nursery() as nursery:
        base = await nursery.start(functools.partial(serve_http, recorder.handler, host=listen_host,
                                                     port=listen_port))
        callback_url = base + CALLBACK_PATH
        sub_id: str | None = None
        sim: Poster | None = None
        auth: dict[str, str] = {}
        recorder.t0 = time.perf_counter()
        if simulator_url is not None:
            sim = Poster(simulator_url, "/")
            token = await _token(sim, client_id, client_secret)
            auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            topics = await _observation_topics(sim, auth)
            status, body = await sim.request("POST", "/api/v2/events/subscriptions", json.dumps({
                "callbackUrl": callback_url, "topics": topics,
                "secret": secret, "batch": batch, "retryIntervalSeconds": 1, "maxRetryAttempts": 3,
                "description": "queuecast record"}).encode(), auth)
            if status != 201:
                raise RuntimeError(f"simulator refused the subscription ({status}): {body[:300]!r}")
            sub_id = json.loads(body)["id"]
        task_status.started(callback_url)
        say(f"record: receiving on {callback_url} for {duration_s:.0f}s")
        actions: list[tuple[float, str, bytes]] = []
        for at, rate, dur in drive.waves:
            actions.append((at, "/sim/waves", json.dumps({"ratePerMin": rate, "durationS": dur}).encode()))
        actions += [(at, "/sim/tokens/expire", b"{}") for at in drive.expire_tokens_at]
        actions += [(at, "/sim/oauth/outage", json.dumps({"seconds": s}).encode()) for at, s in drive.oauth_outage]
        next_progress = recorder.t0 + 5
        for at, path, payload in [*sorted(actions), (duration_s, "", b"")]:
            while (now := time.perf_counter()) < recorder.t0 + at:
                await trio.sleep(min(recorder.t0 + at, next_progress) - now)
                if time.perf_counter() >= next_progress:
                    say(f"record: {recorder.deliveries} deliveries, {recorder.envelopes} envelopes")
                    next_progress += 5
            if path and sim is not None:
                status, _ = await sim.request("POST", path, payload, {"Content-Type": "application/json"})
                recorder.mark(f"{path} {payload.decode()} -> {status}")
        if sim is not None and sub_id is not None:
            await sim.request("DELETE", f"/api/v2/events/subscriptions/{sub_id}", b"", auth)
            await sim.aclose()
        await trio.sleep(0.3)  # deliveries already in flight
        nursery.cancel_scope.cancel()
    say(f"record: done, {recorder.deliveries} deliveries ({recorder.envelopes} envelopes), "
        f"{recorder.rejected} rejected")
    return recorder


def _parse_waves(items: list[str]) -> tuple[tuple[float, float, float], ...]:
    out = []
    for item in items:
        at, rate, dur = (float(x) for x in item.split(":"))
        out.append((at, rate, dur))
    return tuple(out)


def _pair(text: str) -> tuple[float, float]:
    a, b = text.split(":")
    return float(a), float(b)


def record_main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="queuecast record",
        description="Record the callbacks that reach a proxy into a JSONL trace (headers and secrets are never "
                    "written; subscription ids and personal fields are scrubbed).",
        epilog="Example: queuecast record --start-simulator --speed 60 --duration 60 --out normal.jsonl. "
               "The shipped traces: scenarios/traces/*.jsonl, parameters in their first line.")
    p.add_argument("--out", type=Path, required=True, help="trace file to write (JSONL)")
    p.add_argument("--duration", type=float, default=60.0, help="seconds to record (default 60)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--simulator", metavar="URL", help="subscribe to this simulator's Event Bus")
    src.add_argument("--start-simulator", action="store_true", help="run a simulator in-process and subscribe")
    p.add_argument("--listen", default="127.0.0.1:0",
                   help="HOST:PORT of the callback receiver (default 127.0.0.1:0; point a sender at it)")
    p.add_argument("--secret", default=os.environ.get("QC_CALLBACK_SECRET"),
                   help="verify X-Hub-Signature-256 with this secret (default $QC_CALLBACK_SECRET)")
    p.add_argument("--batch", action="store_true", help="ask the Event Bus for batched deliveries")
    p.add_argument("--seed", type=int, default=1, help="--start-simulator: world seed (default 1)")
    p.add_argument("--speed", type=float, default=1.0, help="--start-simulator: simulated s per real s")
    p.add_argument("--queues", type=int, default=8, help="--start-simulator: queues (default 8)")
    p.add_argument("--agents", type=int, default=80, help="--start-simulator: agents (default 80)")
    p.add_argument("--interval-message-s", type=float, default=None, metavar="S",
                   help="--start-simulator: simulated seconds between two interval messages of one (queue, media) "
                        "(default: the simulator's, 5)")
    p.add_argument("--wave", action="append", default=[], metavar="AT:RATE_PER_MIN:DURATION_S",
                   help="start a call wave AT seconds in (repeatable)")
    p.add_argument("--expire-tokens-at", type=float, action="append", default=[], metavar="S",
                   help="expire every token S seconds in (repeatable)")
    p.add_argument("--oauth-outage", action="append", default=[], metavar="AT:SECONDS",
                   help="take the token endpoint down AT seconds in for SECONDS (repeatable)")
    args = p.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    drive = Drive(waves=_parse_waves(args.wave), expire_tokens_at=tuple(args.expire_tokens_at),
                  oauth_outage=tuple((a, s) for a, s in (_pair(x) for x in args.oauth_outage)))

    async def run() -> Recorder:
        with args.out.open("w") as out:
            if not args.start_simulator:
                return await record(out, duration_s=args.duration, simulator_url=args.simulator,
                                    secret=args.secret, listen_host=host, listen_port=int(port),
                                    batch=args.batch, drive=drive)
            from simulator.server import serve as serve_simulator  # only when asked: bench stays independent
            from simulator.settings import SimSettings

            # the real message shape whatever the simulator's default, so recordings are what a tenant sends
            settings = SimSettings(seed=args.seed, speed=args.speed, queues=args.queues, agents=args.agents,
                                   message_shape="real")
            if args.interval_message_s is not None:
                settings = dataclasses.replace(settings, interval_message_s=args.interval_message_s)
            async with trio.open_nursery() as nursery:
                url = await nursery.start(serve_simulator, settings)
                rec = await record(out, duration_s=args.duration, simulator_url=url, secret=None,
                                   listen_host=host, listen_port=int(port), batch=args.batch, drive=drive,
                                   source=f"simulator seed={args.seed} speed={args.speed} queues={args.queues} "
                                          f"agents={args.agents} shape=real "
                                          f"interval_message_s={settings.interval_message_s} "
                                          f"duration={args.duration}")
                nursery.cancel_scope.cancel()
                return rec

    recorder = trio.run(run)
    print(f"wrote {args.out}: {recorder.deliveries} deliveries, {recorder.envelopes} envelopes")
    return 0 if recorder.deliveries else 1
