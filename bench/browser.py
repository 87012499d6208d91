"""Headless Chromium for the bench, driven through Playwright's sync API.

Neither is a dependency of the bench: :func:`unavailable` says why there is no browser to drive, so
a figure that needs one is skipped with that reason instead of failing the run. Playwright's sync
API must not share a thread with an event loop, so a caller runs :func:`launch` and everything it
does with the browser in one worker thread (``trio.to_thread.run_sync``).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # an optional dependency (the "dev" extra), imported by launch() only when used
    from playwright.sync_api import Browser

#: Debian's Chromium, as in the browser tests; ``QC_CHROMIUM`` points elsewhere.
CHROMIUM = Path(os.environ.get("QC_CHROMIUM", "/usr/bin/chromium"))
#: The browser tests' flags (tests/browser/conftest.py): runs as root, and without Chromium's own
#: background networking, which nothing here needs.
LAUNCH_ARGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)


class BrowserUnavailable(RuntimeError):
    """There is no Chromium to drive here; the message says why (for a "skipped: ..." line)."""


def unavailable(chromium: Path = CHROMIUM) -> str | None:
    """Why a browser figure cannot be measured on this machine, or None if it can (launching may still fail)."""
    if not chromium.exists():
        return f"no Chromium at {chromium} (apt-get install chromium, or set QC_CHROMIUM)"
    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed (pip install -e '.[dev]')"
    return None


@contextmanager
def launch(chromium: Path = CHROMIUM) -> Iterator[Browser]:
    """A running headless Chromium, closed on exit. Call from one thread with no event loop running.

    Raises :class:`BrowserUnavailable` when :func:`unavailable` has a reason or Chromium does not start.
    """
    reason = unavailable(chromium)
    if reason is not None:
        raise BrowserUnavailable(reason)
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=str(chromium), args=list(LAUNCH_ARGS))
        except Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BrowserUnavailable(f"{chromium} did not start: {first}") from exc
        try:
            yield browser
        finally:
            browser.close()
