"""A trio event loop in a daemon thread, for sync tests (Playwright, the vendor's SDK) that drive
servers running in it: ``run(afn, *args)`` and ``run_sync(fn, *args)`` execute there."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import trio

T = TypeVar("T")


class TrioThread:
    """``niceness`` lowers the loop's priority (the browser tests keep servers below the page)."""

    def __init__(self, *, name: str = "tests-trio", niceness: int | None = None) -> None:
        self._niceness = niceness
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the trio thread did not start")

    def _main(self) -> None:
        if self._niceness is not None:
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self._niceness)
        try:
            trio.run(self._serve)
        except BaseException as exc:  # reported by close(); the thread must not die silently
            self._failure = exc
            self._ready.set()

    async def _serve(self) -> None:
        self.token = trio.lowlevel.current_trio_token()
        self._stop = trio.Event()
        async with trio.open_nursery() as nursery:
            self.nursery = nursery
            self._ready.set()
            await self._stop.wait()
            nursery.cancel_scope.cancel()

    def run(self, afn: Callable[..., Awaitable[T]], *args: Any) -> T:
        return trio.from_thread.run(afn, *args, trio_token=self.token)

    def run_sync(self, fn: Callable[..., T], *args: Any) -> T:
        return trio.from_thread.run_sync(fn, *args, trio_token=self.token)

    def close(self) -> None:
        if self._failure is None:
            self.run_sync(self._stop.set)
        self._thread.join(15)
        if self._failure is not None:
            raise RuntimeError("the servers' trio loop failed") from self._failure
