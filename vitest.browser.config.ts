import { defineConfig } from "vitest/config";

// The demo page in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core),
// against the same local stack as the end-to-end tests.
export default defineConfig({
  test: {
    include: ["test/browser/**/*.test.ts"],
    globalSetup: ["test/e2e/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
