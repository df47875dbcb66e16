import { defineConfig } from "vitest/config";

// Plain Node tests: the core (no cloudflare:* imports) and the dev stack against real Redis/Postgres.
export default defineConfig({
  test: {
    include: ["test/unit/**/*.test.ts", "test/dev/**/*.test.ts"],
    testTimeout: 20_000,
  },
});
