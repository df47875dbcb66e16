"""Timeouts, retries and backoff, and how answers become typed errors, against StubGateway."""

import asyncio
import os
import socket
import time
import unittest
from typing import List
from unittest import mock

from realtime_gateway import (
    InvalidResponse,
    NetworkError,
    NotConfigured,
    NotificationSent,
    RateLimited,
    RealtimeClient,
    RealtimeError,
    RealtimeTimeout,
    Unavailable,
    UserNotFound,
    ValidationFailed,
    default_client,
    user_messaging_service,
    user_online_service,
)

from .stub import StubGateway, answer, gateway_error

SENT = {"notification_id": "n-1", "delivered": True, "connection_count": 2}
STATUS = {"user_id": "42", "is_online": True, "connection_count": 2, "last_seen": None}


class Sleeps:
    """Records the waits instead of sleeping."""

    def __init__(self) -> None:
        self.waits: List[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def client(url: str, sleeps: Sleeps, **options: float) -> RealtimeClient:
    return RealtimeClient(url, "stub-key", sleep=sleeps, **options)  # type: ignore[arg-type]


class Retries(unittest.TestCase):
    def test_a_503_then_200_is_retried_once_and_returns_the_answer(self) -> None:
        sleeps = Sleeps()
        with StubGateway([gateway_error(503, "unavailable"), answer(200, SENT)]) as stub:
            sent = client(stub.url, sleeps, backoff=0.1).send_notification_to_user(42, "Hi", "there")
        self.assertEqual(sent, NotificationSent("n-1", True, 2))
        self.assertEqual(len(stub.requests), 2)
        self.assertEqual(sleeps.waits, [0.1])
        self.assertEqual(stub.requests[1]["path"], "/api/v1/users/42/notifications")
        self.assertEqual(stub.requests[1]["headers"]["Authorization"], "Bearer stub-key")

    def test_the_wait_doubles_after_each_503(self) -> None:
        sleeps = Sleeps()
        answers = [gateway_error(503, "unavailable")] * 3 + [answer(200, STATUS)]
        with StubGateway(answers) as stub:
            self.assertTrue(client(stub.url, sleeps, backoff=0.1).is_user_online(42))
        self.assertEqual(sleeps.waits, [0.1, 0.2, 0.4])

    def test_the_wait_is_capped_at_max_backoff(self) -> None:
        sleeps = Sleeps()
        answers = [gateway_error(503, "unavailable")] * 3 + [answer(200, STATUS)]
        with StubGateway(answers) as stub:
            client(stub.url, sleeps, backoff=1, max_backoff=1.5).get_user_status(42)
        self.assertEqual(sleeps.waits, [1, 1.5, 1.5])

    def test_gives_up_after_retries_with_the_gateways_error(self) -> None:
        sleeps = Sleeps()
        with StubGateway([gateway_error(503, "unavailable", "shard reset")] * 3) as stub:
            with self.assertRaises(Unavailable) as caught:
                client(stub.url, sleeps, retries=2, backoff=0.01).broadcast_system_message("hi")
        self.assertEqual(len(stub.requests), 3)
        error = caught.exception
        self.assertEqual((error.code, error.status, error.message), ("unavailable", 503, "shard reset"))
        self.assertTrue(error.temporary)

    def test_a_429_waits_for_retry_after(self) -> None:
        sleeps = Sleeps()
        answers = [answer(429, {"error": {"code": "rate_limited", "message": "slow down"}}, {"Retry-After": "2"}),
                   answer(200, {"message_id": "m", "recipients": 3})]
        with StubGateway(answers) as stub:
            sent = client(stub.url, sleeps, backoff=0.01).broadcast_system_message("hi")
        self.assertEqual(sent.recipients, 3)
        self.assertEqual(sleeps.waits, [2.0])

    def test_retry_after_ms_in_the_body_counts_too(self) -> None:
        sleeps = Sleeps()
        with StubGateway([gateway_error(429, "rate_limited", retry_after_ms=1500)] * 2) as stub:
            with self.assertRaises(RateLimited) as caught:
                client(stub.url, sleeps, retries=1, backoff=0.01).broadcast_system_message("hi")
        self.assertEqual(caught.exception.retry_after, 1.5)
        self.assertEqual(sleeps.waits, [1.5])

    def test_sleeps_for_real_by_default(self) -> None:
        with StubGateway([gateway_error(503, "unavailable"), answer(200, STATUS)]) as stub:
            started = time.monotonic()
            RealtimeClient(stub.url, "stub-key", backoff=0.2).get_user_status(42)
            self.assertGreaterEqual(time.monotonic() - started, 0.2)

    def test_other_errors_are_not_retried(self) -> None:
        sleeps = Sleeps()
        with StubGateway([gateway_error(400, "validation_failed", "message: is required", details={"field": "message"})]) as stub:
            with self.assertRaises(ValidationFailed) as caught:
                client(stub.url, sleeps).broadcast_system_message("")
        self.assertEqual(len(stub.requests), 1)
        self.assertEqual(caught.exception.details, {"field": "message"})
        self.assertFalse(caught.exception.temporary)
        self.assertEqual(sleeps.waits, [])


class WithoutAnAnswer(unittest.TestCase):
    def test_a_silent_gateway_fails_with_timeout_and_a_post_is_not_sent_twice(self) -> None:
        sleeps = Sleeps()
        with StubGateway([answer(200, SENT, stall=1.0)] * 2) as stub:
            started = time.monotonic()
            with self.assertRaises(RealtimeTimeout) as caught:
                client(stub.url, sleeps, timeout=0.2).send_notification_to_user(42, "Hi", "there")
            self.assertLess(time.monotonic() - started, 0.9)
            self.assertEqual(len(stub.requests), 1)
        self.assertEqual((caught.exception.code, caught.exception.status), ("timeout", 0))

    def test_a_get_that_timed_out_is_retried(self) -> None:
        sleeps = Sleeps()
        with StubGateway([answer(200, STATUS, stall=1.0), answer(200, STATUS)]) as stub:
            self.assertEqual(client(stub.url, sleeps, timeout=0.2, backoff=0.01).get_user_connection_count(42), 2)
            self.assertEqual(len(stub.requests), 2)

    def test_nothing_listening_is_a_network_error_after_retries(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        sleeps = Sleeps()
        with self.assertRaises(NetworkError) as caught:
            client(f"http://127.0.0.1:{port}", sleeps, retries=2, backoff=0.01).send_notification_to_user(1, "t", "m")
        self.assertEqual(caught.exception.code, "network_error")
        self.assertEqual(len(sleeps.waits), 2)

    def test_a_proxy_page_is_an_invalid_response(self) -> None:
        with StubGateway([answer(502, b"<html>Bad Gateway</html>")]) as stub:
            with self.assertRaises(InvalidResponse) as caught:
                client(stub.url, Sleeps()).get_all_online_users()
        self.assertEqual((caught.exception.code, caught.exception.status), ("invalid_response", 502))

    def test_a_200_with_the_wrong_shape_is_an_invalid_response(self) -> None:
        with StubGateway([answer(200, {"users": [{"user_id": 5, "connection_count": 1}]})]) as stub:
            with self.assertRaises(InvalidResponse):
                client(stub.url, Sleeps()).get_all_online_users()


class Configuration(unittest.TestCase):
    def test_module_functions_read_realtime_url_and_key_from_the_environment(self) -> None:
        with StubGateway([answer(200, SENT)]) as stub:
            with mock.patch.dict(os.environ, {"REALTIME_URL": stub.url, "REALTIME_API_KEY": "env-key"}):
                sent = asyncio.run(user_messaging_service.send_notification_to_user(user_id=7, title="t", message="m"))
        self.assertEqual(sent.notification_id, "n-1")
        self.assertEqual(stub.requests[0]["headers"]["Authorization"], "Bearer env-key")

    def test_without_configuration_a_call_raises_not_configured(self) -> None:
        with mock.patch.dict(os.environ, {"REALTIME_URL": "", "REALTIME_API_KEY": ""}):
            with self.assertRaises(NotConfigured) as caught:
                user_online_service.is_user_online(user_id=1)
            self.assertIsInstance(caught.exception, RealtimeError)
            with self.assertRaises(NotConfigured):
                default_client()

    def test_client_keyword_wins_over_the_environment(self) -> None:
        with StubGateway([gateway_error(404, "user_not_found", details={"user_id": "9"})]) as stub:
            explicit = RealtimeClient(stub.url, "explicit-key")
            with mock.patch.dict(os.environ, {"REALTIME_URL": "http://127.0.0.1:9", "REALTIME_API_KEY": "k"}):
                with self.assertRaises(UserNotFound) as caught:
                    user_messaging_service.send_notification_to_user_sync(user_id=9, title="t", message="m", client=explicit)
        self.assertEqual(caught.exception.details, {"user_id": "9"})
        self.assertEqual(stub.requests[0]["headers"]["Authorization"], "Bearer explicit-key")

    def test_misuse_is_refused_when_the_client_is_built(self) -> None:
        for url, key in [("", "k"), ("realtime.example.com", "k"), ("ftp://x", "k"), ("http://x", "")]:
            with self.subTest(url=url), self.assertRaises(ValueError):
                RealtimeClient(url, key)
        with self.assertRaises(ValueError):
            RealtimeClient("http://x", "k", timeout=0)

    def test_the_key_never_shows_in_repr(self) -> None:
        self.assertNotIn("secret-key", repr(RealtimeClient("http://x", "secret-key")))

    def test_integer_ids_beyond_2_53_are_refused_before_any_request(self) -> None:
        with StubGateway([]) as stub:
            with self.assertRaises(ValidationFailed) as caught:
                RealtimeClient(stub.url, "k").send_notification_to_user(2**53, "t", "m")
            self.assertEqual(stub.requests, [])
        self.assertEqual(caught.exception.details, {"field": "user_id"})


if __name__ == "__main__":
    unittest.main()
