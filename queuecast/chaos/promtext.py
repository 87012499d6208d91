"""Prometheus text exposition → ``{"name{labels}": value}``, and the deltas between two readings."""

from __future__ import annotations


def parse(text: str) -> dict[str, float]:
    """Samples of a ``/metrics`` body, keyed by ``name{labels}`` as exposed (``_created`` samples left out)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        if not key or "_created" in key.split("{")[0][-8:]:
            continue
        try:
            out[key] = float(value)
        except ValueError:
            continue
    return out


def deltas(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """What changed between two readings (counters and gauges alike), zero changes left out."""
    keys = sorted(set(before) | set(after))
    return {k: after.get(k, 0.0) - before.get(k, 0.0) for k in keys if after.get(k, 0.0) != before.get(k, 0.0)}


def matching(values: dict[str, float], prefix: str) -> dict[str, float]:
    """The entries of ``values`` whose key is ``prefix`` or starts with it (``name`` or ``name{label="x"``)."""
    bare = prefix.rstrip("}")
    return {k: v for k, v in values.items() if k == prefix or k.startswith(bare)}
