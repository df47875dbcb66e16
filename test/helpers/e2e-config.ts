import { TEST_API_KEY, TEST_JWT_SECRET } from "./secrets.ts";

/** The gateway configuration every end-to-end run uses. */
export const E2E_VARS: Record<string, string> = {
  JWT_SECRET: TEST_JWT_SECRET,
  API_KEY: TEST_API_KEY,
  ALLOWED_ORIGINS: "http://allowed.test",
  MAX_CONNECTIONS_PER_USER: "20",
  PRESENCE_GRACE_MS: "300",
};
