"""What the calls return: the gateway's JSON answers as typed, frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

# A user id: a Django integer primary key or a string of 1-64 `[A-Za-z0-9_.:-]`.
UserId = Union[int, str]


@dataclass(frozen=True)
class NotificationSent:
    notification_id: str
    # At least one of the user's sockets received it (otherwise it waits in their mailbox).
    delivered: bool
    connection_count: int


@dataclass(frozen=True)
class MessageSent:
    message_id: str
    delivered: bool


@dataclass(frozen=True)
class FanoutSent:
    message_id: str
    # How many users it reached.
    recipients: int


@dataclass(frozen=True)
class UserStatus:
    user_id: str
    is_online: bool
    connection_count: int
    # ISO 8601, or None when never seen offline.
    last_seen: Optional[str]


@dataclass(frozen=True)
class OnlineUser:
    user_id: str
    connection_count: int
