"""The client against the real gateway (started by test/e2e/python-client.test.ts).

The e2e test opens two sockets as REALTIME_TEST_USER (an integer id, as Django's), joined to
REALTIME_TEST_GROUP, runs this file, then checks that those sockets received the frames sent
here (each carries REALTIME_TEST_MARK). Without REALTIME_URL these tests are skipped; the e2e
test fails if any is skipped.
"""

import asyncio
import os
import time
import unittest
import uuid
from datetime import datetime
from typing import Callable

from realtime_gateway import (
    FanoutSent,
    InvalidGroup,
    MessageSent,
    RealtimeClient,
    Unauthorized,
    UserNotFound,
    ValidationFailed,
    user_messaging_service,
    user_online_service,
)

URL = os.environ.get("REALTIME_URL", "")
USER = int(os.environ.get("REALTIME_TEST_USER", "0"))
GROUP = os.environ.get("REALTIME_TEST_GROUP", "")
MARK = os.environ.get("REALTIME_TEST_MARK", "")
# A user whose one socket the e2e test expects this suite to close (4003 terminated).
REVOKED = os.environ.get("REALTIME_TEST_REVOKED_USER", "")


def eventually(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    """Presence shards follow the users' actors through an outbox: poll for a moment."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def ghost() -> str:
    return f"py-ghost-{uuid.uuid4().hex[:12]}"


@unittest.skipUnless(URL and USER and GROUP and MARK, "needs the e2e gateway (REALTIME_URL, REALTIME_TEST_*)")
class UserOnlineServiceAgainstTheGateway(unittest.TestCase):
    def test_a_user_with_two_tabs_is_online_with_two_connections(self) -> None:
        self.assertIs(user_online_service.is_user_online(user_id=USER), True)
        self.assertEqual(user_online_service.get_user_connection_count(user_id=USER), 2)

    def test_get_all_online_users_lists_the_user_by_integer_id(self) -> None:
        self.assertTrue(eventually(lambda: USER in user_online_service.get_all_online_users()))
        counts = {u.user_id: u.connection_count for u in user_online_service.get_online_users()}
        self.assertEqual(counts.get(str(USER)), 2)

    def test_an_unknown_user_is_offline_with_no_connections(self) -> None:
        self.assertIs(user_online_service.is_user_online(user_id=ghost()), False)
        self.assertEqual(user_online_service.get_user_connection_count(user_id=ghost()), 0)
        with self.assertRaises(UserNotFound):
            user_online_service.get_user_status(user_id=ghost())


@unittest.skipUnless(URL and USER and GROUP and MARK, "needs the e2e gateway (REALTIME_URL, REALTIME_TEST_*)")
class UserMessagingServiceAgainstTheGateway(unittest.TestCase):
    def test_send_notification_to_user_reaches_both_tabs(self) -> None:
        sent = asyncio.run(
            user_messaging_service.send_notification_to_user(
                user_id=USER, title=f"Lab results {MARK}", message="Your results are ready", data={"report": 12}
            )
        )
        self.assertTrue(sent.notification_id)
        self.assertIs(sent.delivered, True)
        self.assertEqual(sent.connection_count, 2)

    def test_send_message_to_user_is_delivered(self) -> None:
        sent = asyncio.run(
            user_messaging_service.send_message_to_user(
                from_user_id=7, target_user_id=USER, message=f"See you at 10 {MARK}", message_type="direct_message"
            )
        )
        self.assertIsInstance(sent, MessageSent)
        self.assertIs(sent.delivered, True)

    def test_send_to_group_reaches_the_member(self) -> None:
        sent = user_messaging_service.send_to_group_sync(
            group_name=GROUP, message_type="consultation_update", data={"mark": MARK, "status": "started"}
        )
        self.assertEqual(sent.recipients, 1)

    def test_broadcast_system_message_reaches_online_users(self) -> None:
        sent = asyncio.run(
            user_messaging_service.broadcast_system_message(message=f"Maintenance {MARK}", message_type="maintenance_alert")
        )
        self.assertIsInstance(sent, FanoutSent)
        self.assertGreaterEqual(sent.recipients, 1)

    def test_the_async_functions_run_side_by_side(self) -> None:
        async def both() -> list:
            return await asyncio.gather(
                user_messaging_service.send_notification_to_user(user_id=USER, title=f"A {MARK}", message="one"),
                user_messaging_service.send_notification_to_user(user_id=USER, title=f"B {MARK}", message="two"),
            )

        self.assertEqual([s.delivered for s in asyncio.run(both())], [True, True])


@unittest.skipUnless(URL and REVOKED, "needs the e2e gateway (REALTIME_URL, REALTIME_TEST_REVOKED_USER)")
class TerminatingConnections(unittest.TestCase):
    def test_terminate_user_connections_closes_the_users_socket(self) -> None:
        closed = user_online_service.terminate_user_connections(user_id=REVOKED, reason=f"revoked {MARK}")
        self.assertEqual(closed, 1)

    def test_a_block_in_the_past_is_validation_failed_naming_block_until(self) -> None:
        with self.assertRaises(ValidationFailed) as caught:
            user_online_service.terminate_user_connections(user_id=ghost(), block_until="2000-01-01T00:00:00Z")
        self.assertEqual(caught.exception.details.get("field"), "block_until")

    def test_a_naive_datetime_is_refused_before_any_call(self) -> None:
        with self.assertRaises(ValueError):
            user_online_service.terminate_user_connections(user_id=ghost(), block_until=datetime(2030, 1, 1))


@unittest.skipUnless(URL and USER and GROUP and MARK, "needs the e2e gateway (REALTIME_URL, REALTIME_TEST_*)")
class ErrorsFromTheGateway(unittest.TestCase):
    def test_an_unknown_user_is_user_not_found_with_the_id(self) -> None:
        missing = ghost()
        with self.assertRaises(UserNotFound) as caught:
            user_messaging_service.send_notification_to_user_sync(user_id=missing, title="t", message="m")
        error = caught.exception
        self.assertEqual((error.code, error.status, error.details), ("user_not_found", 404, {"user_id": missing}))

    def test_a_too_long_message_is_validation_failed_naming_the_field(self) -> None:
        with self.assertRaises(ValidationFailed) as caught:
            user_messaging_service.broadcast_system_message_sync(message="x" * 8193)
        self.assertEqual((caught.exception.status, caught.exception.details.get("field")), (400, "message"))

    def test_a_bad_group_name_is_invalid_group(self) -> None:
        with self.assertRaises(InvalidGroup) as caught:
            user_messaging_service.send_to_group_sync(group_name="lobby_1", message_type="t", data={})
        self.assertEqual(caught.exception.code, "invalid_group")

    def test_a_wrong_key_is_unauthorized(self) -> None:
        wrong = RealtimeClient(URL, "wrong-key")
        with self.assertRaises(Unauthorized) as caught:
            user_online_service.get_all_online_users(client=wrong)
        self.assertEqual(caught.exception.status, 401)


if __name__ == "__main__":
    unittest.main()
