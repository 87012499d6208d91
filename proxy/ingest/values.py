"""Total conversions from wire values to typed ones: every bad value is :class:`InvalidInput`.

One malformed number must never raise anything else (an ``OverflowError`` from
``datetime.fromtimestamp(1e300)`` once stopped the whole Notifications lane). Each function takes
the JSON path of the value, so the error names the field.

Bounds: counts up to :data:`MAX_COUNT`; durations and their sums up to :data:`MAX_MS`; instants
between :data:`EARLIEST` and :data:`LATEST` (a platform time outside them is not a time this
proxy can order, and ``+ 1 ms`` on a backfill stamp must never overflow).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Final

from proxy.errors import InvalidInput
from proxy.state.observation import FLOOR

MAX_COUNT: Final = 10**9
MAX_MS: Final = 2**53
#: Longest queue id accepted: the platform's are 36-character UUIDs; anything far longer is hostile
#: (a 200 KB id would otherwise sit on every board and in every snapshot).
MAX_ID: Final = 128
EARLIEST: Final = FLOOR
LATEST: Final = datetime(2100, 1, 1, tzinfo=UTC)
_EARLIEST_MS: Final = EARLIEST.timestamp() * 1000
_LATEST_MS: Final = LATEST.timestamp() * 1000


def queue_id(value: object, path: str, *, topic_queue: str | None = None) -> str:
    """A queue id: 1 to :data:`MAX_ID` characters, and the queue ``topic_queue`` when the message's
    topic names one (a body never speaks for another queue than its topic's)."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(path, "required (a queue id)")
    if len(value) > MAX_ID:
        raise InvalidInput(path, f"a queue id has at most {MAX_ID} characters")
    if topic_queue is not None and value != topic_queue:
        raise InvalidInput(path, "names another queue than the message's topic")
    return value


def _number(value: object, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(path, f"expected a number, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput(path, "expected a finite number")
    return float(value)


def count(value: object, path: str) -> int:
    """A non-negative whole count (``stats.count``, ``oWaiting``)."""
    number = _number(value, path)
    if number < 0 or number > MAX_COUNT or number != int(number):
        raise InvalidInput(path, f"expected a whole number from 0 to {MAX_COUNT}")
    return int(number)


def amount_ms(value: object, path: str) -> int:
    """A non-negative duration or sum of durations in ms (``stats.sum``)."""
    number = _number(value, path)
    if number < 0 or number > MAX_MS:
        raise InvalidInput(path, "expected a duration from 0 to 2^53 ms")
    return int(number)


def ratio(value: object, path: str) -> float:
    """A ratio in [0, 1] (``oServiceLevel.stats.target``)."""
    number = _number(value, path)
    if not 0.0 <= number <= 1.0:
        raise InvalidInput(path, "expected a ratio from 0 to 1")
    return number


def moment(value: datetime, path: str) -> datetime:
    """An aware instant within the orderable range."""
    if value.tzinfo is None:
        raise InvalidInput(path, "expected a time with a zone")
    if not EARLIEST <= value < LATEST:
        raise InvalidInput(path, f"time {value.isoformat()} is outside {EARLIEST.year}–{LATEST.year}")
    return value


def epoch_ms(value: object, path: str) -> datetime:
    """Epoch milliseconds as an instant (``oLongestWaiting.stats.calculatedMetricValue``)."""
    number = _number(value, path)
    if not _EARLIEST_MS <= number < _LATEST_MS:
        raise InvalidInput(path, f"epoch milliseconds outside {EARLIEST.year}–{LATEST.year}")
    return datetime.fromtimestamp(number / 1000.0, UTC)


def instant(text: str, path: str) -> datetime:
    """An RFC 3339 timestamp with a zone (``Z`` or an offset), as UTC."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(path, f"bad time {text!r}: {exc}") from None
    if parsed.tzinfo is None:
        raise InvalidInput(path, f"bad time {text!r}: no time zone")
    return moment(parsed.astimezone(UTC), path)


def interval(text: str, path: str) -> tuple[datetime, datetime]:
    """``<start>/<end>`` with start ≤ end."""
    start, sep, end = text.partition("/")
    if not sep:
        raise InvalidInput(path, f"bad interval {text!r}: expected '<start>/<end>'")
    first, last = instant(start, path), instant(end, path)
    if last < first:
        raise InvalidInput(path, f"bad interval {text!r}: ends before it starts")
    return first, last
