"""``serve()``: the whole simulator (app under Hypercorn's trio worker plus the engine's loops)."""

from __future__ import annotations

from functools import partial

import httpx
import trio
from hypercorn.config import Config
from hypercorn.trio import serve as hypercorn_serve

from .app import create_app
from .engine import Engine
from .settings import SimSettings


async def serve(settings: SimSettings, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
    """Run the simulator until cancelled; ``task_status.started(base_url)`` once the port is bound.

    ``base_url`` is e.g. ``http://127.0.0.1:54321`` (port 0 in ``settings`` picks a free port).
    Everything (HTTP server, world loop, delivery loops, sockets) lives in this call's nursery, so
    cancelling it stops everything.
    """
    async with httpx.AsyncClient(timeout=settings.delivery_timeout_s or None) as http:
        engine = Engine(settings, http=http)
        app = create_app(engine)
        config = Config()
        config.bind = [f"{settings.host}:{settings.port}"]
        config.accesslog = None
        config.errorlog = None
        config.graceful_timeout = 0.5
        async with trio.open_nursery() as nursery:
            await nursery.start(engine.run)
            binds = await nursery.start(partial(hypercorn_serve, app, config))
            task_status.started(str(binds[0]))
