"""Smoke of every Locust scenario: a few seconds with small numbers, run as a subprocess.

Locust is never imported here (its gevent monkeypatching breaks trio): ``scenarios.run`` starts
the proxy (and the simulator where needed) and ``.venv-load/bin/locust``; the test reads the CSV.
Without ``.venv-load`` the tests skip locally, and fail under ``CI=true``.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCUST = ROOT / ".venv-load" / "bin" / "locust"
SCENARIOS = ("call_wave", "dashboards", "token_expiry", "reconnect_storm", "replay")


@pytest.fixture(scope="module", autouse=True)
def _locust_venv() -> None:
    if not LOCUST.exists():
        reason = f"{LOCUST} missing: run 'make .venv-load/.installed' (Locust lives in its own venv)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario_runs_headless_without_failures(scenario: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "scenarios.run", "--scenario", scenario, "--users", "4", "--duration", "5s",
         "--results", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    output = proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.returncode == 0, output
    with (tmp_path / f"{scenario}_stats.csv").open() as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    total = rows["Aggregated"]
    assert int(total["Request Count"]) > 0, output
    assert int(total["Failure Count"]) == 0, output
    assert (tmp_path / f"{scenario}.html").exists()
