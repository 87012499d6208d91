"""The cluster's token, shared through Redis (:class:`~proxy.auth.token.TokenStore`).

Holds the bearer token and its wall-clock issue and expiry times in ``<prefix>:token`` (expiring with
the token) and a refresh lock in ``<prefix>:token-lock`` (``SET NX PX``, released only by its holder), so a
new leader adopts the token its predecessor had instead of asking the platform again, and one token
request is made per cluster per refresh. The client secret is never stored.
"""

from __future__ import annotations

import secrets

from coredis.tokens import PureToken

from proxy.cluster.scripts import RELEASE
from proxy.cluster.store import Keys, Redis, call, script

#: KEYS token; ARGV value, issued, expires, ttl_ms: the token and its times, expiring with it.
SAVE_TOKEN = """
redis.call('HSET', KEYS[1], 'value', ARGV[1], 'issued', ARGV[2], 'expires', ARGV[3])
return redis.call('PEXPIRE', KEYS[1], ARGV[4])
"""


class RedisTokenStore:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._key = f"{keys.prefix}:token"
        self._lock_key = f"{keys.prefix}:token-lock"
        self._owner = secrets.token_hex(8)

    async def load(self) -> tuple[str, float, float] | None:
        found = await call(self._redis.hmget(self._key, ["value", "issued", "expires"]))
        if any(v is None for v in found):
            return None
        value, issued, expires = (v.decode() if isinstance(v, bytes) else str(v) for v in found)
        return value, float(issued), float(expires)

    async def save(self, value: str, issued_at: float, expires_at: float) -> None:
        ttl_ms = int((expires_at - issued_at) * 1000)
        if ttl_ms > 0:
            await script(self._redis, SAVE_TOKEN, keys=[self._key],
                         args=[value, repr(issued_at), repr(expires_at), str(ttl_ms)])

    async def lock(self, ttl_s: float) -> bool:
        return bool(await call(self._redis.set(self._lock_key, self._owner, condition=PureToken.NX,
                                               px=int(ttl_s * 1000))))

    async def unlock(self) -> None:
        await script(self._redis, RELEASE, keys=[self._lock_key], args=[self._owner])
