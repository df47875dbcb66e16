import { defineConfig } from "vitest/config";

// End to end: the local stack (wrangler dev + mirrors) started once by the global setup,
// driven by real `ws` clients over loopback.
export default defineConfig({
  test: {
    include: ["test/e2e/**/*.test.ts"],
    globalSetup: ["test/e2e/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // One wrangler dev for all files; files run one after another to keep the 2 cores for it.
    fileParallelism: false,
  },
});
