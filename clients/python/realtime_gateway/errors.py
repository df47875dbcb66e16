"""Typed errors: every failure of a call is a RealtimeError carrying the gateway's code.

`code` is the gateway's (docs/http-api.md: `validation_failed`, `user_not_found`, ...) or one
of the client's own: `timeout` (no answer in time), `network_error` (never reached the
gateway), `invalid_response` (something else answered), `not_configured` (no URL or key).
Each known code has a subclass, so `except UserNotFound:` and `err.code == "user_not_found"`
are the same test.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Type

# Codes after which the same call may succeed later (the client retries some of them itself).
TEMPORARY_CODES = frozenset({"rate_limited", "unavailable", "timeout", "network_error"})


class RealtimeError(Exception):
    """A call failed. `status` is the HTTP status, 0 when there was no answer."""

    code: str = "internal"

    def __init__(
        self,
        message: str,
        *,
        code: Optional[str] = None,
        status: int = 0,
        details: Optional[Dict[str, Any]] = None,
        retry_after: Optional[float] = None,
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.status = status
        self.details: Dict[str, Any] = details or {}
        # Seconds the gateway asked us to wait (Retry-After or retry_after_ms), if it did.
        self.retry_after = retry_after

    @property
    def temporary(self) -> bool:
        return self.code in TEMPORARY_CODES

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, status={self.status}, message={self.message!r})"


class InvalidJson(RealtimeError):
    code = "invalid_json"


class ValidationFailed(RealtimeError):
    """400: a field is missing or wrong; `details["field"]` names it."""

    code = "validation_failed"


class MessageTooLarge(RealtimeError):
    code = "message_too_large"


class InvalidGroup(RealtimeError):
    code = "invalid_group"


class Unauthorized(RealtimeError):
    """401: no key, a wrong key, or a bad token."""

    code = "unauthorized"


class Forbidden(RealtimeError):
    code = "forbidden"


class UserNotFound(RealtimeError):
    """404: the user never connected and is not in the application's users table."""

    code = "user_not_found"


class NotFound(RealtimeError):
    code = "not_found"


class RateLimited(RealtimeError):
    code = "rate_limited"


class Unavailable(RealtimeError):
    """503: an actor was overloaded or reset; retried by the client before it reaches you."""

    code = "unavailable"


class Internal(RealtimeError):
    code = "internal"


class RealtimeTimeout(RealtimeError):
    code = "timeout"


class NetworkError(RealtimeError):
    code = "network_error"


class InvalidResponse(RealtimeError):
    code = "invalid_response"


class NotConfigured(RealtimeError):
    """No client was given and REALTIME_URL / REALTIME_API_KEY are not set."""

    code = "not_configured"


_BY_CODE: Dict[str, Type[RealtimeError]] = {
    cls.code: cls
    for cls in (
        InvalidJson,
        ValidationFailed,
        MessageTooLarge,
        InvalidGroup,
        Unauthorized,
        Forbidden,
        UserNotFound,
        NotFound,
        RateLimited,
        Unavailable,
        Internal,
        RealtimeTimeout,
        NetworkError,
        InvalidResponse,
        NotConfigured,
    )
}


def error_for(
    code: str,
    message: str,
    *,
    status: int = 0,
    details: Optional[Dict[str, Any]] = None,
    retry_after: Optional[float] = None,
) -> RealtimeError:
    """The typed error for a code; an unknown code gives a plain RealtimeError with that code."""
    cls = _BY_CODE.get(code, RealtimeError)
    return cls(message, code=code, status=status, details=details, retry_after=retry_after)
