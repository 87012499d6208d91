"""The base side of ``queuecast bench --compare``: a git ref checked out in a worktree with its own venv.

``.bench-cache/<commit>/tree`` is a ``git worktree add --detach`` of the commit and
``.bench-cache/<commit>/venv`` a venv made by this same Python with ``pip install -e tree``, constrained
to the versions installed in the candidate's environment (``pip freeze``). The pair
is built once per commit (``.ready`` marks a finished build; a half-built one is removed and built
again), so a second compare against the same base starts at once. The cache lives next to the main
checkout (the parent of git's common dir), so scratch worktrees such as :mod:`bench.inject`'s share it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.progress import say


class BaseBuildError(RuntimeError):
    """git or pip failed while preparing the base (the command and its output are in the message)."""


@dataclass(frozen=True, slots=True)
class BaseTree:
    """A built base: its commit, its worktree and the venv's ``queuecast`` console script."""

    commit: str
    tree: Path
    venv: Path

    @property
    def queuecast(self) -> list[str]:
        return [str(self.venv / "bin" / "queuecast")]


def _run(argv: list[str], *, cwd: Path) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BaseBuildError(f"{' '.join(argv)} (in {cwd}) exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done.stdout.strip()


def git(*args: str, cwd: Path) -> str:
    """``git ARGS`` in ``cwd``; its stdout, stripped. Raises :class:`BaseBuildError` on failure."""
    return _run(["git", *args], cwd=cwd)


def default_ref(root: Path, *, main: str = "main") -> str:
    """The merge-base of HEAD with ``main``; ``HEAD~1`` when HEAD is on ``main`` itself."""
    head = git("rev-parse", "HEAD", cwd=root)
    try:
        base = git("merge-base", "HEAD", main, cwd=root)
    except BaseBuildError:
        return "HEAD~1"
    return "HEAD~1" if base == head else base


def cache_root(root: Path) -> Path:
    """``.bench-cache`` beside the main checkout (shared by every worktree of the repository)."""
    common = Path(git("rev-parse", "--path-format=absolute", "--git-common-dir", cwd=root))
    return common.parent / ".bench-cache"


def build(root: Path, ref: str) -> BaseTree:
    """Resolve ``ref`` in ``root`` and return its built worktree and venv, building them when needed."""
    commit = git("rev-parse", "--verify", f"{ref}^{{commit}}", cwd=root)
    home = cache_root(root) / commit
    base = BaseTree(commit, home / "tree", home / "venv")
    ready = home / ".ready"
    if ready.exists():
        say(f"base {ref} = {commit[:12]}: cached in {home}")
        return base
    say(f"base {ref} = {commit[:12]}: building {home} (worktree + venv, once per commit)")
    if base.tree.exists():  # a build that was interrupted
        git("worktree", "remove", "--force", str(base.tree), cwd=root)
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    git("worktree", "add", "--detach", str(base.tree), commit, cwd=root)
    _run([sys.executable, "-m", "venv", str(base.venv)], cwd=home)
    # The dependencies the candidate runs with, as constraints: the A/B compares code, not a newer
    # trio or h11 that pip happened to resolve today. A base whose requirements exclude them gets fresh ones.
    constraints = home / "constraints.txt"
    constraints.write_text(_run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"], cwd=home) + "\n")
    pip = [str(base.venv / "bin" / "pip"), "install", "--quiet", "-e", str(base.tree)]
    try:
        _run([*pip, "-c", str(constraints)], cwd=home)
    except BaseBuildError:
        say("base: its requirements conflict with the candidate's installed versions; installing unpinned")
        _run(pip, cwd=home)
    ready.write_text(commit + "\n")
    return base
