"""The proxy's one error hierarchy.

Foreign errors (httpx, msgspec, trio) are translated at the boundary with
``raise ... from exc`` so callers only ever catch these.
"""

from __future__ import annotations


class QueuecastError(Exception):
    """Base of every error the proxy raises on purpose."""


class ConfigError(QueuecastError):
    """A ``QC_*`` setting is missing or invalid. The message names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


class InvalidTopic(QueuecastError):
    """A topic allowlist entry is not an exact topic or ``{id}`` template (wildcards are refused)."""


class InvalidInput(QueuecastError):
    """Input from outside (a callback body, a WebSocket frame, a REST answer) failed validation.

    ``field`` is a JSON path such as ``$[2].payload.queueState.queueId``; ``problem`` says what is
    wrong. Every conversion from wire to typed values raises this and nothing else.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class Unauthorized(QueuecastError):
    """A viewer's token is missing or not acceptable (401). ``reason`` is safe to show: it never
    contains the token."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UpstreamError(QueuecastError):
    """The Genesys side answered with something we cannot use."""


class PlatformError(UpstreamError):
    """A platform API call failed: ``status`` is the HTTP status (0 when no answer came back)."""

    def __init__(self, message: str, *, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class AuthError(UpstreamError):
    """OAuth failed. ``fatal`` is true for ``invalid_client``: retrying cannot help."""

    def __init__(self, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal


class RateLimited(UpstreamError):
    """The platform answered 429; ``retry_after_s`` is how long to wait."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"rate limited, retry after {retry_after_s:g} s")
        self.retry_after_s = retry_after_s


class SubscriberClosed(QueuecastError):
    """A stream subscriber was closed; ``reason`` is ``"stalled"``, ``"shutdown"``, ..."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CrashLoop(QueuecastError):
    """A supervised component crashed too often: the process stops so its supervisor restarts it."""

    def __init__(self, component: str, crashes: int, window_s: float, last: BaseException) -> None:
        super().__init__(f"component {component!r} crashed {crashes} times in {window_s:g} s; "
                         f"last: {type(last).__name__}: {last}")
        self.component = component


class StoreUnavailable(QueuecastError):
    """Redis (the cluster's store) did not answer; the message never carries its URL or password."""
