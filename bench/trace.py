"""``queuecast record`` and ``queuecast replay``: event traces as JSONL, captured and played back.

A trace is one JSON object per line:

- line 1, the header: ``{"trace": "queuecast", "version": 1, "recordedAt", "source", "deliveries"?}``;
- then deliveries in arrival order: ``{"t": seconds since the recording started, "body": <the JSON
  body of one callback: an envelope or an array of envelopes>}``;
- and marks of what the recorder did meanwhile: ``{"t": ..., "mark": "tokens expired"}`` (replay
  prints them and does not post them).

What is *not* recorded: request headers (the HMAC signature, API keys) and the sender's secret.
Bodies are scrubbed by :func:`scrub`: subscription ids become ``sub-trace`` and fields that can
hold personal data (user ids and names, e-mail, phone numbers, ANI/DNIS, addresses) are replaced.
Queue names stay: they are business data, and a wallboard replay needs them.

Recording works against the simulator (``--simulator URL`` subscribes to its Event Bus with the
recorder's own callback receiver, or ``--start-simulator`` runs one in-process) or as a bare
receiver (``--listen``) that any sender, a real tenant's Event Bus included, can be pointed at.
Replay posts every body through the proxy's callback, signed with ``--secret`` (default
``$QC_CALLBACK_SECRET``), at the original spacing divided by ``--speed``.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hmac
import json
import os
import secrets
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import trio

from bench.clients import Poster
from bench.echo import serve_http
from bench.progress import say
from bench.workload import CALLBACK_PATH, sign

VERSION = 1
#: Keys whose values are replaced wherever they occur (case-insensitive): they can carry personal data.
PERSONAL_KEYS = frozenset({"userid", "username", "user", "email", "emailaddress", "phone", "phonenumber", "ani",
                           "dnis", "address", "addressnormalized", "customername", "participantname",
                           "externalcontactid", "remotename"})
#: Time keys that ``--rebase-time`` moves to the replay's clock.
TIME_KEYS = frozenset({"observedAt", "timestamp", "time"})


def scrub(value: Any) -> Any:
    """A copy of a callback body with subscription ids and personal fields replaced."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            lowered = key.lower()
            if lowered == "subscriptionid":
                out[key] = "sub-trace"
            elif lowered in PERSONAL_KEYS:
                out[key] = "[redacted]"
            else:
                out[key] = scrub(item)
        return out
    if isinstance(value, list):
        return [scrub(item) for item in value]
    return value


