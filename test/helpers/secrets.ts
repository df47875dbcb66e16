/** Secrets used only by tests; never valid anywhere else. */
export const TEST_JWT_SECRET = "test-only-jwt-secret-0123456789abcdef";
export const TEST_API_KEY = "test-only-api-key-0123456789abcdef";
