"""Writes one run's results: ``<stamp>.json``, ``<stamp>.md`` and ``<stamp>.png``, and the ``latest.*`` copies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: files only
import matplotlib.pyplot as plt

from bench.peer import markdown as peer_markdown
from bench.sustained import ceiling_markdown

Series = dict[str, list[float]]


def _fmt(summary: dict[str, Any] | None, keys: tuple[str, ...] = ("p50", "p99", "max")) -> str:
    if not summary or not summary.get("n"):
        return "-"
    return " / ".join(f"{summary[k]:.1f}" for k in keys) + " ms"


def markdown(results: dict[str, Any]) -> str:
    r = results
    out = [f"# queuecast benchmark — {r['started']}", "",
           f"Command: `{r['command']}`  ", f"Machine: {r['machine']}  ", f"Wall time: {r['wall_s']} s", ""]
    iso, echo = r.get("isolated"), r.get("echo")
    if iso:
        out += ["## Isolated event (callback sent → SSE frame at the client)", "",
                "| | p50 / p99 / max |", "|---|---|",
                f"| proxy, every listener ({iso['events']} events × {iso['listeners']} listeners) "
                f"| {_fmt(iso['latency_ms'])} |",
                f"| proxy, first listener | {_fmt(iso['first_listener_ms'])} |",
                f"| callback round trip (200 received) | {_fmt(iso['callback_rtt_ms'])} |"]
        if echo:
            out.append(f"| bare echo round trip (same harness) | {_fmt(echo['rtt_ms'])} |")
        out += ["", f"Missed frames: {iso['missed']}, failed callbacks: {iso['failed_callbacks']}. "
                "Target (DESIGN 7): p50 ≤ 2 ms, p99 ≤ 10 ms.", ""]
    ing = r.get("ingest")
    if ing:
        out += ["## Ingest ceiling (closed loop, p99 callback latency ≤ 50 ms)", "",
                "| | ceiling | at concurrency × batch | proxy CPU per request |", "|---|---|---|---|"]
        for key, label in (("single", "single-event callbacks/s"), ("batched", "events/s in batches")):
            if key in ing:
                c = ing[key]
                out.append(f"| {label} | {c['ceiling_per_s']:.0f} | {c['at_concurrency']} × {c.get('at_batch')} "
                           f"| {c['server_cpu_us_per_request']} µs |")
        if echo:
            t = echo["throughput"]
            out.append(f"| bare echo requests/s (yardstick) | {t['requests_per_s']:.0f} | {t['concurrency']} × 1 "
                       f"| {t['server_cpu_us_per_request']} µs |")
        out += ["", "Targets (DESIGN 7): ≥ 3,000 single-event callbacks/s, ≥ 20,000 events/s in batches.", ""]
    sus = r.get("sustained")
    if sus:
        out += [f"## Sustained: {sus['target_events_per_s']:.0f} events/s over {sus['queues']} queues, "
                f"{sus['clients']} SSE clients", "",
                f"Each client watches {sus['queues_per_client']} queues (`?queues=`); {sus['probes']} probe clients "
                f"watch all. Batches of {sus['batch']}, {sus['seconds']} s, window {sus['window_ms']} ms.", "",
                "| figure | value |", "|---|---|",
                f"| events sent / achieved rate | {sus['events_sent']} / {sus['achieved_events_per_s']:.0f} per s |",
                f"| delivery latency (newest observation in frame → receipt), p50/p99/max "
                f"| {_fmt(sus['delivery_latency_ms'])} |",
                f"| staleness (every event → visible at a probe), p50/p99/max | {_fmt(sus['staleness_ms'])} |",
                f"| publish → receipt (all clients), p50/p99/max | {_fmt(sus['publish_to_receipt_ms'])} |",
                f"| frames per client (mean) | {sus['frames_per_client']['mean']} |",
                f"| bytes per client (mean) | {sus['bytes_per_client']['mean']:,} |",
                f"| converged exactly | {sus['converged_clients']}/{sus['clients']} — {sus['convergence']} |",
                f"| proxy CPU / RSS peak | {sus['proxy_cpu_percent']} % of a core / {sus['proxy_rss_peak_mb']} MB |",
                f"| harness CPU | {sus['harness_cpu_percent']} % of a core |",
                "", f"Target (DESIGN 7): p99 staleness ≤ window + 50 ms = {sus['window_ms'] + 50} ms.", ""]
    board = r.get("wallboard")
    if board:
        out += _wallboard(board)
    fan = r.get("fanout")
    if fan:
        out += ["## Fan-out ceiling (~2 frames/s to every client)", "",
                f"Largest step held: **{fan['max_clients_held']} clients**, "
                f"{fan['rss_per_client_kb']} KB proxy RSS per connection (base {fan['base_rss_mb']} MB).", "",
                "| clients | connected | frames/s each | publish→receipt p50/p99 | RSS MB | KB/client | held |",
                "|---|---|---|---|---|---|---|"]
        for s in fan["steps"]:
            out.append(f"| {s['clients']} | {s['connected']} | {s['frames_per_client_per_s']} "
                       f"| {_fmt(s['publish_to_receipt_ms'], ('p50', 'p99'))} | {s['proxy_rss_mb']} "
                       f"| {s['rss_per_client_kb']} | {'yes' if s['held'] else 'no'} |")
        out += ["", "Target (DESIGN 7): 10,000 clients with ≤ 16 KB each.", ""]
    hostile = r.get("hostile")
    if hostile:
        c = hostile["crowd"]
        out += ["## Under attack (same proxy, same run: calm, then with a hostile crowd)", "",
                f"Crowd: {c['slow_heads']} slow request heads and {c['slow_bodies']} slow callback bodies "
                f"(a byte every {c['trickle_s']:g} s, reconnecting when cut), {c['stalled_streams']} streams "
                "that never read.", "",
                "| isolated event | calm | under attack | ratio |", "|---|---|---|---|",
                f"| p50 | {hostile['calm_ms']['p50']:.2f} ms | {hostile['attacked_ms']['p50']:.2f} ms "
                f"| {hostile['p50_ratio']} |",
                f"| p99 | {hostile['calm_ms']['p99']:.2f} ms | {hostile['attacked_ms']['p99']:.2f} ms "
                f"| {hostile['p99_ratio']} |",
                f"| failed callbacks / missed frames | {hostile['failed_callbacks']['calm']} / "
                f"{hostile['missed']['calm']} | {hostile['failed_callbacks']['attacked']} / "
                f"{hostile['missed']['attacked']} | |",
                f"| proxy RSS | {hostile['proxy_rss_mb']['calm']} MB "
                f"| {hostile['proxy_rss_mb']['attacked']} MB | |", ""]
    if r.get("ceiling"):
        out += ceiling_markdown(r["ceiling"])
    peer = r.get("peer")
    if peer:
        out += peer_markdown(peer)
    gate = r.get("gate")
    if gate:
        out += ["## Regression gate (same-run ratios vs bench/baseline.json)", "", "```", *gate["lines"], "```", ""]
    return "\n".join(out)


def _wallboard(b: dict[str, Any]) -> list[str]:
    title = "## Wallboard in headless Chromium (a wave through the proxy, QC_AGGREGATE_MS=0)"
    if "skipped" in b:
        return [title, "", f"Skipped: {b['skipped']}.", ""]
    if "failed" in b:
        return [title, "", f"FAILED: {b['failed']}", ""]
    rendered = (f"**{b['events_per_s']:.0f}**" if b["caught_up"]
                else f"did not catch up in {b['catch_up_ms']:.0f} ms")
    lt = b["long_tasks"]
    return [title, "",
            f"{b['offered_events_per_s']:.0f} events/s offered for {b['duration_s']} s over {b['queues']} queues × "
            f"{b['media']} media, batches of {b['batch']}, one board ({b['browser']}); proxy at nice "
            f"{b['proxy_niceness']}.", "",
            "| figure | value |", "|---|---|",
            f"| events/s rendered (acknowledged events ÷ wave start → board shows the final state) | {rendered} |",
            f"| events/s acknowledged by the proxy | {b['posted_events_per_s']:.0f} "
            f"({b['acked_events']}/{b['events']}, {b['failed_callbacks']} failed callbacks) |",
            f"| last callback answered → board shows the final state | {b['catch_up_ms']:.0f} ms |",
            f"| frames applied / render passes / animation frames | {b['frames_applied']} / {b['render_passes']} / "
            f"{b['animation_frames']} ({b['animation_frames_per_s']:.0f} per s) |",
            f"| animation frames with two render passes | {b['frames_with_two_passes']} |",
            f"| long tasks (count, longest) | {lt['count']}, {lt['max_ms']:.0f} ms |",
            f"| longest render pass | {b['max_pass_ms']:.1f} ms |",
            "", "Reported, not gated: an absolute figure of Chromium on a shared CPU, with no same-run yardstick.", ""]


def plot(path: Path, series: Series, title: str) -> None:
    """Latency CDFs (left) and latency over time (right)."""
    fig, (cdf, over) = plt.subplots(1, 2, figsize=(12, 4.5))
    for label in ("isolated", "echo", "delivery", "staleness"):
        values = sorted(series.get(label, []))
        if values:
            ys = [(i + 1) / len(values) for i in range(len(values))]
            cdf.plot([v * 1000 for v in values], ys, label=f"{label} (n={len(values)})")
    cdf.set_xscale("log")
    cdf.set_xlabel("latency (ms, log)")
    cdf.set_ylabel("fraction ≤ x")
    cdf.set_title("latency CDF")
    cdf.grid(True, which="both", alpha=0.3)
    cdf.legend(fontsize=8)
    for label, (xs_key, ys_key) in (("isolated", ("isolated_at", "isolated")),
                                    ("sustained delivery", ("delivery_at", "delivery"))):
        xs, ys = series.get(xs_key, []), series.get(ys_key, [])
        if xs and ys:
            over.plot(xs, [y * 1000 for y in ys], ".", markersize=2, label=label)
    over.set_yscale("log")
    over.set_xlabel("seconds since the section started")
    over.set_ylabel("latency (ms, log)")
    over.set_title("latency over time")
    over.grid(True, which="both", alpha=0.3)
    over.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write(results: dict[str, Any], series: Series, out_dir: Path, stamp: str, *, latest: bool) -> Path:
    """Write the three files; copy them to ``latest.*`` when ``latest``. Returns the JSON path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / f"{stamp}.json"
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    (out_dir / f"{stamp}.md").write_text(markdown(results))
    plot(out_dir / f"{stamp}.png", series, f"queuecast bench {results['started']}")
    if latest:
        for ext in ("json", "md", "png"):
            shutil.copyfile(out_dir / f"{stamp}.{ext}", out_dir / f"latest.{ext}")
    return json_path
