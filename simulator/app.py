"""The QuartTrio app: Platform API routes (OAuth, Event Bus, Notifications, Analytics, Routing).

Handlers only translate HTTP to ``Engine`` calls; control routes live in ``control.py``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from quart import Response, request, websocket
from quart_trio import QuartTrio

from . import activity, analytics, wire
from .control import register_control
from .engine import Denied, Engine
from .errors import register_error_handlers
from .eventbus import SubscriptionError
from .notifications import TopicError
from .oauth import Token, parse_basic, parse_bearer
from .ratelimit import Verdict

Result = tuple[Any, int, dict[str, str]]
Handler = Callable[[Token, Verdict], Awaitable[Result]]


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Result:
    return wire.error_body(status, code, message), status, headers or {}


async def _platform(engine: Engine, handler: Handler) -> Result:
    auth = request.headers.get("Authorization")
    gate = engine.authorize(auth, parse_bearer(auth))
    if isinstance(gate, Denied):
        return _error(gate.status, gate.code, gate.message, gate.headers)
    token, verdict = gate
    body, status, headers = await handler(token, verdict)
    return body, status, {**verdict.headers(), **headers}


async def _json_body() -> Any:
    return await request.get_json(force=True, silent=True)


def create_app(engine: Engine) -> QuartTrio:
    """Build the app around one ``Engine``."""
    app = QuartTrio("queuecast-simulator")
    app.config["BACKGROUND_TASK_SHUTDOWN_TIMEOUT"] = None
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep wire order readable
    settings = engine.settings

    @app.before_request
    async def drain_body() -> None:
        # Read every request body, used or not: an unread body (the SDK sends "null" with a body-less
        # POST) stalls a kept-alive HTTP/1.1 connection after a few requests.
        await request.get_data()

    # ------------------------------------------------------------ OAuth
    @app.post("/oauth/token")
    async def oauth_token() -> Result:
        remaining = engine.tokens.outage_remaining()
        if remaining > 0:
            engine.stats.token_503s += 1
            return (
                wire.oauth_error("temporarily_unavailable", "token service unavailable"),
                503,
                {"Retry-After": str(max(1, round(remaining)))},
            )
        creds = parse_basic(request.headers.get("Authorization"))
        if creds != (settings.client_id, settings.client_secret):
            engine.stats.invalid_client += 1
            return (
                wire.oauth_error("invalid_client", "authentication failed"),
                settings.token_status_on_invalid_client,
                {},
            )
        form = await request.form
        if form.get("grant_type") != "client_credentials":
            return wire.oauth_error("unsupported_grant_type", "grant_type must be client_credentials"), 400, {}
        token = engine.tokens.issue(settings.client_id)
        engine.stats.tokens_issued += 1
        return wire.token_response(token.value, settings.token_ttl_s), 200, {"Cache-Control": "no-store"}

    # ------------------------------------------------------------ Event Bus (the guide's API)
    @app.post("/api/v2/events/subscriptions")
    async def create_subscription() -> Result:
        body = await _json_body()

        async def handle(token: Token, verdict: Verdict) -> Result:
            try:
                sub = engine.eventbus.create(body, now_ms=engine.world.now_ms)
            except SubscriptionError as exc:
                return _error(400, "bad.request", str(exc))
            return sub.as_json(), 201, {}

        return await _platform(engine, handle)

    @app.get("/api/v2/events/subscriptions")
    async def list_subscriptions() -> Result:
        async def handle(token: Token, verdict: Verdict) -> Result:
            entities = [s.as_json() for s in engine.eventbus.subscriptions()]
            return {"entities": entities, "total": len(entities)}, 200, {}

        return await _platform(engine, handle)

    @app.get("/api/v2/events/subscriptions/<sub_id>")
    async def get_subscription(sub_id: str) -> Result:
        async def handle(token: Token, verdict: Verdict) -> Result:
            sub = engine.eventbus.get(sub_id)
            if sub is None:
                return _error(404, "not.found", f"subscription {sub_id} not found")
            return sub.as_json(), 200, {}

        return await _platform(engine, handle)

    @app.patch("/api/v2/events/subscriptions/<sub_id>")
    async def update_subscription(sub_id: str) -> Result:
        body = await _json_body()

        async def handle(token: Token, verdict: Verdict) -> Result:
            try:
                sub = engine.eventbus.update(sub_id, body)
            except SubscriptionError as exc:
                return _error(400, "bad.request", str(exc))
            if sub is None:
                return _error(404, "not.found", f"subscription {sub_id} not found")
            return sub.as_json(), 200, {}

        return await _platform(engine, handle)

    @app.delete("/api/v2/events/subscriptions/<sub_id>")
    async def delete_subscription(sub_id: str) -> Result:
        async def handle(token: Token, verdict: Verdict) -> Result:
            if not engine.eventbus.delete(sub_id):
                return _error(404, "not.found", f"subscription {sub_id} not found")
            return "", 204, {}

        return await _platform(engine, handle)

    # ------------------------------------------------------------ Notifications
    @app.post("/api/v2/notifications/channels")
    async def create_channel() -> Result:
        async def handle(token: Token, verdict: Verdict) -> Result:
            ws_base = f"{'wss' if request.scheme == 'https' else 'ws'}://{request.host}"
            ch = engine.notifications.create_channel(token=token.value, client_id=token.client_id, ws_base=ws_base)
            return wire.channel(ch.channel_id, ch.connect_uri, ch.expires_ms), 200, {}

        return await _platform(engine, handle)

    @app.get("/api/v2/notifications/channels")
    async def list_channels() -> Result:
        async def handle(token: Token, verdict: Verdict) -> Result:
            scope = request.args.get("includechannels", "token")
            chans = engine.notifications.channels_for(
                token=None if scope == "oauthclient" else token.value, client_id=token.client_id
            )
            return {"entities": [wire.channel(c.channel_id, c.connect_uri, c.expires_ms) for c in chans]}, 200, {}

        return await _platform(engine, handle)

    @app.route("/api/v2/notifications/channels/<channel_id>", methods=["HEAD"])
    async def head_channel(channel_id: str) -> Result:
        async def handle(token: Token, verdict: Verdict) -> Result:
            return "", 200 if engine.notifications.get(channel_id) else 404, {}

        return await _platform(engine, handle)

    @app.route("/api/v2/notifications/channels/<channel_id>/subscriptions", methods=["GET", "PUT", "POST", "DELETE"])
    async def channel_subscriptions(channel_id: str) -> Result:
        body = await _json_body() if request.method in ("PUT", "POST") else None

        async def handle(token: Token, verdict: Verdict) -> Result:
            ch = engine.notifications.get(channel_id)
            if ch is None:
                return _error(404, "not.found", f"channel {channel_id} not found")
            if request.method == "GET":
                return {"entities": engine.notifications.listing(ch)}, 200, {}
            if request.method == "DELETE":
                engine.notifications.unsubscribe_all(ch)
                return "", 204, {}
            ignore = request.args.get("ignoreErrors", "false").lower() == "true"
            try:
                entities = engine.notifications.subscribe(
                    ch, body, replace=request.method == "PUT", ignore_errors=ignore
                )
            except TopicError as exc:
                return _error(400, "bad.request", str(exc))
            return {"entities": entities}, 200, {}

        return await _platform(engine, handle)

    @app.websocket("/channels/<channel_id>")
    async def channel_socket(channel_id: str) -> Any:
        ch = engine.notifications.get(channel_id)
        if ch is None:  # refused at the handshake, with the platform's error body
            return _error(404, "not.found", f"channel {channel_id} not found")[:2]
        await websocket.accept()
        await engine.notifications.serve_socket(ch, send=websocket.send, receive=websocket.receive)
        return None

    # ------------------------------------------------------------ Analytics and routing
    @app.post("/api/v2/analytics/queues/observations/query")
    async def observations_query() -> Result:
        body = await _json_body()

        async def handle(token: Token, verdict: Verdict) -> Result:
            try:
                return analytics.observations_query(engine.world, body), 200, {}
            except analytics.QueryError as exc:
                return _error(400, "bad.request", str(exc))

        return await _platform(engine, handle)

    @app.post("/api/v2/analytics/conversations/aggregates/query")
    async def aggregates_query() -> Result:
        body = await _json_body()

        async def handle(token: Token, verdict: Verdict) -> Result:
            try:
                return analytics.aggregates_query(engine.world, body), 200, {}
            except analytics.QueryError as exc:
                return _error(400, "bad.request", str(exc))

        return await _platform(engine, handle)

    @app.post("/api/v2/analytics/conversations/activity/query")
    async def conversations_activity_query() -> Result:
        body = await _json_body()

        async def handle(token: Token, verdict: Verdict) -> Result:
            try:
                return activity.conversations_activity_query(engine.world, body), 200, {}
            except analytics.QueryError as exc:
                return _error(400, "bad.request", str(exc))

        return await _platform(engine, handle)

    @app.post("/api/v2/analytics/routing/activity/query")
    async def routing_activity_query() -> Result:
        body = await _json_body()

        async def handle(token: Token, verdict: Verdict) -> Result:
            try:
                return activity.routing_activity_query(engine.world, body), 200, {}
            except analytics.QueryError as exc:
                return _error(400, "bad.request", str(exc))

        return await _platform(engine, handle)

    @app.get("/api/v2/routing/queues")
    async def routing_queues() -> Result:
        async def handle(token: Token, verdict: Verdict) -> Result:
            try:
                size = int(request.args.get("pageSize", "25"))
                number = int(request.args.get("pageNumber", "1"))
            except ValueError:
                return _error(400, "bad.request", "pageSize and pageNumber must be integers")
            if not 1 <= size <= 500 or number < 1:
                return _error(400, "bad.request", "pageSize must be within [1, 500] and pageNumber >= 1")
            return analytics.routing_queues(engine.world, page_size=size, page_number=number), 200, {}

        return await _platform(engine, handle)

    register_control(app, engine)
    register_error_handlers(app)
    return app


__all__ = ["Response", "create_app"]
