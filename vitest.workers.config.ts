import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { TEST_API_KEY, TEST_JWT_SECRET } from "./test/helpers/secrets.ts";

const BINDINGS = {
  JWT_SECRET: TEST_JWT_SECRET,
  API_KEY: TEST_API_KEY,
  MAX_CONNECTIONS_PER_USER: "5",
  PRESENCE_GRACE_MS: "0",
  MAILBOX_MAX: "10",
  PRESENCE_SHARDS: "4",
  PUBLIC_GROUP_PREFIXES: "team_",
};

/** Budgets small enough to reach in a test (docs/protocol.md, "Budgets"), kept to their own project. */
const SMALL_BUDGETS = {
  USER_BUDGET_PER_SECOND: "2",
  USER_BUDGET_BURST: "60",
  NEW_TARGETS_PER_MINUTE: "5",
};
const BUDGET_TESTS = "test/workers/budgets.test.ts";
/** A room limit small enough to cross with a few sockets. */
const SMALL_ROOMS = { ROOM_PRESENCE_MAX_MEMBERS: "3" };
const ROOM_PRESENCE_TESTS = "test/workers/room-presence.test.ts";

/** A fan-out bound small enough to need two levels of shards in a test, and the bench meter. */
const SMALL_FANOUT = {
  FANOUT_MAX_CALLS_PER_MESSAGE: "4",
  PRESENCE_SHARDS: "1",
  BENCH_METER: "true",
};
const FANOUT_TESTS = "test/workers/fanout.test.ts";

// Actor tests inside workerd: real sockets, hibernation, alarms and storage.
export default defineConfig({
  test: {
    testTimeout: 20_000,
    projects: [
      {
        extends: true,
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: { bindings: BINDINGS },
          }),
        ],
        test: {
          name: "workers",
          include: ["test/workers/**/*.test.ts"],
          exclude: [BUDGET_TESTS, ROOM_PRESENCE_TESTS, FANOUT_TESTS],
        },
      },
      {
        extends: true,
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: { bindings: { ...BINDINGS, ...SMALL_BUDGETS } },
          }),
        ],
        test: { name: "workers-budgets", include: [BUDGET_TESTS] },
      },
      {
        extends: true,
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: { bindings: { ...BINDINGS, ...SMALL_ROOMS } },
          }),
        ],
        test: { name: "workers-room-presence", include: [ROOM_PRESENCE_TESTS] },
      },
      {
        extends: true,
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: { bindings: { ...BINDINGS, ...SMALL_FANOUT } },
          }),
        ],
        test: { name: "workers-fanout", include: [FANOUT_TESTS] },
      },
    ],
  },
});
