import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * The scale tests run last. Their 720 users flip online and offline within seconds, and on the
 * local stack the Postgres mirror writes that follow (one session each) take a while to drain;
 * a test right after them that needs Postgres (the user directory, the mirrors) could meet a
 * 503 `unavailable` or a mirror still catching up, which is correct behaviour under that load
 * but not what that test is about.
 */
class ScaleLast extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const isScale = (file: TestSpecification) => file.moduleId.endsWith("/scale.test.ts");
    return [...sorted.filter((f) => !isScale(f)), ...sorted.filter(isScale)];
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
    sequence: { sequencer: ScaleLast },
  },
});
