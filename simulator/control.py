"""The control API (``/sim/...``) for scenarios and tests. No authentication: never expose it.

Every route is documented in ``docs/simulator.md``. Bad bodies get 400 ``{"error": "..."}`` naming
the field.
"""

from __future__ import annotations

from typing import Any

from quart import request
from quart_trio import QuartTrio

from . import wire
from .engine import Engine
from .model import QueueInfo
from .traffic import Wave
from .truth import truth

Result = tuple[Any, int]


def _bad(message: str) -> Result:
    return {"error": message}, 400


def _number(body: dict[str, Any], key: str, *, default: float | None = None, minimum: float = 0.0) -> float:
    value = body.get(key, default)
    if value is None:
        raise ValueError(f"{key}: required")
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ValueError(f"{key}: a number >= {minimum} is required")
    return float(value)


def _wave_json(w: Wave) -> dict[str, Any]:
    return {
        "waveId": w.wave_id,
        "queueId": w.queue_id,
        "mediaType": w.media,
        "ratePerMin": w.rate_per_min,
        "startsAt": wire.iso(w.start_ms),
        "endsAt": wire.iso(w.end_ms),
    }


def _queue_json(q: QueueInfo) -> dict[str, Any]:
    return {
        "id": q.queue_id,
        "name": q.name,
        "mediaTypes": list(q.media),
        "serviceLevelTarget": q.sl_target,
        "serviceLevelThresholdMs": q.sl_threshold_ms,
    }


async def _body() -> dict[str, Any]:
    body = await request.get_json(force=True, silent=True)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ValueError("body: a JSON object is required")
    return body


def register_control(app: QuartTrio, engine: Engine) -> None:
    """Add the ``/sim/...`` routes to ``app``."""

    @app.get("/sim/truth")
    async def sim_truth() -> Result:
        return truth(engine.world), 200

    @app.get("/sim/stats")
    async def sim_stats() -> Result:
        return {
            **engine.stats.as_json(),
            "channels": engine.notifications.channel_count,
            "sockets": engine.notifications.socket_count,
            "subscriptions": len(engine.eventbus.subscriptions()),
            "paused": engine.paused,
            "worldTime": wire.iso(engine.world.now_ms),
        }, 200

    @app.get("/sim/queues")
    async def sim_queues() -> Result:
        return {"entities": [_queue_json(q) for q in engine.world.queues]}, 200

    @app.post("/sim/queues")
    async def add_queue() -> Result:
        try:
            name = (await _body()).get("name")
            if not isinstance(name, str):
                raise ValueError("name: a string is required")
            q = engine.add_queue(name)
        except ValueError as exc:
            return _bad(str(exc))
        return _queue_json(q), 201

    @app.delete("/sim/queues/<queue_id>")
    async def delete_queue(queue_id: str) -> Result:
        if not engine.remove_queue(queue_id):
            return {"error": f"queue {queue_id} does not exist"}, 404
        return "", 204

    @app.post("/sim/waves")
    async def start_wave() -> Result:
        try:
            body = await _body()
            rate = _number(body, "ratePerMin")
            duration = _number(body, "durationS", minimum=0.001)
            queue_id, media = body.get("queueId"), body.get("mediaType")
            if queue_id is not None and queue_id not in engine.world.queue_by_id:
                raise ValueError(f"queueId: unknown queue {queue_id!r}")
            wave = engine.world.start_wave(rate_per_min=rate, duration_s=duration, queue_id=queue_id, media=media)
        except ValueError as exc:
            return _bad(str(exc))
        return _wave_json(wave), 201

    @app.get("/sim/waves")
    async def list_waves() -> Result:
        return {"entities": [_wave_json(w) for w in engine.world.waves]}, 200

    @app.delete("/sim/waves/<wave_id>")
    async def stop_wave(wave_id: str) -> Result:
        if not engine.world.stop_wave(wave_id):
            return {"error": f"wave {wave_id} is not running"}, 404
        return "", 204

    @app.post("/sim/pause")
    async def pause() -> Result:
        engine.pause()
        return {"paused": True, "worldTime": wire.iso(engine.world.now_ms)}, 200

    @app.post("/sim/resume")
    async def resume() -> Result:
        engine.resume()
        return {"paused": False, "worldTime": wire.iso(engine.world.now_ms)}, 200

    @app.post("/sim/advance")
    async def advance() -> Result:
        try:
            seconds = _number(await _body(), "seconds")
        except ValueError as exc:
            return _bad(str(exc))
        engine.advance(seconds)
        return {"worldTime": wire.iso(engine.world.now_ms)}, 200

    @app.post("/sim/tokens/expire")
    async def expire_tokens() -> Result:
        return {"expired": engine.tokens.expire_all()}, 200

    @app.post("/sim/tokens/revoke")
    async def revoke_tokens() -> Result:
        return {"revoked": engine.tokens.revoke_all()}, 200

    @app.post("/sim/sockets/closing")
    async def socket_closing() -> Result:
        try:
            body = await _body()
            grace = _number(body, "graceS", default=engine.settings.socket_closing_grace_s)
            channel_id = body.get("channelId")
            if channel_id is not None and not isinstance(channel_id, str):
                raise ValueError("channelId: must be a string")
        except ValueError as exc:
            return _bad(str(exc))
        real_grace = grace / engine.settings.speed
        warned = engine.notifications.socket_closing(grace_s=real_grace, channel_id=channel_id)
        return {"warned": warned, "closeAfterS": real_grace}, 200

    @app.post("/sim/oauth/outage")
    async def oauth_outage() -> Result:
        try:
            seconds = _number(await _body(), "seconds")
        except ValueError as exc:
            return _bad(str(exc))
        engine.tokens.take_down(seconds)
        return {"downForS": seconds}, 200

    @app.get("/sim/faults")
    async def get_faults() -> Result:
        return engine.faults.as_json(), 200

    @app.put("/sim/faults")
    async def put_faults() -> Result:
        try:
            engine.faults.update(await _body())
        except ValueError as exc:
            return _bad(str(exc))
        return engine.faults.as_json(), 200
