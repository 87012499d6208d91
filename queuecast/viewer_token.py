"""``queuecast viewer-token``: print a viewer token (HS256 JWT) for a wallboard, signed with QC_VIEWER_JWT_SECRET."""

from __future__ import annotations

import argparse
import os
import re
import sys
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit, urlunsplit

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_TTL_S = 366 * 86400


def parse_ttl(text: str) -> int:
    """``90s``, ``30m``, ``12h``, ``7d`` or plain seconds → seconds (1 s … 366 days)."""
    found = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text.lower())
    if not found:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 90s, 30m, 12h or 7d")
    seconds = int(found.group(1)) * _UNITS[found.group(2) or "s"]
    if not 1 <= seconds <= MAX_TTL_S:
        raise argparse.ArgumentTypeError("must be between 1 s and 366 days")
    return seconds


def parse_queues(text: str) -> list[str]:
    queues = [q.strip() for q in text.split(",") if q.strip()]
    if not queues:
        raise argparse.ArgumentTypeError('name at least one queue id, or "*" for every queue')
    if "*" in queues and len(queues) > 1:
        raise argparse.ArgumentTypeError('"*" (every queue) stands alone')
    return queues


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="queuecast viewer-token",
        description="Print a viewer token for a wallboard. With QC_VIEWER_JWT_SECRET set, the proxy's "
        "/dashboard-stream and /api/v1/queues answer 401 without a valid token and show only the token's "
        "queues with one. The token is an HS256 JWT signed with QC_VIEWER_JWT_SECRET (read from the "
        "environment, the same value as the proxy's), with the claims exp and queues. Give it to the "
        "wallboard as http://PROXY/?access_token=TOKEN (the page keeps it out of its address bar), or "
        "send it as 'Authorization: Bearer TOKEN' or the cookie qc_viewer. Anyone holding it sees those "
        "queues until it expires: there is no revocation short of changing QC_VIEWER_JWT_SECRET.",
        epilog="example: queuecast viewer-token --queues q-billing,q-sales --ttl 12h",
    )
    parser.add_argument("--queues", required=True, type=parse_queues,
                        help='comma-separated queue ids the viewer may see, or "*" for every queue')
    parser.add_argument("--ttl", default="12h", type=parse_ttl,
                        help="how long the token is valid: 90s, 30m, 12h, 7d (default 12h)")
    parser.add_argument("--url", help="print the wallboard URL with the token (e.g. https://wall.example.com/) "
                        "instead of the bare token")
    args = parser.parse_args(argv)

    from proxy.auth.viewer import ViewerGate
    from proxy.settings import MIN_VIEWER_SECRET_BYTES, Secret

    raw = os.environ.get("QC_VIEWER_JWT_SECRET", "").strip()
    if not raw:
        print("queuecast viewer-token: QC_VIEWER_JWT_SECRET is not set (the proxy's viewer key; "
              "make one with: openssl rand -hex 32)", file=sys.stderr)
        return 2
    if len(raw.encode()) < MIN_VIEWER_SECRET_BYTES:
        print(f"queuecast viewer-token: QC_VIEWER_JWT_SECRET must be at least {MIN_VIEWER_SECRET_BYTES} bytes "
              "for HS256", file=sys.stderr)
        return 2
    gate = ViewerGate(Secret(raw))
    token = gate.issue(args.queues, ttl_s=args.ttl)
    expires = datetime.fromtimestamp(gate.verify(token).expires_at, UTC).isoformat(timespec="seconds")
    if args.url:
        parts = urlsplit(args.url)
        query = "&".join(p for p in (parts.query, urlencode({"access_token": token})) if p)
        print(urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, parts.fragment)))
    else:
        print(token)
    print(f"queuecast viewer-token: valid until {expires} for {', '.join(args.queues)}", file=sys.stderr)
    return 0
