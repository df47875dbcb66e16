"""Drop-in for the original `users.services.user_messaging_service`.

The same functions and keyword arguments; `async` like the originals (so
`await ...` and `async_to_sync(...)(...)` keep working), each with a `_sync` twin for plain
views. Every function also takes `client=` (default: realtime_gateway.default_client()).
The HTTP call runs in a worker thread (asyncio.to_thread), so the event loop is not blocked.
"""

from __future__ import annotations

import asyncio
from typing import Any, Optional

from .client import RealtimeClient, resolve
from .models import FanoutSent, MessageSent, NotificationSent, UserId

__all__ = [
    "send_notification_to_user",
    "send_notification_to_user_sync",
    "send_message_to_user",
    "send_message_to_user_sync",
    "broadcast_system_message",
    "broadcast_system_message_sync",
    "send_to_group",
    "send_to_group_sync",
]


def send_notification_to_user_sync(
    user_id: UserId,
    title: str,
    message: str,
    data: Any = None,
    *,
    client: Optional[RealtimeClient] = None,
) -> NotificationSent:
    """A `notification` frame to every socket of the user, kept in their mailbox while offline.
    `data` is any JSON value (default `{}`)."""
    return resolve(client).send_notification_to_user(user_id, title, message, data)


def send_message_to_user_sync(
    from_user_id: UserId,
    target_user_id: UserId,
    message: str,
    message_type: str = "chat_message",
    *,
    client: Optional[RealtimeClient] = None,
) -> MessageSent:
    """A `user_message` frame from `from_user_id` to every socket of `target_user_id`."""
    return resolve(client).send_message_to_user(from_user_id, target_user_id, message, message_type)


def broadcast_system_message_sync(
    message: str,
    message_type: str = "system_broadcast",
    *,
    client: Optional[RealtimeClient] = None,
) -> FanoutSent:
    """A `system_broadcast` frame to every user online now; `recipients` counts the users."""
    return resolve(client).broadcast_system_message(message, message_type)


def send_to_group_sync(
    group_name: str,
    message_type: str,
    data: Any,
    *,
    client: Optional[RealtimeClient] = None,
) -> FanoutSent:
    """A `group_message` frame to every socket in the group (and, for `consultation_{id}`, the
    consultation sockets of `{id}`)."""
    return resolve(client).send_to_group(group_name, message_type, data)


async def send_notification_to_user(
    user_id: UserId,
    title: str,
    message: str,
    data: Any = None,
    *,
    client: Optional[RealtimeClient] = None,
) -> NotificationSent:
    return await asyncio.to_thread(
        send_notification_to_user_sync, user_id, title, message, data, client=client
    )


async def send_message_to_user(
    from_user_id: UserId,
    target_user_id: UserId,
    message: str,
    message_type: str = "chat_message",
    *,
    client: Optional[RealtimeClient] = None,
) -> MessageSent:
    return await asyncio.to_thread(
        send_message_to_user_sync, from_user_id, target_user_id, message, message_type, client=client
    )


async def broadcast_system_message(
    message: str,
    message_type: str = "system_broadcast",
    *,
    client: Optional[RealtimeClient] = None,
) -> FanoutSent:
    return await asyncio.to_thread(broadcast_system_message_sync, message, message_type, client=client)


async def send_to_group(
    group_name: str,
    message_type: str,
    data: Any,
    *,
    client: Optional[RealtimeClient] = None,
) -> FanoutSent:
    return await asyncio.to_thread(send_to_group_sync, group_name, message_type, data, client=client)
