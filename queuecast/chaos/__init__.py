"""``queuecast chaos``: the simulator with every fault mixed on a seeded schedule, the proxy (one per
upstream mode) on loopback, a real SSE client per proxy; at the end the board must equal the truth.

``plan.py`` (the catalogue and the schedule), ``board.py`` (the SSE client), ``promtext.py`` (metric
deltas), ``report.py`` (JSON + Markdown), ``run.py`` (the run and the command).
"""
