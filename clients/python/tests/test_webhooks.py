"""verify_webhook_signature against signatures computed here with hmac (the gateway side of
webhooks is not built yet), plus one fixed vector computed independently with openssl:
printf '1700000000.{"events":[]}' | openssl dgst -sha256 -hmac whsec_test
"""

import hashlib
import hmac
import unittest

from realtime_gateway import InvalidWebhookSignature, RealtimeError, sign_webhook, verify_webhook_signature

SECRET = "whsec_test"
BODY = b'{"events":[]}'
T = 1_700_000_000
OPENSSL_V1 = "4f6f9b7a41398ad124e52a1320534f978e522923f3f2b2724e31d7a9dbf78a7f"


def signature(body: bytes, secret: str, t: int) -> str:
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


class VerifyWebhookSignature(unittest.TestCase):
    def test_accepts_a_signature_made_with_the_secret(self) -> None:
        header = f"t={T},v1={signature(BODY, SECRET, T)}"
        self.assertTrue(verify_webhook_signature(BODY, header, SECRET, now=T + 10))

    def test_matches_a_vector_computed_with_openssl(self) -> None:
        self.assertEqual(signature(BODY, SECRET, T), OPENSSL_V1)
        self.assertEqual(sign_webhook(BODY, SECRET, T), f"t={T},v1={OPENSSL_V1}")

    def test_uses_the_clock_by_default(self) -> None:
        import time

        now = int(time.time())
        self.assertTrue(verify_webhook_signature(BODY, sign_webhook(BODY, SECRET, now), SECRET))

    def test_refuses_a_changed_body(self) -> None:
        header = f"t={T},v1={signature(BODY, SECRET, T)}"
        with self.assertRaises(InvalidWebhookSignature) as caught:
            verify_webhook_signature(b'{"events":[{}]}', header, SECRET, now=T)
        self.assertEqual(caught.exception.code, "invalid_signature")
        self.assertIsInstance(caught.exception, RealtimeError)

    def test_refuses_another_secret(self) -> None:
        header = f"t={T},v1={signature(BODY, 'other', T)}"
        with self.assertRaises(InvalidWebhookSignature):
            verify_webhook_signature(BODY, header, SECRET, now=T)

    def test_refuses_a_timestamp_outside_the_tolerance(self) -> None:
        header = f"t={T},v1={signature(BODY, SECRET, T)}"
        self.assertTrue(verify_webhook_signature(BODY, header, SECRET, now=T + 300))
        with self.assertRaises(InvalidWebhookSignature):
            verify_webhook_signature(BODY, header, SECRET, now=T + 301)
        with self.assertRaises(InvalidWebhookSignature):
            verify_webhook_signature(BODY, header, SECRET, now=T - 301)
        self.assertTrue(verify_webhook_signature(BODY, header, SECRET, tolerance=600, now=T + 600))

    def test_refuses_a_timestamp_moved_without_resigning(self) -> None:
        header = f"t={T + 5},v1={signature(BODY, SECRET, T)}"
        with self.assertRaises(InvalidWebhookSignature):
            verify_webhook_signature(BODY, header, SECRET, now=T)

    def test_accepts_any_matching_v1_during_a_secret_rotation(self) -> None:
        header = f"t={T},v1={signature(BODY, 'old', T)},v1={signature(BODY, SECRET, T)}"
        self.assertTrue(verify_webhook_signature(BODY, header, SECRET, now=T))

    def test_refuses_missing_or_malformed_headers(self) -> None:
        good = signature(BODY, SECRET, T)
        for header in [None, "", f"v1={good}", f"t={T}", f"t=abc,v1={good}", f"t={T};v1={good}",
                       f"t={T},t={T},v1={good}", f"t={T},v1={good.upper()}"]:
            with self.subTest(header=header), self.assertRaises(InvalidWebhookSignature):
                verify_webhook_signature(BODY, header, SECRET, now=T)

    def test_wants_the_raw_body_and_a_secret(self) -> None:
        header = f"t={T},v1={signature(BODY, SECRET, T)}"
        with self.assertRaises(TypeError):
            verify_webhook_signature(BODY.decode(), header, SECRET, now=T)  # type: ignore[arg-type]
        with self.assertRaises(ValueError):
            verify_webhook_signature(BODY, header, "", now=T)


if __name__ == "__main__":
    unittest.main()
