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
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from proxy.errors import ConfigError

QUEUE_UPDATE_TOPIC = "com.genesyscloud.telephony.queue.update"
OBSERVATIONS_TOPIC = "v2.analytics.queues.{id}.observations"
DEFAULT_TOPICS = (QUEUE_UPDATE_TOPIC, OBSERVATIONS_TOPIC)

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

    Raises ``ValueError`` for wildcards (``*``, ``#``), empty segments or other characters:
    the guide's first trap is a topic filter that lets a flood through.
    """
    if not topic:
        raise ValueError("empty topic")
    if "*" in topic or "#" in topic:
        raise ValueError(f"wildcard in topic {topic!r}; list exact topics or use {{id}} for one segment")
    for segment in topic.split("."):
        if not segment:
            raise ValueError(f"empty segment in topic {topic!r}")
        if not _TOPIC_SEGMENT.match(segment):
            raise ValueError(f"bad segment {segment!r} in topic {topic!r}")
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
    #: ``QC_KEEPALIVE_S``: a ``: keepalive`` comment follows this much silence. Default 15 s.
    keepalive_s: float = 15.0
    #: ``QC_RETRY_MS``: the SSE ``retry:`` sent once per connection. Default 3000 ms.
    retry_ms: int = 3000
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


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from ``env`` (default ``os.environ``), checking every value and rule."""
    env = os.environ if env is None else env
    demo = _get(env, "QC_DEMO", _bool, False)
    secret = _get(env, "QC_CALLBACK_SECRET", Secret, None)
    api_key = _get(env, "QC_CALLBACK_API_KEY", Secret, None)
    topics: tuple[str, ...] = _get(env, "QC_TOPICS", _csv, DEFAULT_TOPICS)
    if not topics:
        raise ConfigError("QC_TOPICS", "must list at least one topic")
    for topic in topics:
        try:
            validate_topic(topic)
        except ValueError as exc:
            raise ConfigError("QC_TOPICS", str(exc)) from None
    origins: tuple[str, ...] = _get(env, "QC_CORS_ORIGINS", _csv, ())
    for origin in origins:
        if origin == "*":
            if not demo:
                raise ConfigError("QC_CORS_ORIGINS", "'*' is only allowed with QC_DEMO=1; list exact origins")
        elif not re.match(r"^https?://[^/\s]+$", origin):
            raise ConfigError("QC_CORS_ORIGINS", f"{origin!r} is not an origin like https://wall.example.com")
    if secret is None and api_key is None and not demo:
        raise ConfigError(
            "QC_CALLBACK_SECRET", "required (or QC_CALLBACK_API_KEY); only QC_DEMO=1 runs without callback auth"
        )
    client_secret = _get(env, "QC_CLIENT_SECRET", Secret, None)
    secret_file = env.get("QC_CLIENT_SECRET_FILE")
    if secret_file:
        try:
            client_secret = Secret(Path(secret_file).read_text().strip())
        except OSError as exc:
            raise ConfigError("QC_CLIENT_SECRET_FILE", f"cannot read {secret_file}: {exc.strerror}") from None
    upstream = _get(env, "QC_UPSTREAM", str, "callback")
    if upstream not in ("callback", "eventbus", "notifications"):
        raise ConfigError("QC_UPSTREAM", f"invalid value {upstream!r}: expected callback, eventbus or notifications")
    region = _get(env, "QC_REGION", str, None)
    if region is not None and region not in REGIONS:
        raise ConfigError("QC_REGION", f"unknown region {region!r}; one of {', '.join(sorted(REGIONS))}")
    api_base = _get(env, "QC_API_BASE", _url, None)
    login_base = _get(env, "QC_LOGIN_BASE", _url, None)
    if region is not None:
        api_base = api_base or f"https://api.{REGIONS[region]}"
        login_base = login_base or f"https://login.{REGIONS[region]}"
    client_id = _get(env, "QC_CLIENT_ID", str, None)
    public_url = _get(env, "QC_PUBLIC_URL", _url, None)
    if upstream != "callback":
        if api_base is None or login_base is None:
            raise ConfigError("QC_REGION", f"QC_UPSTREAM={upstream} needs QC_REGION or QC_API_BASE and QC_LOGIN_BASE")
        if client_id is None:
            raise ConfigError("QC_CLIENT_ID", f"required with QC_UPSTREAM={upstream}")
        if client_secret is None:
            raise ConfigError("QC_CLIENT_SECRET", f"required with QC_UPSTREAM={upstream} (or QC_CLIENT_SECRET_FILE)")
        if upstream == "eventbus" and public_url is None:
            raise ConfigError("QC_PUBLIC_URL", "required with QC_UPSTREAM=eventbus (the callback to register)")
    return Settings(
        host=_get(env, "QC_HOST", str, "127.0.0.1"),
        port=_get(env, "QC_PORT", _int_range(0, 65535), 8080),
        demo=demo,
        callback_secret=secret,
        callback_api_key=api_key,
        callback_api_key_header=_get(env, "QC_CALLBACK_API_KEY_HEADER", str, "X-Api-Key"),
        max_body_bytes=_get(env, "QC_MAX_BODY_BYTES", _int_range(1024), 1024 * 1024),
        topics=topics,
        dedupe_horizon_s=_get(env, "QC_DEDUPE_HORIZON_S", _float_range(1.0), 900.0),
        dedupe_max_ids=_get(env, "QC_DEDUPE_MAX_IDS", _int_range(1), 100_000),
        aggregate_ms=_get(env, "QC_AGGREGATE_MS", _int_range(0, 60_000), 500),
        ring_size=_get(env, "QC_RING_SIZE", _int_range(1), 4096),
        ring_max_views=_get(env, "QC_RING_MAX_VIEWS", _int_range(1), 50_000),
        client_buffer=_get(env, "QC_CLIENT_BUFFER", _int_range(1), 16),
        client_stall_s=_get(env, "QC_CLIENT_STALL_S", _float_range(0.1), 30.0),
        max_clients=_get(env, "QC_MAX_CLIENTS", _int_range(1), 20_000),
        keepalive_s=_get(env, "QC_KEEPALIVE_S", _float_range(0.05), 15.0),
        retry_ms=_get(env, "QC_RETRY_MS", _int_range(0), 3000),
        cors_origins=origins,
        stale_after_s=_get(env, "QC_STALE_AFTER_S", _float_range(0.1), 120.0),
        log_level=_get(env, "QC_LOG_LEVEL", _log_level, "INFO"),
        upstream=upstream,  # type: ignore[arg-type]  # checked against the Literal's values above
        region=region,
        api_base=api_base,
        login_base=login_base,
        client_id=client_id,
        client_secret=client_secret,
        queues=_get(env, "QC_QUEUES", _csv, ()),
        public_url=public_url,
        token_grace_s=_get(env, "QC_TOKEN_GRACE_S", _float_range(0.0), 300.0),
        eventbus_cleanup=_get(env, "QC_EVENTBUS_CLEANUP", _bool, False),
        heartbeat_timeout_s=_get(env, "QC_HEARTBEAT_TIMEOUT_S", _float_range(0.1), 75.0),
    )


def _log_level(raw: str) -> str:
    value = raw.upper()
    if value not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
    return value
