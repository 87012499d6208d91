"""The command line: flags, help, and a clean exit on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx
import pytest
import trio

from simulator.cli import build_parser, settings_from_args

FLAGS = (
    "--host",
    "--port",
    "--seed",
    "--speed",
    "--queues",
    "--agents",
    "--client-id",
    "--client-secret",
    "--token-ttl",
    "--rate-limit",
    "--heartbeat-s",
    "--callback-secret",
)


def test_help_lists_every_flag_of_the_issue(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    out = capsys.readouterr().out
    assert all(flag in out for flag in FLAGS)


def test_flags_map_onto_settings() -> None:
    args = build_parser().parse_args(
        [
            "--port",
            "0",
            "--seed",
            "9",
            "--speed",
            "4",
            "--queues",
            "7",
            "--agents",
            "70",
            "--client-id",
            "a",
            "--client-secret",
            "b",
            "--token-ttl",
            "300",
            "--rate-limit",
            "50",
            "--heartbeat-s",
            "5",
            "--callback-secret",
            "c",
        ]
    )
    s = settings_from_args(args)
    assert (
        s.seed,
        s.speed,
        s.queues,
        s.agents,
        s.client_id,
        s.client_secret,
        s.token_ttl_s,
        s.rate_limit_per_min,
        s.heartbeat_s,
        s.callback_secret,
    ) == (9, 4.0, 7, 70, "a", "b", 300, 50, 5.0, "c")


def test_message_shape_flags_map_onto_settings() -> None:
    defaults = settings_from_args(build_parser().parse_args([]))
    assert (defaults.routing_status_mode, defaults.agent_metric, defaults.interval_message_s) == (
        "whole",
        "oUserRoutingStatuses",
        5.0,
    )
    args = build_parser().parse_args(
        [
            "--message-shape",
            "real",
            "--routing-status-mode",
            "changed",
            "--agent-metric",
            "oOnQueueUsers",
            "--interval-message-s",
            "12.5",
        ]
    )
    s = settings_from_args(args)
    assert (s.message_shape, s.routing_status_mode, s.agent_metric, s.interval_message_s) == (
        "real",
        "changed",
        "oOnQueueUsers",
        12.5,
    )
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--message-shape", "whole-state"])


async def test_the_process_prints_its_url_and_client_id_and_exits_cleanly_on_sigterm() -> None:
    proc = await trio.lowlevel.open_process(
        [sys.executable, "-m", "simulator", "--port", "0", "--client-secret", "top-secret"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        with trio.fail_after(15):
            line = b""
            while not line.endswith(b"\n"):
                line += await proc.stdout.receive_some(1)
        text = line.decode()
        assert "queuecast-demo" in text and "top-secret" not in text
        url = text.split(" on ")[1].split(" ")[0]
        async with httpx.AsyncClient() as c:
            assert (await c.get(f"{url}/sim/stats")).status_code == 200
        proc.send_signal(signal.SIGTERM)
        with trio.fail_after(10):
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await proc.stdout.aclose()
        if proc.stderr is not None:
            await proc.stderr.aclose()
