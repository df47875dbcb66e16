"""The drop-in promise: every call in the original system's guide (users.services, quoted
below with its keyword arguments) binds to this package's functions, async where the original
was async (awaited, or wrapped in async_to_sync) and sync where it was sync."""

import inspect
import unittest

from realtime_gateway import user_messaging_service, user_online_service

# (function, the keyword arguments the original guide passes)
ORIGINAL_ASYNC_CALLS = [
    ("send_notification_to_user", {"user_id": 1, "title": "t", "message": "m", "data": {"action": "show_popup"}}),
    ("send_notification_to_user", {"user_id": 1, "title": "t", "message": "m"}),
    ("send_message_to_user", {"from_user_id": 1, "target_user_id": 2, "message": "m", "message_type": "direct_message"}),
    ("broadcast_system_message", {"message": "m", "message_type": "maintenance_alert"}),
    ("send_to_group", {"group_name": "consultation_1", "message_type": "consultation_update", "data": {}}),
]
ORIGINAL_SYNC_CALLS = [
    ("is_user_online", {"user_id": 123}),
    ("get_user_connection_count", {"user_id": 123}),
    ("get_all_online_users", {}),
]


class TheOriginalCallsBind(unittest.TestCase):
    def test_messaging_functions_are_async_with_the_original_keywords_and_sync_twins(self) -> None:
        for name, kwargs in ORIGINAL_ASYNC_CALLS:
            with self.subTest(name=name, kwargs=sorted(kwargs)):
                function = getattr(user_messaging_service, name)
                self.assertTrue(inspect.iscoroutinefunction(function))
                inspect.signature(function).bind(**kwargs)
                twin = getattr(user_messaging_service, f"{name}_sync")
                self.assertFalse(inspect.iscoroutinefunction(twin))
                inspect.signature(twin).bind(**kwargs)

    def test_online_functions_are_sync_with_the_original_keywords(self) -> None:
        for name, kwargs in ORIGINAL_SYNC_CALLS:
            with self.subTest(name=name):
                function = getattr(user_online_service, name)
                self.assertFalse(inspect.iscoroutinefunction(function))
                inspect.signature(function).bind(**kwargs)

    def test_every_function_also_takes_a_client(self) -> None:
        for module in (user_messaging_service, user_online_service):
            for name in module.__all__:
                with self.subTest(name=name):
                    self.assertIn("client", inspect.signature(getattr(module, name)).parameters)


if __name__ == "__main__":
    unittest.main()
