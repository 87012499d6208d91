"""``queuecast viewer-token`` as a real process: a token the proxy's gate accepts, clear errors, --help."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlsplit

from proxy.auth.viewer import ViewerGate
from proxy.settings import Secret

KEY = "cli-viewer-key-" + "c" * 32


def _run(*args: str, secret: str | None = KEY) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "QC_VIEWER_JWT_SECRET"}
    if secret is not None:
        env["QC_VIEWER_JWT_SECRET"] = secret
    return subprocess.run([sys.executable, "-m", "queuecast", "viewer-token", *args], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_it_prints_a_token_the_gate_accepts() -> None:
    done = _run("--queues", "q-a, q-b", "--ttl", "12h")
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    viewer = ViewerGate(Secret(KEY)).verify(token)
    assert viewer.queues == frozenset({"q-a", "q-b"})
    assert abs(viewer.expires_at - (time.time() + 12 * 3600)) < 60
    assert "valid until" in done.stderr and token not in done.stderr
    everyone = _run("--queues", "*", "--ttl", "90", "--url", "https://wall.example.com/?layout=tiles")
    url = urlsplit(everyone.stdout.strip())
    query = parse_qs(url.query)
    assert query["layout"] == ["tiles"]
    assert ViewerGate(Secret(KEY)).verify(query["access_token"][0]).queues is None


def test_without_the_secret_or_with_bad_options_it_says_what_is_wrong() -> None:
    missing = _run("--queues", "q-a", secret=None)
    assert missing.returncode == 2 and "QC_VIEWER_JWT_SECRET is not set" in missing.stderr and not missing.stdout
    short = _run("--queues", "q-a", secret="short-secret")
    assert short.returncode == 2 and "at least 32 bytes" in short.stderr and "short-secret" not in short.stderr
    bad_ttl = _run("--queues", "q-a", "--ttl", "soon")
    assert bad_ttl.returncode == 2 and "--ttl" in bad_ttl.stderr
    mixed = _run("--queues", "*,q-a")
    assert mixed.returncode == 2 and "stands alone" in mixed.stderr


def test_help_explains_the_token() -> None:
    done = _run("--help", secret=None)
    assert done.returncode == 0
    for words in ("QC_VIEWER_JWT_SECRET", "access_token", "Bearer", "qc_viewer", "--ttl", "--queues"):
        assert words in done.stdout
