"""Drop-in for the original `users.services.user_online_service`: synchronous, as the original.

Each function also takes `client=` (default: realtime_gateway.default_client()).
"""

from __future__ import annotations

from datetime import datetime
from typing import List, Optional, Union

from .client import RealtimeClient, resolve
from .models import OnlineUser, UserId, UserStatus

__all__ = [
    "is_user_online",
    "get_user_connection_count",
    "get_all_online_users",
    "get_online_users",
    "get_user_status",
    "terminate_user_connections",
]


def is_user_online(user_id: UserId, *, client: Optional[RealtimeClient] = None) -> bool:
    """True while the user has a socket (and for PRESENCE_GRACE_MS after the last one closed);
    False for a user the gateway does not know."""
    return resolve(client).is_user_online(user_id)


def get_user_connection_count(user_id: UserId, *, client: Optional[RealtimeClient] = None) -> int:
    """Open sockets (tabs, devices) of the user; 0 for a user the gateway does not know."""
    return resolve(client).get_user_connection_count(user_id)


def get_all_online_users(*, client: Optional[RealtimeClient] = None) -> List[UserId]:
    """Ids of every online user, ordered as the gateway orders them (by id, as strings).
    Decimal ids come back as int (Django primary keys), others as str."""
    return resolve(client).get_all_online_users()


def get_online_users(*, client: Optional[RealtimeClient] = None) -> List[OnlineUser]:
    """Not in the original: every online user with their connection count."""
    return resolve(client).get_online_users()


def get_user_status(user_id: UserId, *, client: Optional[RealtimeClient] = None) -> UserStatus:
    """Not in the original: the full status; raises UserNotFound for an unknown user."""
    return resolve(client).get_user_status(user_id)


def terminate_user_connections(
    user_id: UserId,
    *,
    reason: Optional[str] = None,
    block_until: Optional[Union[datetime, str]] = None,
    client: Optional[RealtimeClient] = None,
) -> int:
    """Not in the original: close every socket of the user (4003 `terminated`), optionally
    refusing their upgrades until `block_until`; returns how many sockets closed."""
    return resolve(client).terminate_user_connections(user_id, reason=reason, block_until=block_until)
