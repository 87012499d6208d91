"""OAuth client-credentials for the platform API: the token manager, the rate limiter and the ``httpx.Auth``."""