# ---------------------------------------------------------------------------------------------- recording
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
        self._line({"trace": "queuecast", "version": VERSION,
                    "recordedAt": datetime.now(UTC).isoformat(timespec="seconds"), "source": source})

    def mark(self, text: str) -> None:
        self._line({"t": round(time.perf_counter() - self.t0, 4), "mark": text})

    def _line(self, obj: dict[str, Any]) -> None:
        self.out.write(json.dumps(obj, separators=(",", ":")) + "\n")

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
        self._line({"t": round(time.perf_counter() - self.t0, 4), "body": scrub(parsed)})
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
            status, body = await sim.request("POST", "/api/v2/events/subscriptions", json.dumps({
                "callbackUrl": callback_url, "topics": ["com.genesyscloud.telephony.queue.update"],
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


def record_main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="queuecast record",
        description="Record the callbacks that reach a proxy into a JSONL trace (headers and secrets are never "
                    "written; subscription ids and personal fields are scrubbed).",
        epilog="Example: queuecast record --start-simulator --speed 60 --duration 60 --out normal.jsonl")
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

            settings = SimSettings(seed=args.seed, speed=args.speed, queues=args.queues, agents=args.agents)
            async with trio.open_nursery() as nursery:
                url = await nursery.start(serve_simulator, settings)
                rec = await record(out, duration_s=args.duration, simulator_url=url, secret=None,
                                   listen_host=host, listen_port=int(port), batch=args.batch, drive=drive,
                                   source=f"simulator seed={args.seed} speed={args.speed} queues={args.queues} "
                                          f"agents={args.agents}")
                nursery.cancel_scope.cancel()
                return rec

    recorder = trio.run(run)
    print(f"wrote {args.out}: {recorder.deliveries} deliveries, {recorder.envelopes} envelopes")
    return 0 if recorder.deliveries else 1


def _pair(text: str) -> tuple[float, float]:
    a, b = text.split(":")
    return float(a), float(b)


# ---------------------------------------------------------------------------------------------- replay
@dataclass(slots=True)
class ReplayStats:
    deliveries: int = 0
    envelopes: int = 0
    failed: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    max_lag_s: float = 0.0
    seconds: float = 0.0


def read_trace(path: Path) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
    """The header and an iterator over the remaining lines. Raises ``ValueError`` if it is not a trace."""
    handle = path.open()
    first = handle.readline()
    try:
        header = json.loads(first)
    except ValueError:
        handle.close()
        raise ValueError(f"{path}: first line is not JSON") from None
    if not isinstance(header, dict) or header.get("trace") != "queuecast":
        handle.close()
        raise ValueError(f"{path}: not a queuecast trace (no header line)")

    def lines() -> Iterator[dict[str, Any]]:
        with handle:
            for number, line in enumerate(handle, start=2):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except ValueError:
                        raise ValueError(f"{path}:{number}: not JSON") from None

    return header, lines()


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Retimer:
    """Shifts every ``TIME_KEYS`` value by one offset, so the trace's first time becomes ``start``.

    The spacing is kept, not divided by the replay speed: compressing it would collapse
    observations a few ms apart onto the same millisecond, and the proxy drops equal times as stale.
    """

    def __init__(self, start: datetime) -> None:
        self._start = start
        self._first: datetime | None = None

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (self._move(v) if k in TIME_KEYS and isinstance(v, str) else self(v)) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        return value

    def _move(self, text: str) -> str:
        try:
            original = datetime.fromisoformat(text)
        except ValueError:
            return text
        if self._first is None:
            self._first = original
        return _iso(self._start + (original - self._first))


def _fresh_ids(value: Any) -> Any:
    if isinstance(value, list):
        return [_fresh_ids(v) for v in value]
    if isinstance(value, dict) and ("eventId" in value or ("id" in value and "detail-type" in value)):
        key = "eventId" if "eventId" in value else "id"
        return {**value, key: str(uuid.uuid4())}
    return value


async def replay(path: Path, *, target: str, secret: str | None, speed: float = 1.0, rebase_time: bool = True,
                 fresh_ids: bool = False, progress_s: float = 2.0) -> ReplayStats:
    """Post every delivery of the trace to ``target``'s callback at ``t / speed``; returns the tally."""
    header, lines = read_trace(path)
    say(f"replay: {path} ({header.get('source', '?')}) → {target} at {speed:g}x")
    retime = Retimer(datetime.now(UTC)) if rebase_time else None
    poster = Poster(target, CALLBACK_PATH)
    stats = ReplayStats()
    start = time.perf_counter()
    next_progress = start + progress_s
    try:
        for line in lines:
            due = start + float(line.get("t", 0.0)) / speed
            now = time.perf_counter()
            if due > now:
                await trio.sleep(due - now)
            stats.max_lag_s = max(stats.max_lag_s, time.perf_counter() - due)
            if "mark" in line:
                say(f"replay: mark at {line.get('t')}s: {line['mark']}")
                continue
            body_obj = line["body"]
            if retime is not None:
                body_obj = retime(body_obj)
            if fresh_ids:
                body_obj = _fresh_ids(body_obj)
            body = json.dumps(body_obj, separators=(",", ":")).encode()
            headers = {"Content-Type": "application/json"}
            if secret:
                headers["X-Hub-Signature-256"] = sign(body, secret)
            status, _ = await poster.post(body, headers)
            stats.deliveries += 1
            stats.envelopes += len(body_obj) if isinstance(body_obj, list) else 1
            stats.statuses[status] = stats.statuses.get(status, 0) + 1
            if status != 200:
                stats.failed += 1
            if time.perf_counter() >= next_progress:
                say(f"replay: {stats.deliveries} deliveries ({stats.envelopes} envelopes), {stats.failed} failed, "
                    f"trace time {float(line.get('t', 0.0)):.1f}s")
                next_progress += progress_s
    finally:
        await poster.aclose()
    stats.seconds = time.perf_counter() - start
    return stats


def replay_main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="queuecast replay",
        description="Replay a JSONL trace through a proxy's callback, with the original spacing divided by --speed.",
        epilog="Example: queuecast replay scenarios/traces/peak-wave.jsonl --speed 10 --target http://127.0.0.1:8080")
    p.add_argument("trace", type=Path, help="trace file (from 'queuecast record')")
    p.add_argument("--target", required=True, help="proxy base URL, e.g. http://127.0.0.1:8080")
    p.add_argument("--speed", type=float, default=1.0, help="time compression (10 = ten times faster; default 1)")
    p.add_argument("--secret", default=os.environ.get("QC_CALLBACK_SECRET"),
                   help="HMAC secret for X-Hub-Signature-256 (default $QC_CALLBACK_SECRET; none = unsigned)")
    p.add_argument("--keep-times", action="store_true",
                   help="send the recorded timestamps unchanged (default: shift them so the first is now, "
                        "so a proxy that has seen newer data does not drop them as stale)")
    p.add_argument("--fresh-ids", action="store_true",
                   help="give every envelope a new event id (to replay the same trace twice into one proxy)")
    args = p.parse_args(argv)
    if args.speed <= 0:
        p.error("--speed must be > 0")
    try:
        stats = trio.run(functools.partial(replay, args.trace, target=args.target.rstrip("/"), secret=args.secret,
                                           speed=args.speed, rebase_time=not args.keep_times,
                                           fresh_ids=args.fresh_ids))
    except (OSError, ValueError) as exc:
        print(f"queuecast replay: {exc}", file=sys.stderr)
        return 2
    print(f"replayed {stats.deliveries} deliveries ({stats.envelopes} envelopes) in {stats.seconds:.1f}s; "
          f"statuses {stats.statuses}; max lag {stats.max_lag_s * 1000:.0f} ms")
    return 0 if stats.failed == 0 else 1


__all__ = ["Recorder", "ReplayStats", "read_trace", "record", "record_main", "replay", "replay_main", "scrub"]
