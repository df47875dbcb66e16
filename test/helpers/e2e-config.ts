import { TEST_API_KEY, TEST_JWT_SECRET } from "./secrets.ts";

/** The gateway configuration every end-to-end run uses. */
export const E2E_VARS: Record<string, string> = {
  JWT_SECRET: TEST_JWT_SECRET,
  API_KEY: TEST_API_KEY,
  ALLOWED_ORIGINS: "http://allowed.test",
  MAX_CONNECTIONS_PER_USER: "20",
  PRESENCE_GRACE_MS: "300",
  // Small enough that overload.test.ts reaches it from a few senders (default 64); no other
  // test keeps more than a few direct messages of one user in flight.
  ACTOR_MAX_INFLIGHT: "8",
};
