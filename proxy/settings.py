"""One frozen, typed ``Settings`` built once at the edge from ``QC_*`` environment variables.

Every field documents its default and its unit. A bad value stops start-up with a
:class:`~proxy.errors.ConfigError` naming the variable. Secrets are wrapped in
:class:`Secret`, whose ``repr`` never shows the value, so a settings dump in a log
or a traceback cannot leak them.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, TypeVar

from proxy.contract import DEFAULT_TOPICS, OBSERVATIONS_TOPIC, QUEUE_UPDATE_TOPIC
from proxy.errors import ConfigError, InvalidTopic

__all__ = ["DEFAULT_TOPICS", "OBSERVATIONS_TOPIC", "QUEUE_UPDATE_TOPIC", "Secret", "Settings", "load_settings"]


#: Real Genesys Cloud region domains (reference/genesys-platform.md §1). The API host is
#: ``api.<domain>``, the login host ``login.<domain>``, the WebSocket host ``streaming.<domain>``.
REGIONS: dict[str, str] = {
    "us_east_1": "mypurecloud.com",
    "us_east_2": "use2.us-gov-pure.cloud",
    "us_west_2": "usw2.pure.cloud",
    "ca_central_1": "cac1.pure.cloud",
    "sa_east_1": "sae1.pure.cloud",
    "mx_central_1": "mxc1.pure.cloud",
    "eu_west_1": "mypurecloud.ie",
    "eu_west_2": "euw2.pure.cloud",
    "eu_central_1": "mypurecloud.de",
    "eu_central_2": "euc2.pure.cloud",
    "me_central_1": "mec1.pure.cloud",
    "ap_south_1": "aps1.pure.cloud",
    "ap_southeast_1": "apse1.pure.cloud",
    "ap_southeast_2": "mypurecloud.com.au",
    "ap_northeast_1": "mypurecloud.jp",
    "ap_northeast_2": "apne2.pure.cloud",
    "ap_northeast_3": "apne3.pure.cloud",
}

UpstreamMode = Literal["callback", "eventbus", "notifications"]

#: RFC 7518 3.2: an HS256 key must be at least as long as the hash output.
MIN_VIEWER_SECRET_BYTES = 32


class Secret:
    """A string that never shows itself in ``repr``/``str`` (logs, tracebacks, settings dumps)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself; call only where it is sent to its one rightful receiver."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


_TOPIC_SEGMENT = re.compile(r"^(\{id\}|[A-Za-z0-9_\-]+)$")


