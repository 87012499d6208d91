"""``queuecast replay``: post a trace's deliveries (see :mod:`.format`) through a proxy's callback.

Every body is signed with ``--secret`` (default ``$QC_CALLBACK_SECRET``) and posted at the original
spacing divided by ``--speed``; marks are printed, not posted. Times move to the replay's clock by
default, by whole 30-minute intervals (:mod:`bench.retime`).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import trio

from bench.callback import CALLBACK_PATH, sign
from bench.clients import Poster
from bench.progress import say
from bench.retime import Retimer
from bench.trace.format import read_trace


@dataclass(slots=True)
class ReplayStats:
    deliveries: int = 0
    envelopes: int = 0
    failed: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    max_lag_s: float = 0.0
    seconds: float = 0.0


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
                   help="send the recorded times unchanged (default: shift every time by the fewest whole "
                        "30-minute intervals that bring the first to now or later, so a proxy that has seen "
                        "newer data does not drop them as stale and every message keeps its interval)")
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
