import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { TEST_API_KEY, TEST_JWT_SECRET } from "./test/helpers/secrets.ts";

// Actor tests inside workerd: real sockets, hibernation, alarms and storage.
export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          JWT_SECRET: TEST_JWT_SECRET,
          API_KEY: TEST_API_KEY,
          MAX_CONNECTIONS_PER_USER: "5",
          PRESENCE_GRACE_MS: "0",
          MAILBOX_MAX: "10",
          PRESENCE_SHARDS: "4",
          PUBLIC_GROUP_PREFIXES: "team_",
        },
      },
    }),
  ],
  test: {
    include: ["test/workers/**/*.test.ts"],
    testTimeout: 20_000,
  },
});
