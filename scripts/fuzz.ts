// npm run fuzz [-- --frames N] [--requests N] [--seconds S] [--seed N] [--sockets N]
//                 [--url URL --secret JWT_SECRET --api-key API_KEY]
//
// The black-box fuzzer (test/fuzz/fuzzer.ts) for longer runs than the one in `npm test`
// (test/e2e/fuzz.test.ts). Without --url it starts its own local stack (dev/local-stack.ts:
// wrangler dev, embedded Postgres, the Redis mirror when a Redis answers) and also checks the
// gateway's log for `internal` errors and uncaught exceptions. Exit code 1 on any finding.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { SignJWT } from "jose";
import { type LocalStack, startLocalStack } from "../dev/local-stack.ts";
import { internalErrorLines, runFuzz, summarize } from "../test/fuzz/fuzzer.ts";

const USAGE = `usage: npm run fuzz -- [options]
  --frames N        socket frames to send (default 5000)
  --requests N      HTTP requests to send (default 2000)
  --seconds S       stop after S seconds even if inputs are left (default 300)
  --sockets N       fuzzing sockets in parallel (default 8)
  --seed N          replay a run (printed at the start of each run)
  --url URL         fuzz a running gateway instead of starting one (needs --secret, --api-key)
  --secret S        its JWT_SECRET (or env FUZZ_JWT_SECRET)
  --api-key K       its API_KEY (or env FUZZ_API_KEY)`;

const { values } = parseArgs({
  options: {
    frames: { type: "string", default: "5000" },
    requests: { type: "string", default: "2000" },
    seconds: { type: "string", default: "300" },
    sockets: { type: "string", default: "8" },
    seed: { type: "string" },
    url: { type: "string" },
    secret: { type: "string", default: process.env.FUZZ_JWT_SECRET },
    "api-key": { type: "string", default: process.env.FUZZ_API_KEY },
    help: { type: "boolean", default: false },
  },
  strict: true,
});
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const number = (name: string, value: string | undefined): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`--${name} must be a whole number\n${USAGE}\n`);
    process.exit(2);
  }
  return n;
};

async function main(): Promise<number> {
  let gateway = values.url;
  let secret = values.secret;
  let apiKey = values["api-key"];
  let stack: LocalStack | undefined;
  let dataDir: string | undefined;
  let log = "";
  if (gateway === undefined) {
    secret = randomBytes(32).toString("hex");
    apiKey = randomBytes(24).toString("hex");
    dataDir = mkdtempSync(join(tmpdir(), "gateway-fuzz-"));
    process.stdout.write(`starting a local stack in ${dataDir}\n`);
    stack = await startLocalStack({
      dataDir,
      port: 0,
      devVars: {},
      env: {},
      vars: { JWT_SECRET: secret, API_KEY: apiKey },
      onWranglerOutput: (line) => {
        log += `${line}\n`;
      },
    });
    gateway = stack.url;
  } else if (!secret || !apiKey) {
    process.stderr.write(`--url needs --secret and --api-key\n${USAGE}\n`);
    return 2;
  }
  const key = new TextEncoder().encode(secret);
  try {
    const logStart = log.length;
    const report = await runFuzz({
      gateway,
      apiKey: apiKey as string,
      mint: (userId) =>
        new SignJWT({ user_id: userId, username: userId, groups: ["group_fuzz"] })
          .setProtectedHeader({ alg: "HS256" })
          .setExpirationTime("2h")
          .sign(key),
      frames: number("frames", values.frames),
      requests: number("requests", values.requests),
      seconds: number("seconds", values.seconds),
      sockets: number("sockets", values.sockets),
      seed: values.seed === undefined ? undefined : number("seed", values.seed),
      log: (line) => process.stdout.write(`${line}\n`),
    });
    process.stdout.write(`${summarize(report)}\n`);
    const internal = stack ? internalErrorLines(log.slice(logStart)) : [];
    if (internal.length > 0) {
      process.stdout.write(
        `gateway log: ${internal.length} lines with internal errors, e.g.\n  ${internal.slice(0, 5).join("\n  ")}\n`,
      );
    }
    const healthy = (await fetch(`${gateway}/health`)).status === 200;
    if (!healthy) process.stdout.write("/health does not answer 200 after the fuzz\n");
    return report.violations.length === 0 && internal.length === 0 && healthy ? 0 : 1;
  } finally {
    await stack?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `fuzz failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
