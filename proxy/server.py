"""Serve the proxy with Hypercorn's trio worker, in-process."""

from __future__ import annotations

import functools
import logging
import signal
from collections.abc import Awaitable, Callable

import trio
from hypercorn.config import Config
from hypercorn.trio import serve as hypercorn_serve

from proxy.http.app import create_app
from proxy.runtime import Runtime, build_runtime
from proxy.settings import Settings

log = logging.getLogger("queuecast.proxy")


def hypercorn_config(host: str, port: int) -> Config:
    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.keep_alive_timeout = 75
    config.graceful_timeout = 3
    config.backlog = 4096
    return config


async def wait_for_signal() -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            return


async def serve(
    settings: Settings,
    *,
    runtime: Runtime | None = None,
    shutdown_trigger: Callable[[], Awaitable[None]] | None = None,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the proxy until ``shutdown_trigger`` returns (or until cancelled).

    Reports the base URL (``http://host:port``) through ``task_status`` once bound. On shutdown,
    every stream is ended cleanly first, so Hypercorn's graceful close does not wait on them.
    """
    rt = runtime or build_runtime(settings)
    app = create_app(settings, rt)
    trigger = shutdown_trigger or trio.sleep_forever

    async def _shutdown() -> None:
        await trigger()
        rt.broker.close_all("shutdown")

    binds = await _start(app, hypercorn_config(settings.host, settings.port), _shutdown, task_status)
    del binds


async def _start(app: object, config: Config, trigger: Callable[[], Awaitable[None]],
                 task_status: trio.TaskStatus[str]) -> list[str]:
    async with trio.open_nursery() as nursery:
        binds: list[str] = await nursery.start(
            functools.partial(hypercorn_serve, app, config, shutdown_trigger=trigger)  # type: ignore[arg-type]
        )
        task_status.started(binds[0])
    return binds