def validate_topic(topic: str) -> str:
    """Check one allowlist entry: an exact dotted topic or a template where ``{id}`` is one segment.

    Raises :class:`~proxy.errors.InvalidTopic` for wildcards (``*``, ``#``), empty segments or other characters:
    the guide's first trap is a topic filter that lets a flood through.
    """
    if not topic:
        raise InvalidTopic("empty topic")
    if "*" in topic or "#" in topic:
        raise InvalidTopic(f"wildcard in topic {topic!r}; list exact topics or use {{id}} for one segment")
    for segment in topic.split("."):
        if not segment:
            raise InvalidTopic(f"empty segment in topic {topic!r}")
        if not _TOPIC_SEGMENT.match(segment):
            raise InvalidTopic(f"bad segment {segment!r} in topic {topic!r}")
    return topic


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the proxy can be told. Built by :func:`load_settings`; defaults are the field defaults."""

    #: ``QC_HOST``: interface to bind. Default ``127.0.0.1``.
    host: str = "127.0.0.1"
    #: ``QC_PORT``: TCP port (0 = any free port). Default 8080.
    port: int = 8080
    #: ``QC_DEMO``: demo mode: unauthenticated callbacks and ``*`` CORS are allowed. Default off.
    demo: bool = False
    #: ``QC_CALLBACK_SECRET``: HMAC-SHA256 secret for ``X-Hub-Signature-256``. Required unless demo or API key.
    callback_secret: Secret | None = None
    #: ``QC_CALLBACK_SECRET_PREVIOUS``: the secret before a rotation, still accepted on callbacks while the
    #: platform moves to the new one. Default none.
    callback_secret_previous: Secret | None = None
    #: ``QC_CALLBACK_API_KEY``: static key for EventBridge API destinations. Default none.
    callback_api_key: Secret | None = None
    #: ``QC_CALLBACK_API_KEY_HEADER``: the header carrying that key. Default ``X-Api-Key``.
    callback_api_key_header: str = "X-Api-Key"
    #: ``QC_MAX_BODY_BYTES``: callback bodies above this get 413. Default 1 MiB.
    max_body_bytes: int = 1024 * 1024
    #: ``QC_TOPICS``: comma-separated topic allowlist (exact, or ``{id}`` templates). Default: the two queue topics.
    topics: tuple[str, ...] = DEFAULT_TOPICS
    #: ``QC_DEDUPE_HORIZON_S``: how long an event id is remembered. Default 900 s.
    dedupe_horizon_s: float = 900.0
    #: ``QC_DEDUPE_MAX_IDS``: at most this many ids are remembered; the oldest go first. Default 100,000.
    dedupe_max_ids: int = 100_000
    #: ``QC_AGGREGATE_MS``: aggregation window in ms (leading + trailing throttle). Default 500.
    aggregate_ms: int = 500
    #: ``QC_RING_SIZE``: frames kept for ``Last-Event-ID`` resume. Default 4096.
    ring_size: int = 4096
    #: ``QC_RING_MAX_VIEWS``: at most this many queue views held by those frames (memory bound). Default 50,000.
    ring_max_views: int = 50_000
    #: ``QC_CLIENT_BUFFER``: frames queued per SSE client before its deltas are coalesced. Default 16.
    client_buffer: int = 16
    #: ``QC_CLIENT_STALL_S``: a client whose buffer stays full this long is disconnected. Default 30 s.
    client_stall_s: float = 30.0
    #: ``QC_MAX_CLIENTS``: SSE connections beyond this get 503 + Retry-After. Default 20,000.
    max_clients: int = 20_000
    #: ``QC_CONNECT_RATE``: new streams admitted per second (a burst of one second's worth); beyond it 503 +
    #: a jittered Retry-After, so a reconnect storm is spread out. 0 = no limit. Default 1,000.
    connect_rate: float = 1000.0
    #: ``QC_KEEPALIVE_S``: a ``: keepalive`` comment follows this much silence. Default 15 s.
    keepalive_s: float = 15.0
    #: ``QC_RETRY_MS``: the SSE ``retry:`` sent once per connection. Default 3000 ms.
    retry_ms: int = 3000
    #: ``QC_HEAD_TIMEOUT_S``: a request head (any route) must arrive whole within this; else cut. Default 10 s.
    head_timeout_s: float = 10.0
    #: ``QC_BODY_TIMEOUT_S``: a callback body must arrive whole within this after its head; else 408. Default 10 s.
    body_timeout_s: float = 10.0
    #: ``QC_IDLE_TIMEOUT_S``: an idle keep-alive connection (no request in progress) is closed after this. Default 75 s.
    idle_timeout_s: float = 75.0
    #: ``QC_SHUTDOWN_S``: on SIGTERM, everything (drain callbacks, end streams, clean up) within this. Default 10 s.
    shutdown_s: float = 10.0
    #: ``QC_CORS_ORIGINS``: comma-separated exact origins allowed to read the stream. Default none.
    cors_origins: tuple[str, ...] = ()
    #: ``QC_STALE_AFTER_S``: upstream status turns ``degraded`` after this long without an event. Default 120 s.
    stale_after_s: float = 120.0
    #: ``QC_LOG_LEVEL``: ``DEBUG``, ``INFO``, ``WARNING``, ``ERROR``. Default ``INFO``.
    log_level: str = "INFO"
    #: ``QC_UPSTREAM``: ``callback`` (push only), ``eventbus`` (push, provisioned), ``notifications`` (pull).
    upstream: UpstreamMode = "callback"
    #: ``QC_REGION``: a Genesys region name (``us_east_1``, ``eu_west_1``, ...). Default none.
    region: str | None = None
    #: ``QC_API_BASE``: platform API base URL; derived from the region when unset.
    api_base: str | None = None
    #: ``QC_LOGIN_BASE``: OAuth base URL; derived from the region when unset.
    login_base: str | None = None
    #: ``QC_CLIENT_ID``: OAuth client-credentials client id.
    client_id: str | None = None
    #: ``QC_CLIENT_SECRET`` or ``QC_CLIENT_SECRET_FILE``: its secret.
    client_secret: Secret | None = None
    #: ``QC_QUEUES``: comma-separated queue ids; empty = discover all queues through the routing API.
    queues: tuple[str, ...] = ()
    #: ``QC_PUBLIC_URL``: this proxy's public base URL, registered as the Event Bus callback.
    public_url: str | None = None
    #: ``QC_TOKEN_GRACE_S``: refresh the token when less than this remains (never later than 90 %). Default 300.
    token_grace_s: float = 300.0
    #: ``QC_EVENTBUS_CLEANUP``: delete the Event Bus subscription on clean shutdown. Default off.
    eventbus_cleanup: bool = False
    #: ``QC_HEARTBEAT_TIMEOUT_S``: Notifications socket with no heartbeat/pong this long is replaced. Default 75 s.
    heartbeat_timeout_s: float = 75.0
    #: ``QC_REFRESH_S``: with platform credentials, longest waits and agent counts are re-read over REST this
    #: often (stretched to stay within 100 requests a minute); 0 = never. Default 10 s.
    refresh_s: float = 10.0
    #: ``QC_REDISCOVER_S``: with ``QC_QUEUES`` empty, the routing API is listed again this often, so queues
    #: created or deleted since are followed or taken off the board; 0 = at start only. Default 300 s.
    rediscover_s: float = 300.0
    #: ``QC_BOARDS_FILE``: a TOML file of saved wallboards, each served at ``/b/<name>`` (read and checked at
    #: start-up). Default none.
    boards_file: Path | None = None
    #: ``QC_REDIS_URL``: ``redis://[:password@]host:port/db``, ``rediss://`` (TLS) or ``unix://``; set, the
    #: broker is Redis and instances form one cluster (docs/scale-out.md). A secret: never logged. Default none.
    redis_url: Secret | None = None
    #: ``QC_REDIS_PREFIX``: prefix of every Redis key, so several clusters can share one Redis. Default ``queuecast``.
    redis_prefix: str = "queuecast"
    #: ``QC_LEASE_S``: the leader lease; a follower takes over within this after the leader dies. Default 10 s.
    lease_s: float = 10.0
    #: ``QC_VIEWER_JWT_SECRET``: HS256 key (at least 32 bytes) of viewer tokens; set, the stream and
    #: ``/api/v1/queues`` answer only to a valid token and show only its queues. Default none (open).
    viewer_jwt_secret: Secret | None = None

    @property
    def has_platform_credentials(self) -> bool:
        """Everything needed to call the platform API (then push-only mode seeds the board over REST)."""
        return None not in (self.api_base, self.login_base, self.client_id, self.client_secret)

    @property
    def aggregate_s(self) -> float:
        return self.aggregate_ms / 1000.0


T = TypeVar("T")


def _get(env: Mapping[str, str], name: str, parse: Callable[[str], T], default: T) -> T:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return parse(raw.strip())
    except (ValueError, TypeError) as exc:
        raise ConfigError(name, f"invalid value {raw!r}: {exc}") from None


def _bool(raw: str) -> bool:
    value = raw.lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected 1/0, true/false, yes/no or on/off")


def _int_range(lo: int, hi: int | float = math.inf) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        value = int(raw)
        if not lo <= value <= hi:
            raise ValueError(f"must be between {lo} and {hi}")
        return value

    return parse


def _float_range(lo: float, hi: float = math.inf) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        value = float(raw)
        if not (lo <= value <= hi) or math.isnan(value):
            raise ValueError(f"must be between {lo:g} and {hi:g}")
        return value

    return parse


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _url(raw: str) -> str:
    if not re.match(r"^https?://[^/\s]+", raw):
        raise ValueError("expected an http(s):// URL")
    return raw.rstrip("/")


def _log_level(raw: str) -> str:
    value = raw.upper()
    if value not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
    return value


def _upstream(raw: str) -> str:
    if raw not in ("callback", "eventbus", "notifications"):
        raise ValueError("expected callback, eventbus or notifications")
    return raw


def _redis_url(raw: str) -> Secret:
    # the value may hold a password: the error names the problem, never the value
    if not re.match(r"^(rediss?://[^/\s]+(/\d+)?/?|unix://\S+)$", raw):
        raise ConfigError("QC_REDIS_URL", "expected redis://[:password@]host:port[/db], rediss://... or unix://path")
    return Secret(raw)


def _redis_prefix(raw: str) -> str:
    if not re.match(r"^[A-Za-z0-9_.:-]{1,64}$", raw):
        raise ValueError("expected 1-64 letters, digits, '_', '.', ':' or '-'")
    return raw


def _region(raw: str) -> str:
    if raw not in REGIONS:
        raise ValueError(f"unknown region; one of {', '.join(sorted(REGIONS))}")
    return raw


#: How each field is read from its variable (``QC_`` + the field name in upper case). The default is
#: the field's own default: written once, in :class:`Settings`.
_PARSERS: dict[str, Callable[[str], Any]] = {
    "host": str,
    "port": _int_range(0, 65535),
    "demo": _bool,
    "callback_secret": Secret,
    "callback_secret_previous": Secret,
    "callback_api_key": Secret,
    "callback_api_key_header": str,
    "max_body_bytes": _int_range(1024),
    "topics": _csv,
    "dedupe_horizon_s": _float_range(1.0),
    "dedupe_max_ids": _int_range(1),
    "aggregate_ms": _int_range(0, 60_000),
    "ring_size": _int_range(1),
    "ring_max_views": _int_range(1),
    "client_buffer": _int_range(1),
    "client_stall_s": _float_range(0.1),
    "max_clients": _int_range(1),
    "connect_rate": _float_range(0.0),
    "keepalive_s": _float_range(0.05),
    "retry_ms": _int_range(0),
    "head_timeout_s": _float_range(0.1),
    "body_timeout_s": _float_range(0.1),
    "idle_timeout_s": _float_range(0.1),
    "shutdown_s": _float_range(0.5, 600.0),
    "cors_origins": _csv,
    "stale_after_s": _float_range(0.1),
    "log_level": _log_level,
    "upstream": _upstream,
    "region": _region,
    "api_base": _url,
    "login_base": _url,
    "client_id": str,
    "client_secret": Secret,
    "queues": _csv,
    "public_url": _url,
    "token_grace_s": _float_range(0.0),
    "eventbus_cleanup": _bool,
    "heartbeat_timeout_s": _float_range(0.1),
    "refresh_s": _float_range(0.0),
    "rediscover_s": _float_range(0.0),
    "boards_file": Path,
    "redis_url": _redis_url,
    "redis_prefix": _redis_prefix,
    "lease_s": _float_range(1.0, 300.0),
    "viewer_jwt_secret": Secret,
}


def variable(name: str) -> str:
    """The environment variable of a :class:`Settings` field."""
    return "QC_" + name.upper()


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from ``env`` (default ``os.environ``), checking every value and rule.

    Raises :class:`~proxy.errors.ConfigError` naming the variable.
    """
    env = os.environ if env is None else env
    defaults = {f.name: f.default for f in fields(Settings)}
    values: dict[str, Any] = {name: _get(env, variable(name), parse, defaults[name])
                              for name, parse in _PARSERS.items()}
    secret_file = env.get("QC_CLIENT_SECRET_FILE")
    if secret_file:
        try:
            values["client_secret"] = Secret(Path(secret_file).read_text().strip())
        except OSError as exc:
            raise ConfigError("QC_CLIENT_SECRET_FILE", f"cannot read {secret_file}: {exc.strerror}") from None
    _check_topics(values["topics"])
    _check_origins(values["cors_origins"], demo=values["demo"])
    if values["callback_secret"] is None and values["callback_api_key"] is None and not values["demo"]:
        raise ConfigError(
            "QC_CALLBACK_SECRET", "required (or QC_CALLBACK_API_KEY); only QC_DEMO=1 runs without callback auth"
        )
    if values["callback_secret_previous"] is not None and values["callback_secret"] is None:
        raise ConfigError("QC_CALLBACK_SECRET_PREVIOUS", "only meaningful beside QC_CALLBACK_SECRET (the new secret)")
    viewer_secret = values["viewer_jwt_secret"]
    if viewer_secret is not None and len(viewer_secret.reveal().encode()) < MIN_VIEWER_SECRET_BYTES:
        # the value itself is never echoed: it is a secret
        raise ConfigError("QC_VIEWER_JWT_SECRET", f"must be at least {MIN_VIEWER_SECRET_BYTES} bytes for HS256 "
                          "(e.g. openssl rand -hex 32)")
    region = values["region"]
    if region is not None:
        values["api_base"] = values["api_base"] or f"https://api.{REGIONS[region]}"
        values["login_base"] = values["login_base"] or f"https://login.{REGIONS[region]}"
    upstream = values["upstream"]
    if upstream != "callback":
        if values["api_base"] is None or values["login_base"] is None:
            raise ConfigError("QC_REGION", f"QC_UPSTREAM={upstream} needs QC_REGION or QC_API_BASE and QC_LOGIN_BASE")
        if values["client_id"] is None:
            raise ConfigError("QC_CLIENT_ID", f"required with QC_UPSTREAM={upstream}")
        if values["client_secret"] is None:
            raise ConfigError("QC_CLIENT_SECRET", f"required with QC_UPSTREAM={upstream} (or QC_CLIENT_SECRET_FILE)")
        if upstream == "eventbus" and values["public_url"] is None:
            raise ConfigError("QC_PUBLIC_URL", "required with QC_UPSTREAM=eventbus (the callback to register)")
    return Settings(**values)


def _check_topics(topics: tuple[str, ...]) -> None:
    if not topics:
        raise ConfigError("QC_TOPICS", "must list at least one topic")
    for topic in topics:
        try:
            validate_topic(topic)
        except InvalidTopic as exc:
            raise ConfigError("QC_TOPICS", str(exc)) from None


def _check_origins(origins: tuple[str, ...], *, demo: bool) -> None:
    for origin in origins:
        if origin == "*":
            if not demo:
                raise ConfigError("QC_CORS_ORIGINS", "'*' is only allowed with QC_DEMO=1; list exact origins")
        elif not re.match(r"^https?://[^/\s]+$", origin):
            raise ConfigError("QC_CORS_ORIGINS", f"{origin!r} is not an origin like https://wall.example.com")
