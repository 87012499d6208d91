"""Event traces as JSONL: ``queuecast record`` captures them, ``queuecast replay`` plays them back.

- :mod:`bench.trace.format` — the line format, scrubbing, reading a trace;
- :mod:`bench.trace.recorder` — the callback receiver that writes one, and ``queuecast record``;
- :mod:`bench.trace.replayer` — posting one through a proxy's callback, and ``queuecast replay``;
- :mod:`bench.retime` (outside this package: standard library only, the Locust replay imports it) —
  moving a trace's times to the replay's clock.

The names below are re-exported so ``import bench.trace`` keeps working for the CLI and the tests.
"""

from __future__ import annotations

from bench.retime import TIME_KEYS, Retimer
from bench.trace.format import PERSONAL_KEYS, VERSION, read_trace, scrub
from bench.trace.recorder import Drive, Recorder, record, record_main
from bench.trace.replayer import ReplayStats, replay, replay_main

__all__ = ["PERSONAL_KEYS", "TIME_KEYS", "VERSION", "Drive", "Recorder", "ReplayStats", "Retimer", "read_trace",
           "record", "record_main", "replay", "replay_main", "scrub"]
