"""The interval clock: at each 30-minute boundary the board moves to the new statistics interval.

Interval messages for a new interval come only once something is counted in it, so a quiet queue
would show the last interval's figures for as long as it stays quiet. This component checks every
``check_s`` (1 s) which interval contains "now" — the wall clock, or the newest platform time when
that is ahead (``Ingestor.platform_now``; a sped-up simulator) — and when it changed, rolls every
queue that held the interval just ended over to zero figures (``Reducer.roll_over``) and
publishes them. Late messages for the old interval are ignored from then on (older than the one held).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import trio

from proxy.state.observation import interval_containing
from proxy.state.reducer import Reducer


async def run_interval_clock(reducer: Reducer, mark: Callable[[str, float], None], now: Callable[[], datetime], *,
                             check_s: float = 1.0,
                             task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Roll the board over at every interval boundary until cancelled (``mark`` is the aggregator's)."""
    current = interval_containing(now())
    task_status.started()
    while True:
        await trio.sleep(check_s)
        start, end = interval_containing(now())
        if start > current[0]:
            current = (start, end)
            for queue_id in reducer.roll_over(start, end):
                mark(queue_id, trio.current_time())
