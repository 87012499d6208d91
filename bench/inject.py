"""Prove the A/B gate's power and calm: ``python -m bench.inject --cpu-us 500`` (or ``0`` for an A/A run).

Makes a scratch ``git worktree`` of HEAD in ``.bench-cache/scratch-<pid>``, adds a busy-wait there —
never in the product tree — and runs ``queuecast bench --compare <HEAD>`` *from the scratch copy*,
so the scratch copy is the candidate and the unmodified HEAD is the base:

* ``--cpu-us N``: N µs of CPU at the top of ``handle_callback`` (proxy/http/callback.py), per callback;
* ``--frame-us N``: N µs at the top of ``Subscriber.offer`` (proxy/hub/subscriber.py), which the
  broker calls once per client per frame: a slower fan-out path.

With neither, the copy is untouched: identical code on both sides, which must not fail. The busy-wait
goes in as the first statement after the docstring, found with :mod:`ast`, so it follows the code as
it changes. The scratch worktree is removed afterwards; the base's cached build is kept. Exits with
the compare's status.
"""

from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys
from pathlib import Path

from bench import basetree, procs
from bench.progress import say

#: Where each kind of slowdown goes: (file, class or None, function).
TARGETS: dict[str, tuple[Path, str | None, str]] = {
    "callback": (Path("proxy/http/callback.py"), None, "handle_callback"),
    "frame": (Path("proxy/hub/subscriber.py"), "Subscriber", "offer"),
}


def slow_down(source: str, cpu_us: int, *, cls: str | None, function: str) -> str:
    """``source`` with a ``cpu_us`` busy-wait as the first statement (after the docstring) of ``function``
    (a method of ``cls`` when given). Raises ``ValueError`` when there is no such function."""
    tree = ast.parse(source)
    scope: list[ast.stmt] = tree.body
    if cls is not None:
        owner = next((n for n in scope if isinstance(n, ast.ClassDef) and n.name == cls), None)
        if owner is None:
            raise ValueError(f"no class {cls!r}")
        scope = owner.body
    fn = next((n for n in scope if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == function),
              None)
    if fn is None:
        raise ValueError(f"no function {function!r}" + (f" in class {cls!r}" if cls else ""))
    body = fn.body
    first = body[1] if len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
        else body[0]
    indent = " " * first.col_offset
    spin = (f"{indent}_spin_until = __import__('time').perf_counter() + {cpu_us / 1e6!r}  # bench.inject\n"
            f"{indent}while __import__('time').perf_counter() < _spin_until:\n"
            f"{indent}    pass\n")
    lines = source.splitlines(keepends=True)
    lines.insert(first.lineno - 1, spin)
    return "".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.inject",
                                description="A/B gate power (a slowed-down scratch copy) or calm "
                                            "(no slowdown: an A/A run).")
    p.add_argument("--cpu-us", type=int, default=0, help="busy-wait per callback, µs of CPU")
    p.add_argument("--frame-us", type=int, default=0, help="busy-wait per client per frame (Subscriber.offer), µs")
    p.add_argument("--rounds", type=int, default=12, help="AB rounds of the compare (default 12)")
    args = p.parse_args(argv)
    root = procs.ROOT
    head = basetree.git("rev-parse", "HEAD", cwd=root)
    scratch = basetree.cache_root(root) / f"scratch-{os.getpid()}"
    basetree.git("worktree", "add", "--detach", str(scratch), head, cwd=root)
    try:
        for kind, us in (("callback", args.cpu_us), ("frame", args.frame_us)):
            if us:
                target, cls, function = TARGETS[kind]
                path = scratch / target
                path.write_text(slow_down(path.read_text(), us, cls=cls, function=function))
        say(f"inject: candidate = HEAD {head[:12]} + {args.cpu_us} µs per callback + {args.frame_us} µs per "
            f"client-frame, in {scratch}")
        argv_ = [sys.executable, "-m", "queuecast", "bench", "--compare", head, "--rounds", str(args.rounds),
                 "--out", str(root / "bench" / "results")]
        code = subprocess.run(argv_, cwd=scratch, env={**os.environ, "PYTHONPATH": str(scratch)},
                              check=False).returncode
    finally:
        basetree.git("worktree", "remove", "--force", str(scratch), cwd=root)
    expected = 1 if args.cpu_us or args.frame_us else 0
    say(f"inject: compare exited {code}; " + ("as expected" if code == expected else
                                               f"NOT as expected (wanted {expected})"))
    return code


if __name__ == "__main__":
    raise SystemExit(main())
