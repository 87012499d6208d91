"""The cluster's store: one coredis client per process, the key names, and error translation.

Every Redis key of a cluster starts with ``QC_REDIS_PREFIX`` (several clusters may share one Redis).
The URL may hold a password: it lives in a :class:`~proxy.settings.Secret` and is revealed only to
coredis; :func:`redact` is what a log line may show. Scripts address keys they are given, plus the
``seen:`` keys derived from a prefix argument, so the store is a standalone Redis (or a primary with
replicas), not Redis Cluster.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import coredis
import coredis.exceptions
from coredis.response.types import StreamEntry

from proxy.errors import StoreUnavailable
from proxy.settings import Secret

T = TypeVar("T")
Redis = coredis.Redis[bytes]

#: How long one command may take before the store counts as unreachable (blocking reads add their block).
COMMAND_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class Keys:
    """Every key of one cluster (``prefix`` = ``QC_REDIS_PREFIX``)."""

    prefix: str

    def _k(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    @property
    def lease(self) -> str:
        """The leader lease: ``<owner>`` with a PX expiry."""
        return self._k("lease")

    @property
    def fence(self) -> str:
        """A counter incremented at every acquisition: the leader's fencing token."""
        return self._k("fence")

    @property
    def meta(self) -> str:
        """A hash: ``epoch``, ``seq`` and stream ``id`` of the newest frame, ``status``, ``cbid`` (callbacks done)."""
        return self._k("meta")

    @property
    def frames(self) -> str:
        """The frame stream (``XADD MAXLEN ~``): every instance reads it."""
        return self._k("frames")

    @property
    def views(self) -> str:
        """A hash queue id → view JSON: the snapshot of the newest frame."""
        return self._k("views")

    @property
    def callbacks(self) -> str:
        """The callback stream: accepted bodies on their way to the leader."""
        return self._k("callbacks")

    @property
    def seen(self) -> str:
        """Prefix of the dedupe keys (``seen:<event id>``, ``SET NX EX``)."""
        return self._k("seen:")


def redact(url: str) -> str:
    """The URL without its credentials (``redis://***@host:6379/0``), for a log line."""
    return re.sub(r"//[^/]*@", "//***@", url)  # greedy: up to the last @ of the authority


@asynccontextmanager
async def open_store(url: Secret) -> AsyncIterator[Redis]:
    """A coredis client for ``url`` (``redis://``, ``rediss://``, ``unix://``), closed on exit.

    Nothing is sent yet: an unreachable Redis shows up as :class:`StoreUnavailable` on the first call.
    """
    client: Redis = coredis.Redis.from_url(
        url.reveal(), stream_timeout=COMMAND_TIMEOUT_S, connect_timeout=COMMAND_TIMEOUT_S,
        retry_policy=coredis.retry.NoRetryPolicy(),
    )
    async with client:
        yield client


async def call(request: Awaitable[T]) -> T:
    """Await one coredis request, translating its failures to :class:`StoreUnavailable` (no URL inside)."""
    try:
        return await request
    except (coredis.exceptions.RedisError, OSError, TimeoutError) as exc:
        raise StoreUnavailable(f"redis: {type(exc).__name__}") from exc


async def script(redis: Redis, source: str, *, keys: Sequence[str], args: Sequence[str | bytes]) -> Any:
    """Run a Lua script (:mod:`proxy.cluster.scripts`); its answer is as loosely typed as Lua's."""
    return await call(redis.eval(source, keys=list(keys), args=list(args)))


def entry_fields(entry: StreamEntry) -> dict[bytes, bytes]:
    """A stream entry's fields (the client decodes nothing: keys and values are bytes)."""
    return {k if isinstance(k, bytes) else k.encode(): v if isinstance(v, bytes) else v.encode()
            for k, v in entry.field_values.items()}


def entry_id(entry: StreamEntry) -> bytes:
    ident = entry.identifier
    return ident if isinstance(ident, bytes) else ident.encode()
