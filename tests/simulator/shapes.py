"""Every JSON shape the simulator produces, as the platform reference and DESIGN 3 define them.

One place: when the reference is corrected, the expected shape changes here. ``check(shape, value)``
raises ``AssertionError`` naming the path of the first mismatch. Objects are closed (no extra keys)
unless ``extra=True``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
STATUSES = ("IDLE", "INTERACTING", "COMMUNICATING", "NOT_RESPONDING", "OFF_QUEUE")


@dataclass(frozen=True)
class Obj:
    required: dict[str, Any]
    optional: dict[str, Any] = field(default_factory=dict)
    extra: bool = False


@dataclass(frozen=True)
class ListOf:
    item: Any
    min_len: int = 0


@dataclass(frozen=True)
class Nullable:
    inner: Any


@dataclass(frozen=True)
class Lit:
    value: Any


@dataclass(frozen=True)
class Pattern:
    regex: re.Pattern[str]


@dataclass(frozen=True)
class MapOf:
    value: Any


@dataclass(frozen=True)
class AnyOf:
    options: tuple[Any, ...]


class Count:
    """A non-negative integer."""


class Num:
    """A number (int or float, not bool)."""


ISO = Pattern(ISO_MS)
INSTANT_OR_30MIN = Pattern(re.compile(ISO_MS.pattern[:-1] + "/" + ISO_MS.pattern[1:]))


def check(shape: Any, value: Any, path: str = "$") -> None:
    if isinstance(shape, Obj):
        assert isinstance(value, dict), f"{path}: expected object, got {value!r}"
        missing = set(shape.required) - set(value)
        assert not missing, f"{path}: missing {sorted(missing)}"
        if not shape.extra:
            extra = set(value) - set(shape.required) - set(shape.optional)
            assert not extra, f"{path}: unexpected {sorted(extra)}"
        for key, sub in {**shape.required, **shape.optional}.items():
            if key in value:
                check(sub, value[key], f"{path}.{key}")
    elif isinstance(shape, ListOf):
        assert isinstance(value, list) and len(value) >= shape.min_len, f"{path}: expected list, got {value!r}"
        for i, item in enumerate(value):
            check(shape.item, item, f"{path}[{i}]")
    elif isinstance(shape, Nullable):
        if value is not None:
            check(shape.inner, value, path)
    elif isinstance(shape, Lit):
        assert value == shape.value, f"{path}: expected {shape.value!r}, got {value!r}"
    elif isinstance(shape, Pattern):
        assert isinstance(value, str) and shape.regex.match(value), f"{path}: {value!r} !~ {shape.regex.pattern}"
    elif isinstance(shape, MapOf):
        assert isinstance(value, dict), f"{path}: expected object"
        for k, v in value.items():
            check(shape.value, v, f"{path}.{k}")
    elif isinstance(shape, AnyOf):
        errors = []
        for option in shape.options:
            try:
                check(option, value, path)
                return
            except AssertionError as exc:
                errors.append(str(exc))
        raise AssertionError(f"{path}: matches no option: {errors}")
    elif shape is Count:
        assert isinstance(value, int) and not isinstance(value, bool) and value >= 0, f"{path}: not a count {value!r}"
    elif shape is Num:
        assert isinstance(value, int | float) and not isinstance(value, bool), f"{path}: not a number {value!r}"
    elif isinstance(shape, type):
        ok = isinstance(value, shape) and (shape is bool or not isinstance(value, bool))
        assert ok, f"{path}: expected {shape.__name__}"
    else:
        raise TypeError(f"bad shape at {path}: {shape!r}")


# --------------------------------------------------------------- OAuth (reference section 1)
TOKEN = Obj({"access_token": str, "token_type": Lit("bearer"), "expires_in": Count})
OAUTH_ERROR = Obj({"error": str}, {"description": str, "error_description": str})
ERROR_BODY = Obj(
    {"message": str, "code": str, "status": Count},
    {
        "entityId": str,
        "entityName": str,
        "messageWithParams": str,
        "messageParams": dict,
        "contextId": str,
        "details": list,
        "errors": list,
        "limit": dict,
    },
)

# --------------------------------------------------------------- Event Bus (DESIGN 3.1)
ROUTING_STATUSES = Obj(dict.fromkeys(STATUSES, Count))
QUEUE_STATE = Obj(
    {
        "queueId": str,
        "queueName": str,
        "mediaType": AnyOf((Lit("voice"), Lit("chat"))),
        "observedAt": ISO,
        "oWaiting": Count,
        "oInteracting": Count,
        "oAlerting": Count,
        "oLongestWaiting": Nullable(ISO),
        "oUserRoutingStatuses": ROUTING_STATUSES,
        "interval": Obj(
            {
                "start": ISO,
                "end": ISO,
                "nOffered": Count,
                "tAnswered": Obj({"count": Count, "sum": Count}),
                "tAbandon": Obj({"count": Count, "sum": Count}),
                "oServiceLevel": Obj({"numerator": Count, "denominator": Count, "target": Num}),
                "tHandle": Obj({"count": Count, "sum": Count}),
            }
        ),
    }
)
SUBSCRIPTION = Obj(
    {
        "id": str,
        "callbackUrl": str,
        "topics": ListOf(str, 1),
        "format": str,
        "retryIntervalSeconds": Num,
        "maxRetryAttempts": Count,
        "description": str,
    },
    extra=True,
)


# --------------------------------------------------------------- Notifications (reference sections 2, 3)
def _metric(name: str, stats: Obj) -> Obj:
    return Obj({"metric": Lit(name), "stats": stats})


COUNT_STATS = Obj({"count": Count})
MEDIA_OBSERVATION_BODY = Obj(
    {
        "group": Obj({"queueId": Pattern(UUID), "mediaType": str}),
        "data": ListOf(
            Obj(
                {
                    "interval": INSTANT_OR_30MIN,
                    "metrics": ListOf(
                        AnyOf(
                            (
                                _metric("oWaiting", COUNT_STATS),
                                _metric("oInteracting", COUNT_STATS),
                                _metric("oAlerting", COUNT_STATS),
                                _metric("oLongestWaiting", Obj({"count": Count}, {"calculatedMetricValue": Count})),
                                _metric("nOffered", COUNT_STATS),
                                _metric("tAnswered", Obj({"count": Count, "sum": Count})),
                                _metric("tAbandon", Obj({"count": Count, "sum": Count})),
                                _metric(
                                    "oServiceLevel",
                                    Obj({"ratio": Num, "numerator": Count, "denominator": Count, "target": Num}),
                                ),
                            )
                        ),
                        1,
                    ),
                }
            ),
            2,
        ),
    }
)
ROUTING_STATUS_METRIC = Obj(
    {
        "metric": Lit("oUserRoutingStatuses"),
        "qualifier": AnyOf(tuple(Lit(s) for s in STATUSES)),
        "stats": Obj({"count": Count}),
    }
)
AGENTS_OBSERVATION_BODY = Obj(
    {
        "group": Obj({"queueId": Pattern(UUID)}),
        "data": ListOf(Obj({"interval": INSTANT_OR_30MIN, "metrics": ListOf(ROUTING_STATUS_METRIC)}), 1),
    }
)
NOTIFICATION = Obj({"topicName": str, "version": Lit("2"), "eventBody": dict, "metadata": Obj({"CorrelationId": str})})
HEARTBEAT = Obj({"topicName": Lit("channel.metadata"), "eventBody": Obj({"message": Lit("WebSocket Heartbeat")})})
PONG = Obj({"topicName": Lit("channel.metadata"), "eventBody": Obj({"message": Lit("pong")})})
SYSTEM_MESSAGE_BODY = Obj(
    {"channelId": str},
    {
        "systemTopicType": str,
        "correlationId": str,
        "organizationId": str,
        "userId": str,
        "oauthClientId": str,
        "oauthClientOrgId": str,
        "reason": str,
        "message": str,
        "data": dict,
    },
)
CHANNEL = Obj({"id": str, "connectUri": Pattern(re.compile(r"^wss?://")), "expires": ISO})
CHANNEL_LIST = Obj({"entities": ListOf(CHANNEL)})
CHANNEL_TOPIC = Obj(
    {"id": str, "state": AnyOf((Lit("Permitted"), Lit("Rejected")))},
    {"rejectionReason": str, "missingPermissions": list, "selfUri": str},
)
CHANNEL_TOPIC_LISTING = Obj({"entities": ListOf(CHANNEL_TOPIC)})

# --------------------------------------------------------------- the real shape (reference: observation semantics)
ISO_HALF_HOUR = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:[03]0:00\.000Z$")
INSTANT = Pattern(re.compile(ISO_MS.pattern[:-1] + "/" + ISO_MS.pattern[1:]))
HALF_HOURS = Pattern(re.compile(ISO_HALF_HOUR.pattern[:-1] + "/" + ISO_HALF_HOUR.pattern[1:]))
DURATION_STATS = Obj({"max": Count, "min": Count, "count": Count, "sum": Count})
SERVICE_LEVEL_STATS = Obj({"ratio": Num, "numerator": Count, "denominator": Count, "target": Num})
REAL_INSTANT_BODY = Obj(
    {
        "group": Obj({"queueId": Pattern(UUID), "mediaType": str}),
        "data": ListOf(
            Obj(
                {
                    "interval": INSTANT,
                    "metrics": ListOf(
                        AnyOf(tuple(_metric(n, COUNT_STATS) for n in ("oAlerting", "oInteracting", "oWaiting"))), 1
                    ),
                }
            ),
            1,
        ),
    }
)
REAL_INTERVAL_METRIC = AnyOf(
    (
        *(
            _metric(n, DURATION_STATS)
            for n in ("tAlert", "tAnswered", "tAbandon", "tAcd", "tNotResponding", "tHandle", "tWait")
        ),
        _metric("nOffered", COUNT_STATS),
        _metric("oServiceLevel", SERVICE_LEVEL_STATS),
    )
)
REAL_INTERVAL_BODY = Obj(
    {
        "group": Obj({"queueId": Pattern(UUID), "mediaType": str}),
        "data": ListOf(Obj({"interval": HALF_HOURS, "metrics": ListOf(REAL_INTERVAL_METRIC, 1)}), 1),
    }
)
AGENT_COUNT_METRIC = Obj(
    {
        "metric": AnyOf((Lit("oUserRoutingStatuses"), Lit("oOnQueueUsers"), Lit("oOffQueueUsers"))),
        "qualifier": AnyOf(tuple(Lit(s) for s in STATUSES)),
        "stats": Obj({"count": Count}),
    }
)
REAL_AGENTS_BODY = Obj(
    {
        "group": Obj({"queueId": Pattern(UUID)}),
        "data": ListOf(Obj({"interval": INSTANT, "metrics": ListOf(AGENT_COUNT_METRIC, 1)}), 1),
    }
)
REAL_BODY = AnyOf((REAL_INSTANT_BODY, REAL_INTERVAL_BODY, REAL_AGENTS_BODY))

# --------------------------------------------------------------- EventBridge (DESIGN 3.2)
EVENTBRIDGE_ENVELOPE = Obj(
    {"version": Lit("0"), "id": str, "detail-type": str, "source": str, "time": str, "detail": NOTIFICATION},
    {"account": str, "region": str, "resources": list},
)
WHOLE_SECONDS = Pattern(re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"))
REAL_EVENTBRIDGE_ENVELOPE = Obj(
    {
        "version": Lit("0"),
        "id": str,
        "detail-type": Lit("v2.analytics.queues.{id}.observations"),
        "source": str,
        "time": WHOLE_SECONDS,
        "detail": NOTIFICATION,
    },
    {"account": str, "region": str, "resources": list},
)

# --------------------------------------------------------------- Analytics (reference section 4)
OBSERVATION_DETAIL = Obj({"observationDate": ISO}, extra=True)
OBS_METRIC = Obj(
    {"metric": str, "stats": COUNT_STATS},
    {"qualifier": str, "truncated": bool, "observations": ListOf(OBSERVATION_DETAIL)},
)
OBSERVATIONS_RESPONSE = Obj(
    {
        "results": ListOf(
            AnyOf(
                (
                    Obj({"group": Obj({"queueId": str}), "data": ListOf(OBS_METRIC)}),
                    Obj({"group": Obj({"queueId": str, "mediaType": str}), "data": ListOf(OBS_METRIC)}),
                )
            )
        )
    },
    {"systemToOrganizationMappings": dict},
)
AGGREGATES_RESPONSE = Obj(
    {
        "results": ListOf(
            Obj(
                {
                    "group": Obj({}, {"queueId": str, "mediaType": str}),
                    "data": ListOf(
                        Obj(
                            {
                                "interval": str,
                                "metrics": ListOf(
                                    AnyOf(
                                        (
                                            _metric("nOffered", COUNT_STATS),
                                            _metric("tAnswered", Obj({"count": Count, "sum": Count})),
                                            _metric("tAbandon", Obj({"count": Count, "sum": Count})),
                                            _metric(
                                                "tHandle",
                                                Obj({"count": Count, "sum": Count}, {"max": Count, "min": Count}),
                                            ),
                                            _metric(
                                                "oServiceLevel",
                                                Obj(
                                                    {
                                                        "ratio": Num,
                                                        "numerator": Count,
                                                        "denominator": Count,
                                                        "target": Num,
                                                    }
                                                ),
                                            ),
                                        )
                                    )
                                ),
                            }
                        )
                    ),
                }
            )
        )
    }
)
QUEUES_PAGE = Obj(
    {
        "entities": ListOf(
            Obj(
                {"id": Pattern(UUID), "name": str, "division": Obj({"id": Pattern(UUID), "name": str, "selfUri": str})},
                {"selfUri": str},
            )
        ),
        "pageNumber": Count,
        "pageSize": Count,
        "total": Count,
        "pageCount": Count,
    },
    extra=True,
)

# --------------------------------------------------------------- Truth (DESIGN 3.5 QueueView)
MEDIA_VIEW = Obj({"waiting": Count, "interacting": Count, "alerting": Count, "longestWaitingSince": Nullable(ISO)})
QUEUE_VIEW = Obj(
    {
        "queueId": str,
        "name": str,
        "division": str,
        "waiting": Count,
        "interacting": Count,
        "alerting": Count,
        "longestWaitingSince": Nullable(ISO),
        "media": MapOf(MEDIA_VIEW),
        "agents": ROUTING_STATUSES,
        "interval": Obj(
            {
                "start": ISO,
                "end": ISO,
                "offered": Count,
                "answered": Count,
                "abandoned": Count,
                "abandonRate": Nullable(Num),
                "asaMs": Nullable(Num),
                "handled": Count,
                "ahtMs": Nullable(Num),
                "serviceLevel": Nullable(Num),
                "serviceLevelNumerator": Count,
                "serviceLevelDenominator": Count,
                "serviceLevelTarget": Num,
            }
        ),
        "updatedAt": Nullable(ISO),
    }
)
TRUTH = Obj({"asOf": ISO, "queues": MapOf(QUEUE_VIEW)})
