"""RealtimeClient: the gateway's HTTP API (docs/http-api.md) over urllib, with timeouts and retries.

Retries: a 503 `unavailable` or 429 `rate_limited` answer, and a connection the gateway refused
(nothing was sent), are tried again up to `retries` times, waiting `backoff` seconds, then twice
that, and so on (capped at `max_backoff`); a Retry-After from the gateway is waited for instead
when it is longer. A timeout is retried only for GETs: a POST that timed out may have been
delivered, and sending it again would deliver it twice.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any, Callable, Dict, List, Optional, Tuple, Union
from urllib.parse import quote, urlsplit

from .errors import (
    InvalidResponse,
    NetworkError,
    NotConfigured,
    RealtimeError,
    RealtimeTimeout,
    ValidationFailed,
    error_for,
)
from .models import FanoutSent, MessageSent, NotificationSent, OnlineUser, UserId, UserStatus

DEFAULT_TIMEOUT = 10.0  # seconds, for one attempt
DEFAULT_RETRIES = 3  # attempts after the first
DEFAULT_BACKOFF = 0.25  # seconds before the first retry; doubles after each
DEFAULT_MAX_BACKOFF = 30.0  # seconds, the longest single wait (also caps Retry-After)
MAX_SAFE_INTEGER = 2**53 - 1  # larger integer ids do not survive JSON in JavaScript
RETRIED_STATUSES = frozenset({429, 503})

Body = Dict[str, Any]


def _user_path(user_id: UserId) -> str:
    if isinstance(user_id, bool) or not isinstance(user_id, (int, str)):
        raise ValidationFailed(
            "user_id: must be an integer or a string",
            status=400,
            details={"field": "user_id"},
        )
    if isinstance(user_id, int) and abs(user_id) > MAX_SAFE_INTEGER:
        raise ValidationFailed(
            "user_id: must be a safe integer (|n| <= 2^53 - 1); send larger ids as a string",
            status=400,
            details={"field": "user_id"},
        )
    return quote(str(user_id), safe="")


def _json_user_id(user_id: UserId) -> UserId:
    _user_path(user_id)
    return user_id


def _field(body: Body, key: str, kind: type) -> Any:
    value = body.get(key)
    # bool is an int in Python: a count must not be True.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidResponse(f"unexpected answer from the gateway: {key} is not a {kind.__name__}")
    if kind is int and value < 0:
        raise InvalidResponse(f"unexpected answer from the gateway: {key} is not a count")
    return value


def _retry_after_seconds(header: Optional[str], error: Any) -> Optional[float]:
    if isinstance(error, dict):
        ms = error.get("retry_after_ms")
        if isinstance(ms, (int, float)) and not isinstance(ms, bool) and ms >= 0:
            return ms / 1000.0
    if header is not None and header.strip().isdigit():
        return float(header.strip())
    return None


def _error_from_answer(status: int, reason: str, raw: bytes, retry_after: Optional[str]) -> RealtimeError:
    try:
        payload = json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, ValueError):
        payload = None
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("code"), str):
        return InvalidResponse(f"HTTP {status} {reason}".strip(), status=status)
    message = error.get("message") if isinstance(error.get("message"), str) else f"HTTP {status}"
    details = error.get("details") if isinstance(error.get("details"), dict) else None
    return error_for(
        error["code"],
        message,
        status=status,
        details=details,
        retry_after=_retry_after_seconds(retry_after, error),
    )


class RealtimeClient:
    """A client for one gateway.

    `url` is the gateway's origin (`https://realtime.example.com`; `/api/v1` is added), `api_key`
    its API_KEY (or a staff JWT). `timeout` is seconds per attempt, `retries` the attempts after
    the first for temporary failures (see the module's docstring), `backoff` the first wait in
    seconds. Misuse raises ValueError here, not on the first call.
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parts = urlsplit(url or "")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("RealtimeClient: url must be an absolute http(s) URL")
        if not isinstance(api_key, str) or not api_key:
            raise ValueError("RealtimeClient: api_key must be a non-empty string")
        if not timeout > 0:
            raise ValueError("RealtimeClient: timeout must be a positive number of seconds")
        if retries < 0 or backoff < 0 or max_backoff < 0:
            raise ValueError("RealtimeClient: retries, backoff and max_backoff must not be negative")
        self.url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self._root = f"{self.url}/api/v1"
        self._authorization = f"Bearer {api_key}"
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self._sleep = sleep

    def __repr__(self) -> str:
        # Never the key.
        return f"RealtimeClient(url={self.url!r}, timeout={self.timeout}, retries={self.retries})"

    # --- transport ----------------------------------------------------------------------------

    def _attempt(self, method: str, path: str, body: Optional[bytes]) -> Tuple[int, Body]:
        headers = {"Authorization": self._authorization, "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self._root + path, data=body, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
                status = response.status
        except urllib.error.HTTPError as answer:
            raw = answer.read()
            raise _error_from_answer(answer.code, answer.reason or "", raw, answer.headers.get("Retry-After"))
        except (TimeoutError, OSError, urllib.error.URLError) as failure:
            reason = getattr(failure, "reason", failure)
            if isinstance(reason, TimeoutError) or "timed out" in str(reason):
                raise RealtimeTimeout(f"no answer within {self.timeout} s") from failure
            error = NetworkError(f"request failed: {reason}")
            # Refused: nothing was sent, so any call may be tried again.
            error.details = {"refused": isinstance(reason, ConnectionRefusedError)}
            raise error from failure
        try:
            payload = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise InvalidResponse(f"HTTP {status}: the body is not JSON", status=status) from None
        if not isinstance(payload, dict):
            raise InvalidResponse(f"HTTP {status}: the body is not an object", status=status)
        return status, payload

    def _retryable(self, method: str, error: RealtimeError) -> bool:
        if error.status in RETRIED_STATUSES:
            return True
        if isinstance(error, NetworkError):
            return bool(error.details.get("refused")) or method == "GET"
        return isinstance(error, RealtimeTimeout) and method == "GET"

    def request(self, method: str, path: str, body: Optional[Body] = None) -> Body:
        """One API call with retries; `path` is under /api/v1. Raises RealtimeError."""
        data = None if body is None else json.dumps(body, allow_nan=False).encode("utf-8")
        wait = self.backoff
        for attempt in range(self.retries + 1):
            try:
                return self._attempt(method, path, data)[1]
            except RealtimeError as error:
                if attempt == self.retries or not self._retryable(method, error):
                    raise
                delay = max(wait, error.retry_after or 0.0)
                self._sleep(min(delay, self.max_backoff))
                wait *= 2
        raise AssertionError("unreachable")

    # --- user_messaging_service ---------------------------------------------------------------

    def send_notification_to_user(
        self, user_id: UserId, title: str, message: str, data: Any = None
    ) -> NotificationSent:
        body: Body = {"title": title, "message": message}
        if data is not None:
            body["data"] = data
        answer = self.request("POST", f"/users/{_user_path(user_id)}/notifications", body)
        return NotificationSent(
            notification_id=_field(answer, "notification_id", str),
            delivered=_field(answer, "delivered", bool),
            connection_count=_field(answer, "connection_count", int),
        )

    def send_message_to_user(
        self,
        from_user_id: UserId,
        target_user_id: UserId,
        message: str,
        message_type: Optional[str] = None,
    ) -> MessageSent:
        body: Body = {"from_user_id": _json_user_id(from_user_id), "message": message}
        if message_type is not None:
            body["message_type"] = message_type
        answer = self.request("POST", f"/users/{_user_path(target_user_id)}/messages", body)
        return MessageSent(
            message_id=_field(answer, "message_id", str),
            delivered=_field(answer, "delivered", bool),
        )

    def broadcast_system_message(self, message: str, message_type: Optional[str] = None) -> FanoutSent:
        body: Body = {"message": message}
        if message_type is not None:
            body["message_type"] = message_type
        answer = self.request("POST", "/broadcasts", body)
        return FanoutSent(
            message_id=_field(answer, "message_id", str),
            recipients=_field(answer, "recipients", int),
        )

    def send_to_group(self, group_name: str, message_type: str, data: Any) -> FanoutSent:
        path = f"/groups/{quote(str(group_name), safe='')}/messages"
        answer = self.request("POST", path, {"message_type": message_type, "data": data})
        return FanoutSent(
            message_id=_field(answer, "message_id", str),
            recipients=_field(answer, "recipients", int),
        )

    def terminate_user_connections(
        self,
        user_id: UserId,
        reason: Optional[str] = None,
        block_until: Optional[Union[datetime, str]] = None,
    ) -> int:
        """Close every socket of the user with 4003 `terminated` (DELETE .../connections) and
        return how many closed. `reason` is shown to the user in an error frame first;
        `block_until` (an aware datetime or an ISO 8601 string with a zone) refuses the user's
        upgrades with 403 until then, for revoked accounts."""
        body: Body = {}
        if reason is not None:
            body["reason"] = reason
        if isinstance(block_until, datetime):
            if block_until.tzinfo is None:
                raise ValueError("block_until must be timezone-aware")
            body["block_until"] = block_until.isoformat()
        elif block_until is not None:
            body["block_until"] = block_until
        answer = self.request("DELETE", f"/users/{_user_path(user_id)}/connections", body)
        return _field(answer, "closed", int)

    # --- user_online_service ------------------------------------------------------------------

    def get_user_status(self, user_id: UserId) -> UserStatus:
        """The full status; raises UserNotFound for a user the gateway does not know."""
        answer = self.request("GET", f"/users/{_user_path(user_id)}/status")
        last_seen = answer.get("last_seen")
        if last_seen is not None and not isinstance(last_seen, str):
            raise InvalidResponse("unexpected answer from the gateway: last_seen is not a string")
        return UserStatus(
            user_id=_field(answer, "user_id", str),
            is_online=_field(answer, "is_online", bool),
            connection_count=_field(answer, "connection_count", int),
            last_seen=last_seen,
        )

    def _status_or_none(self, user_id: UserId) -> Optional[UserStatus]:
        try:
            return self.get_user_status(user_id)
        except RealtimeError as error:
            if error.code == "user_not_found":
                return None
            raise

    def is_user_online(self, user_id: UserId) -> bool:
        """False for a user the gateway does not know (as the original service)."""
        status = self._status_or_none(user_id)
        return status.is_online if status else False

    def get_user_connection_count(self, user_id: UserId) -> int:
        """0 for a user the gateway does not know (as the original service)."""
        status = self._status_or_none(user_id)
        return status.connection_count if status else 0

    def get_online_users(self) -> List[OnlineUser]:
        """Every online user with their connection count, ordered by user id."""
        answer = self.request("GET", "/users/online")
        users = answer.get("users")
        if not isinstance(users, list):
            raise InvalidResponse("unexpected answer from the gateway: users is not a list")
        result = []
        for entry in users:
            if not isinstance(entry, dict):
                raise InvalidResponse("unexpected answer from the gateway: users[] is not an object")
            result.append(
                OnlineUser(
                    user_id=_field(entry, "user_id", str),
                    connection_count=_field(entry, "connection_count", int),
                )
            )
        return result

    def get_all_online_users(self) -> List[UserId]:
        """The ids of every online user, as the original: decimal ids (Django's integer primary
        keys, which simplejwt puts in tokens as numbers) come back as int, others as str."""
        return [_as_django_id(user.user_id) for user in self.get_online_users()]


def _as_django_id(user_id: str) -> UserId:
    # Only the canonical form: "007" or "+7" would not give the same string back.
    if user_id.isdigit() and user_id.isascii() and (user_id == "0" or not user_id.startswith("0")):
        number = int(user_id)
        if number <= MAX_SAFE_INTEGER:
            return number
    return user_id


# --- the default client ---------------------------------------------------------------------

_default_lock = threading.Lock()
_configured: Optional[RealtimeClient] = None
_from_env: Optional[Tuple[Tuple[str, str], RealtimeClient]] = None


def configure(
    url: Optional[str] = None,
    api_key: Optional[str] = None,
    *,
    client: Optional[RealtimeClient] = None,
    **options: Any,
) -> RealtimeClient:
    """Set the client the module functions use when not given `client=` (e.g. from Django
    settings). Without it they read REALTIME_URL and REALTIME_API_KEY from the environment."""
    global _configured
    chosen = client if client is not None else RealtimeClient(url or "", api_key or "", **options)
    with _default_lock:
        _configured = chosen
    return chosen


def default_client() -> RealtimeClient:
    """The configured client, else one built from REALTIME_URL / REALTIME_API_KEY (rebuilt when
    they change). Raises NotConfigured when neither is there."""
    global _from_env
    if _configured is not None:
        return _configured
    url = os.environ.get("REALTIME_URL", "")
    key = os.environ.get("REALTIME_API_KEY", "")
    if not url or not key:
        raise NotConfigured(
            "no realtime client: call realtime_gateway.configure(url, api_key), pass client=, "
            "or set REALTIME_URL and REALTIME_API_KEY"
        )
    with _default_lock:
        if _from_env is None or _from_env[0] != (url, key):
            _from_env = ((url, key), RealtimeClient(url, key))
        return _from_env[1]


def resolve(client: Optional[RealtimeClient]) -> RealtimeClient:
    return client if client is not None else default_client()
