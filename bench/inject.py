"""Prove the A/B gate's power and calm: ``python -m bench.inject --cpu-us 500`` (or ``0`` for an A/A run).

Makes a scratch ``git worktree`` of HEAD in ``.bench-cache/scratch-<pid>``, adds a busy-wait of
``--cpu-us`` microseconds of CPU at the top of ``handle_callback`` (proxy/http/callback.py) there —
never in the product tree — and runs ``queuecast bench --compare <HEAD>`` *from the scratch copy*,
so the scratch copy is the candidate and the unmodified HEAD is the base. ``--cpu-us 0`` leaves the
copy untouched: identical code on both sides, which must not fail. The scratch worktree is removed
afterwards; the base's cached build is kept. Exits with the compare's status.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from bench import basetree, procs
from bench.progress import say

TARGET = Path("proxy/http/callback.py")
ANCHOR = "    reason = rt.auth.check(raw, headers)\n"


def slow_down(source: str, cpu_us: int) -> str:
    """``source`` of callback.py with a ``cpu_us`` busy-wait as the first statement of ``handle_callback``.
    Raises ``ValueError`` when the anchor line is not there (the file changed: update :data:`ANCHOR`)."""
    if source.count(ANCHOR) != 1:
        raise ValueError(f"{TARGET}: expected the line {ANCHOR.strip()!r} once in handle_callback")
    spin = (f"    _spin_until = __import__('time').perf_counter() + {cpu_us / 1e6!r}  # bench.inject\n"
            "    while __import__('time').perf_counter() < _spin_until:\n"
            "        pass\n")
    return source.replace(ANCHOR, spin + ANCHOR)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.inject",
                                description="A/B gate power (a slowed-down scratch copy) or calm (--cpu-us 0).")
    p.add_argument("--cpu-us", type=int, default=500, help="busy-wait per callback, µs of CPU (0: an A/A run)")
    p.add_argument("--rounds", type=int, default=12, help="AB rounds of the compare (default 12)")
    args = p.parse_args(argv)
    root = procs.ROOT
    head = basetree.git("rev-parse", "HEAD", cwd=root)
    scratch = basetree.cache_root(root) / f"scratch-{os.getpid()}"
    basetree.git("worktree", "add", "--detach", str(scratch), head, cwd=root)
    try:
        if args.cpu_us:
            path = scratch / TARGET
            path.write_text(slow_down(path.read_text(), args.cpu_us))
        say(f"inject: candidate = HEAD {head[:12]} + {args.cpu_us} µs CPU per callback, in {scratch}")
        argv_ = [sys.executable, "-m", "queuecast", "bench", "--compare", head, "--rounds", str(args.rounds),
                 "--out", str(root / "bench" / "results")]
        code = subprocess.run(argv_, cwd=scratch, env={**os.environ, "PYTHONPATH": str(scratch)},
                              check=False).returncode
    finally:
        basetree.git("worktree", "remove", "--force", str(scratch), cwd=root)
    expected = 1 if args.cpu_us else 0
    say(f"inject: compare exited {code}; " + ("as expected" if code == expected else
                                               f"NOT as expected (wanted {expected})"))
    return code


if __name__ == "__main__":
    raise SystemExit(main())
