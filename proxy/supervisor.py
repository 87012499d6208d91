"""Supervision of the runtime's long-lived tasks: nothing dies silently.

Policy (``docs/architecture.md``): a component that raises is logged once with its traceback,
counted (``queuecast_component_restarts_total{component}``), reported down (``/readyz`` answers 503
naming it) and restarted after a jittered exponential backoff. A component that crashes
``max_crashes`` times within ``window_s`` stops the process: :class:`~proxy.errors.CrashLoop`
propagates out of the server with a one-line reason, and the process supervisor (systemd,
Kubernetes) restarts it cleanly. A component that returns normally is finished, not crashed.
``trio.Cancelled`` is never caught: cancellation is shutdown.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import trio

from proxy.auth.backoff import Backoff
from proxy.errors import CrashLoop

log = logging.getLogger("queuecast.supervisor")

ComponentState = Literal["starting", "up", "down", "finished"]
#: A component: started with ``nursery.start``, it calls ``task_status.started()`` once ready.
Component = Callable[..., Awaitable[Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class RestartPolicy:
    #: This many crashes within ``window_s`` stop the process.
    max_crashes: int = 5
    window_s: float = 60.0
    #: Backoff before a restart: jittered, doubling from ``backoff_initial_s`` to ``backoff_max_s``.
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 10.0


def _contains_crash_loop(exc: BaseException) -> bool:
    if isinstance(exc, CrashLoop):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return exc.subgroup(CrashLoop) is not None
    return False


def _leaf(exc: BaseException) -> BaseException:
    """The one exception inside nested single-member groups (a component's own nursery wraps it)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


class Supervisor:
    """Runs components under one :class:`RestartPolicy` and knows which are down right now."""

    def __init__(self, *, policy: RestartPolicy = RestartPolicy(),
                 on_restart: Callable[[str], None] = lambda name: None,
                 clock: Callable[[], float] = trio.current_time) -> None:
        self.policy = policy
        self._on_restart = on_restart
        self._clock = clock
        self._states: dict[str, ComponentState] = {}
        self.restarts: dict[str, int] = {}

    def state(self, name: str) -> ComponentState:
        """``starting`` (also: never run), ``up``, ``down`` (crashed, restart pending) or ``finished``."""
        return self._states.get(name, "starting")

    async def run(self, name: str, component: Component, *args: Any,
                  task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED) -> None:
        """Run ``component(*args)`` under the policy until it returns or the caller is cancelled.

        ``task_status.started`` is passed through from the first start (a component that crashes
        before it started counts as a crash all the same; the caller is released then).
        Raises :class:`CrashLoop` when the component crashes too often.
        """
        p = self.policy
        crashes: deque[float] = deque()
        backoff = Backoff(initial_s=p.backoff_initial_s, max_s=p.backoff_max_s)
        reported = False
        while True:
            self._states[name] = "starting"
            try:
                async with trio.open_nursery() as nursery:
                    value = await nursery.start(component, *args)
                    self._states[name] = "up"
                    if not reported:
                        reported = True
                        task_status.started(value)
                self._states[name] = "finished"
                return
            except Exception as raised:
                if _contains_crash_loop(raised):
                    raise
                exc = _leaf(raised)
                now = self._clock()
                crashes.append(now)
                while crashes and crashes[0] <= now - p.window_s:
                    crashes.popleft()
                if len(crashes) == 1:
                    backoff.reset()  # the first crash in a while: restart quickly
                self._states[name] = "down"
                self.restarts[name] = self.restarts.get(name, 0) + 1
                self._on_restart(name)
                log.error("component %s crashed (%d in %g s)", name, len(crashes), p.window_s, exc_info=exc)
                if len(crashes) >= p.max_crashes:
                    raise CrashLoop(name, len(crashes), p.window_s, exc) from exc
                if not reported:
                    reported = True
                    task_status.started(None)
            delay = backoff.next()
            log.warning("restarting component %s in %.1f s", name, delay)
            await trio.sleep(delay)
