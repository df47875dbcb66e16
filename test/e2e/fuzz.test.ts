/**
 * A short run of the black-box fuzzer (test/fuzz/fuzzer.ts; longer runs: `npm run fuzz`) against
 * the stack of the global setup: generated bad frames, HTTP requests and upgrades, while two
 * other users exchange direct messages. Each finding names its input, so a failure here reads as
 * a list of the gateway's answers that break docs/protocol.md.
 */
import { readFileSync } from "node:fs";
import { describe, expect, inject, it } from "vitest";
import { type FuzzReport, internalErrorLines, runFuzz, summarize } from "../fuzz/fuzzer.ts";
import { sleep } from "../helpers/frames.ts";
import { TEST_API_KEY } from "../helpers/secrets.ts";
import { mintToken } from "../helpers/tokens.ts";
import { gatewayUrl } from "./helpers.ts";

/**
 * The probe's median latency during the fuzz may be at most this multiple of the one before,
 * plus this many milliseconds: generous, because the fuzz shares the machine's two cores with
 * wrangler dev; a gateway that let one client's garbage stall others would exceed it by far.
 */
const PROBE_FACTOR = 5;
const PROBE_SLACK_MS = 250;
/** A fixed seed keeps CI reproducible; `npm run fuzz` runs new seeds. */
const SEED = 20261205;

describe("the gateway under a black-box fuzz", () => {
  let report: FuzzReport;
  let logDuringFuzz = "";

  it("answers every bad frame, request and upgrade with a typed error", async () => {
    const logFile = inject("gatewayLogFile");
    const logStart = readFileSync(logFile, "utf8").length;
    report = await runFuzz({
      gateway: gatewayUrl(),
      apiKey: TEST_API_KEY,
      mint: (userId) => mintToken(userId, { groups: ["group_fuzz"] }),
      frames: 700,
      requests: 300,
      seconds: 40,
      seed: SEED,
      runId: `fz-${Date.now().toString(36)}`,
    });
    // Let the last log lines reach the file.
    await sleep(500);
    logDuringFuzz = readFileSync(logFile, "utf8").slice(logStart);
    console.log(summarize(report));
    expect(report.framesSent).toBeGreaterThanOrEqual(500);
    expect(report.requestsSent).toBeGreaterThanOrEqual(200);
    expect(
      report.violations.filter((v) => v.kind !== "probe"),
      summarize(report),
    ).toEqual([]);
  }, 90_000);

  it("logs no internal error and no uncaught exception while fuzzed", () => {
    expect(internalErrorLines(logDuringFuzz)).toEqual([]);
  });

  it("keeps other users' direct messages flowing, at their usual latency", () => {
    const { beforeP50Ms, duringP50Ms, sent, received } = report.probe;
    expect(received).toBe(sent);
    expect(duringP50Ms).toBeLessThanOrEqual(beforeP50Ms * PROBE_FACTOR + PROBE_SLACK_MS);
  });

  it("still reports health afterwards", async () => {
    const response = await fetch(`${gatewayUrl()}/health`);
    expect(response.status).toBe(200);
  });
});
