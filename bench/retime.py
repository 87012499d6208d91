"""Moving a recorded trace's platform times to the replay's clock, intervals kept aligned.

Standard library only: ``queuecast replay`` (:mod:`bench.trace.replayer`) and the Locust replay
scenario (``scenarios/replay.py``, run from ``.venv-load``) share it.

Every time moves by one offset: envelope times (``timestamp``; EventBridge ``time``; the guide's
``observedAt``) and the ``start/end`` intervals of observation bodies, instants (``T/T``) and
30-minute statistics intervals alike. The offset is whole statistics intervals, the fewest that
bring the trace's first time to ``start`` or later (so it lands less than 30 minutes after
``start``): intervals stay aligned to the hour, and every message keeps the interval it was
recorded in. A partial shift would not: interval messages would name the interval before or after
their instants' one, and a proxy that rolls over by the clock (the newest platform time) ignores
figures of an interval it has already left. Times at or after ``start`` also keep a replay from
being dropped as stale by a proxy that saw live data up to now.

The spacing is kept, not divided by the replay speed: compressing it would collapse instants a few
ms apart onto the same millisecond, and a proxy drops equal times as stale.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

TIME_KEYS = frozenset({"observedAt", "timestamp", "time"})
"""Keys whose time values move by the offset."""
INTERVAL_KEY = "interval"
"""Key of an observation body's ``start/end`` interval."""
STATISTICS_INTERVAL = timedelta(minutes=30)


def iso(moment: datetime) -> str:
    """RFC 3339, UTC, milliseconds, ``Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _parse(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


class Retimer:
    """Returns a copy of a body with every time moved; one instance per pass over a trace.

    The offset is fixed by the first time seen. ``newest`` is the latest moved instant so far (an
    envelope time, or an instant ``T/T``; not the end of a statistics interval), so a following pass
    can start after it.
    """

    def __init__(self, start: datetime) -> None:
        self._start = start
        self._offset: timedelta | None = None
        self.newest: datetime | None = None

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for key, item in value.items():
                if key in TIME_KEYS and isinstance(item, str):
                    out[key] = self._move_time(item)
                elif key == INTERVAL_KEY and isinstance(item, str):
                    out[key] = self._move_interval(item)
                else:
                    out[key] = self(item)
            return out
        if isinstance(value, list):
            return [self(v) for v in value]
        return value

    def _move(self, moment: datetime, *, instant: bool = True) -> datetime:
        if self._offset is None:
            step = STATISTICS_INTERVAL // timedelta(microseconds=1)
            behind = (self._start - moment) // timedelta(microseconds=1)
            self._offset = STATISTICS_INTERVAL * -(-behind // step)  # ceiling, in whole intervals
        moved = moment + self._offset
        if instant and (self.newest is None or moved > self.newest):
            self.newest = moved
        return moved

    def _move_time(self, text: str) -> str:
        moment = _parse(text)
        return text if moment is None else iso(self._move(moment))

    def _move_interval(self, text: str) -> str:
        first, sep, second = text.partition("/")
        start, end = _parse(first), _parse(second)
        if not sep or start is None or end is None:
            return text
        if start == end:
            moved = iso(self._move(start))
            return f"{moved}/{moved}"
        return f"{iso(self._move(start, instant=False))}/{iso(self._move(end, instant=False))}"
