"""The chaos report as Markdown, and both forms written to ``chaos-<time>.{json,md}``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: Metric families shown in full (per proxy) at the end of the report.
FAMILIES = (
    "queuecast_events_total", "queuecast_callbacks_total", "queuecast_upstream_frames_total",
    "queuecast_upstream_events_total", "queuecast_platform_requests_total", "queuecast_platform_wait_capped_total",
    "queuecast_component_restarts_total", "queuecast_sse_starts_total", "queuecast_sse_disconnects_total",
)


def _fmt(values: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:+g}" for k, v in values.items()) or "—"


def _short(key: str) -> str:
    """``queuecast_events_total{outcome="duplicate"}`` → ``events{duplicate}``."""
    name, _, labels = key.partition("{")
    name = name.removeprefix("queuecast_").removesuffix("_total")
    values = [part.partition("=")[2].strip('"') for part in labels.rstrip("}").split(",") if part]
    return f"{name}{{{','.join(values)}}}" if values else name


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# queuecast chaos — seed {report['seed']}, {'PASSED' if report['ok'] else 'FAILED'}",
        "",
        f"`{report['command']}` — {report['durationS']:g} s of faults on a world at speed {report['speed']:g} "
        f"({report['queues']} queues at start), modes {' + '.join(report['modes'])}; settled in "
        f"{report['settleS']:g} s; {report['wallS']:g} s in all; started {report['startedAt']}.",
        "",
        "| check | result | detail |",
        "|---|---|---|",
    ]
    lines += [f"| {c['check']} | {'ok' if c['ok'] else '**FAILED**'} | {c['detail']} |" for c in report["checks"]]
    modes = report["modes"]
    lines += ["", "| fault | aims at | strikes | simulator counted | " + " | ".join(f"{m} proxy did" for m in modes)
              + " |", "|---|---|---|---|" + "---|" * len(modes)]
    for f in report["faults"]:
        window = f" ({f['windowS']:g} s)" if f["windowS"] else ""
        sim = ", ".join(f"{k} {v:+g}" for k, v in f["simulator"].items())
        did = " | ".join(_fmt({_short(k): v for k, v in f["proxy"].get(m, {}).items()}) for m in modes)
        lines.append(f"| `{f['fault']}`: {f['what']} | {f['target']} | {f['strikes']}{window} | {sim} | {did} |")
    lines += ["", "What each proxy did over the whole run (`/metrics` deltas):", ""]
    for mode, deltas in report["proxyDeltas"].items():
        shown = {_short(k): v for k, v in deltas.items() if k.split("{")[0] in FAMILIES}
        lines.append(f"- **{mode}**: {_fmt(shown)}")
    boards = report["boards"]
    lines += ["", "SSE clients: " + "; ".join(
        f"{m}: {b['connects']} connects, {b['snapshots']} snapshots, {b['deltas']} deltas, ends {b['ends'] or '{}'}"
        for m, b in boards.items())]
    if report.get("logFile"):
        lines += ["", f"Log lines (WARNING and above) of the proxies and the simulator: `{report['logFile']}`."]
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """``chaos-<startedAt>.json`` and ``.md`` in ``out_dir`` (and the same as ``chaos-latest.*``);
    returns the paths of the first two."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = report["startedAt"].replace("-", "").replace(":", "").replace("+0000", "Z").replace("+00:00", "Z")
    base = out_dir / f"chaos-{stamp}"
    paths = [base.with_suffix(".json"), base.with_suffix(".md")]
    text = json.dumps(report, indent=2, sort_keys=False) + "\n"
    for json_path, md_path in ((paths[0], paths[1]), (out_dir / "chaos-latest.json", out_dir / "chaos-latest.md")):
        json_path.write_text(text)
        md_path.write_text(markdown(report))
    return paths
