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


def _channel_id(body: dict[str, Any]) -> str | None:
    channel_id = body.get("channelId")
    if channel_id is not None and not isinstance(channel_id, str):
        raise ValueError("channelId: must be a string")
    return channel_id


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
            "redeliveriesPending": engine.eventbus.redeliveries_pending,
            "deliveryBacklog": engine.eventbus.backlog,
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
        engine.stats.queues_created += 1
        return _queue_json(q), 201

    @app.delete("/sim/queues/<queue_id>")
    async def delete_queue(queue_id: str) -> Result:
        if not engine.remove_queue(queue_id):
            return {"error": f"queue {queue_id} does not exist"}, 404
        engine.stats.queues_deleted += 1
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
        n = engine.tokens.expire_all()
        engine.stats.tokens_expired_early += n
        return {"expired": n}, 200

    @app.post("/sim/tokens/revoke")
    async def revoke_tokens() -> Result:
        n = engine.tokens.revoke_all()
        engine.stats.tokens_revoked += n
        return {"revoked": n}, 200

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
        engine.stats.socket_closing_sent += warned
        return {"warned": warned, "closeAfterS": real_grace}, 200

    @app.post("/sim/sockets/silence")
    async def socket_silence() -> Result:
        try:
            channel_id = _channel_id(await _body())
        except ValueError as exc:
            return _bad(str(exc))
        return {"silenced": engine.notifications.silence(channel_id=channel_id)}, 200

    @app.post("/sim/channels/unsubscribe")
    async def channel_unsubscribe() -> Result:
        try:
            body = await _body()
            channel_id = _channel_id(body)
            gone = body.get("gone", False)
            if not isinstance(gone, bool):
                raise ValueError("gone: must be a boolean")
        except ValueError as exc:
            return _bad(str(exc))
        return {"unsubscribed": engine.notifications.unsubscribe_notice(channel_id=channel_id, gone=gone),
                "gone": gone}, 200

    @app.post("/sim/ratelimit/storm")
    async def ratelimit_storm() -> Result:
        try:
            seconds = _number(await _body(), "seconds")
        except ValueError as exc:
            return _bad(str(exc))
        engine.limiter.storm(seconds)
        engine.stats.rate_limit_storms += 1
        return {"stormForS": seconds}, 200

    @app.post("/sim/oauth/outage")
    async def oauth_outage() -> Result:
        try:
            seconds = _number(await _body(), "seconds")
        except ValueError as exc:
            return _bad(str(exc))
        engine.tokens.take_down(seconds)
        engine.stats.oauth_outages += 1
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

    @app.delete("/sim/faults")
    async def clear_faults() -> Result:
        engine.faults.clear()
        return engine.faults.as_json(), 200
