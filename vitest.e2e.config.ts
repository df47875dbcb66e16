import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * The load tests run last: the overload test (DMs at several times what the gateway delivers),
 * the scale tests (720 users flipping online and offline within
 * seconds), the Postgres crowd (400) and the presence storm (2,000 sockets closing at once, on
 * its own gateway). After them the mirrors can still be catching up for a
 * moment, and a write that failed under the load (retried until done) makes `/health` say
 * `degraded` until it is; a test right after them asserting a healthy gateway would then fail
 * for a reason it is not about (seen once in CI: connect.test.ts "reports health" right after
 * scale.test.ts).
 */
const LOAD_TESTS = [
  "overload.test.ts",
  "scale.test.ts",
  "postgres-crowd.test.ts",
  "presence-storm.test.ts",
];
/**
 * The fuzz runs after everything: should it find a hole (say a string Postgres cannot store that
 * passed validation and now blocks a notification outbox), the stack it leaves behind must not
 * fail other files for a reason they are not about.
 */
const LAST = "fuzz.test.ts";

class LoadLast extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const isLoad = (file: TestSpecification) =>
      LOAD_TESTS.some((name) => file.moduleId.endsWith(`/${name}`));
    const isLast = (file: TestSpecification) => file.moduleId.endsWith(`/${LAST}`);
    return [
      ...sorted.filter((f) => !isLoad(f) && !isLast(f)),
      ...sorted.filter(isLoad),
      ...sorted.filter(isLast),
    ];
  }
}

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
    sequence: { sequencer: LoadLast },
  },
});
