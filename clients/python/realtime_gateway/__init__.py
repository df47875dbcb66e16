"""Python client for the realtime gateway.

    from realtime_gateway import user_messaging_service, user_online_service

replaces `from users.services import user_messaging_service, user_online_service` of the
original Django Channels system. Configuration: REALTIME_URL and REALTIME_API_KEY, or
`configure(url, api_key)`, or `client=RealtimeClient(...)` on any call.
"""

from . import user_messaging_service, user_online_service
from .client import RealtimeClient, configure, default_client
from .errors import (
    Forbidden,
    Internal,
    InvalidGroup,
    InvalidJson,
    InvalidResponse,
    MessageTooLarge,
    NetworkError,
    NotConfigured,
    NotFound,
    RateLimited,
    RealtimeError,
    RealtimeTimeout,
    Unauthorized,
    Unavailable,
    UserNotFound,
    ValidationFailed,
)
from .models import FanoutSent, MessageSent, NotificationSent, OnlineUser, UserId, UserStatus
from .webhooks import InvalidWebhookSignature, sign_webhook, verify_webhook_signature

__version__ = "0.1.0"

__all__ = [
    "user_messaging_service",
    "user_online_service",
    "RealtimeClient",
    "configure",
    "default_client",
    "RealtimeError",
    "ValidationFailed",
    "UserNotFound",
    "RateLimited",
    "Unavailable",
    "Unauthorized",
    "Forbidden",
    "InvalidGroup",
    "InvalidJson",
    "MessageTooLarge",
    "NotFound",
    "Internal",
    "RealtimeTimeout",
    "NetworkError",
    "InvalidResponse",
    "NotConfigured",
    "NotificationSent",
    "MessageSent",
    "FanoutSent",
    "OnlineUser",
    "UserStatus",
    "UserId",
    "InvalidWebhookSignature",
    "sign_webhook",
    "verify_webhook_signature",
]
