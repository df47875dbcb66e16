// npm run bench [-- --tiny | --full] [--servers=a,b] [--only=storm,fanout] [--project-var NAME=VALUE] [--inspect]
//
// Starts each server on a free loopback port, drives the same scenarios against it, stops it,
// and writes the side-by-side report: bench/results/latest.{md,json,svg} (quick and full runs)
// plus a copy in bench/results/work/<run>/. Bounded in sockets, messages and time; every child
// process is killed on exit, error or Ctrl-C. Exit code 1 when anything was lost, duplicated,
// misrouted or failed (never because of speed).
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { killAllChildren } from "../dev/server-process.ts";
import { REPO_ROOT } from "../dev/workerd-runtime.ts";
import { billedMeter } from "./driver/billed.ts";
import { isClean } from "./driver/ledger.ts";
import { measureServer, STEPS } from "./driver/measure-server.ts";
import { type Mode, PARAMETERS } from "./driver/params.ts";
import { cpuShareSince, treeSummary } from "./driver/proc.ts";
import { TokenMint } from "./driver/tokens.ts";
import { checkFanoutModel, DEFAULT_FANOUT_MAX_CALLS } from "./report/fanout-model.ts";
import { markdownReport, NOISY_OTHER_PERCENT } from "./report/markdown.ts";
import { type BenchReport, type Machine, SCENARIOS, type ServerReport } from "./report/model.ts";
import { latencySvg } from "./report/svg.ts";
import { type RunningServer, TARGETS } from "./servers/targets.ts";

const RESULTS_DIR = join(REPO_ROOT, "bench/results");
const KEEP_WORK_DIRS = 3;
/** Servers of the CI pass: fast to start, and the project when it exists. */
const TINY_SERVERS = ["gateway-workerd", "do-relay-workerd", "node-ws-relay"];

const USAGE = `usage: npm run bench [-- options]
  (default)              quick run, a few minutes
  --tiny                 a few seconds per server, for CI: fails only on loss or a crash
  --full                 the issue's sizes (2,000 sockets, 500 msg/s and up, 2,000-member fan-out)
  --servers=a,b          only these servers (${TARGETS.map((t) => t.id).join(", ")}, or "all")
  --only=a,b             only these steps, after the warmup (${STEPS.join(", ")})
  --project-var N=V      extra var for the project (repeatable), e.g. PRESENCE_GRACE_MS=0
  --inspect              start workerd with its DevTools inspector (for profiling)
  --help`;

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    tiny: { type: "boolean", default: false },
    full: { type: "boolean", default: false },
    servers: { type: "string" },
    only: { type: "string" },
    "project-var": { type: "string", multiple: true, default: [] },
    inspect: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
  strict: true,
});
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (values.tiny && values.full) fail("--tiny and --full exclude each other");
const only = values.only?.split(",").map((step) => step.trim());
for (const step of only ?? []) {
  if (!(STEPS as readonly string[]).includes(step)) fail(`unknown step ${step}`);
}
const mode: Mode = values.tiny ? "tiny" : values.full ? "full" : "quick";
const parameters = PARAMETERS[mode];

const projectVars: Record<string, string> = {};
for (const pair of values["project-var"]) {
  const eq = pair.indexOf("=");
  if (eq <= 0) fail(`--project-var wants NAME=VALUE, got ${pair}`);
  projectVars[pair.slice(0, eq)] = pair.slice(eq + 1);
}

const requested = values.servers ?? (mode === "tiny" ? TINY_SERVERS.join(",") : "all");
const targets =
  requested === "all"
    ? TARGETS
    : requested
        .split(",")
        .map((id) => TARGETS.find((t) => t.id === id.trim()) ?? fail(`unknown server ${id}`));

const runStarted = Date.now();
const runId = new Date(runStarted).toISOString().replace(/[:.]/g, "-");
const workDir = join(RESULTS_DIR, "work", runId);
mkdirSync(workDir, { recursive: true });
const deadline = performance.now() + parameters.budgetMs;

function log(line: string): void {
  const t = ((Date.now() - runStarted) / 1000).toFixed(1).padStart(6);
  process.stdout.write(`[${t}s] ${line}\n`);
}

// Children die with the bench, whatever ends it.
process.on("exit", killAllChildren);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping every server`);
    killAllChildren();
    process.exit(130);
  });
}
process.on("uncaughtException", (error) => {
  process.stderr.write(`bench crashed: ${error.stack ?? error.message}\n`);
  killAllChildren();
  process.exit(1);
});
// Hard stop a minute after the budget, even if something hangs.
setTimeout(() => {
  process.stderr.write("bench: over its time budget, stopping\n");
  killAllChildren();
  process.exit(1);
}, parameters.budgetMs + 60_000).unref();

function packageVersion(name: string): string {
  try {
    const pkg: unknown = JSON.parse(
      readFileSync(join(REPO_ROOT, "node_modules", name, "package.json"), "utf8"),
    );
    return typeof pkg === "object" && pkg !== null && "version" in pkg ? String(pkg.version) : "?";
  } catch {
    return "?";
  }
}

function machine(): Machine {
  const workerd = spawnSync(join(REPO_ROOT, "node_modules/.bin/workerd"), ["--version"], {
    encoding: "utf8",
  });
  return {
    cpuModel: cpus()[0]?.model.trim() ?? "?",
    cores: cpus().length,
    memoryBytes: totalmem(),
    kernel: release(),
    node: process.versions.node,
    versions: {
      workerd: workerd.stdout.trim().replace(/^workerd /, "") || "?",
      wrangler: packageVersion("wrangler"),
      ws: packageVersion("ws"),
      "socket.io": packageVersion("socket.io"),
    },
  };
}

function pruneWorkDirs(): void {
  const root = join(RESULTS_DIR, "work");
  const runs = readdirSync(root).sort();
  for (const old of runs.slice(0, Math.max(0, runs.length - KEEP_WORK_DIRS))) {
    rmSync(join(root, old), { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  const secret = randomBytes(32).toString("base64url");
  const apiKey = randomBytes(24).toString("base64url");
  const mint = new TokenMint(secret);
  const tag = randomBytes(4).toString("hex");
  const report: BenchReport = {
    version: 1,
    mode,
    startedAt: new Date(runStarted).toISOString(),
    finishedAt: "",
    durationMs: 0,
    machine: machine(),
    parameters,
    projectId: null,
    servers: [],
    clean: true,
    problems: [],
  };
  log(
    `${mode} run of ${targets.length} servers; scratch in ${workDir.slice(REPO_ROOT.length + 1)}`,
  );
  const checks = await checkFanoutModel();
  report.fanoutModel = {
    maxCalls: Number(projectVars.FANOUT_MAX_CALLS_PER_MESSAGE ?? DEFAULT_FANOUT_MAX_CALLS),
    checks,
  };
  for (const check of checks) {
    log(
      `fan-out model: ${check.recipients} users under ${check.maxCalls} calls: model ${check.modelCalls} calls, simulated ${check.simulatedCalls}; ${check.modelShards} shards in ${check.shardLevels} levels${check.agrees ? "" : " DISAGREES"}`,
    );
    if (!check.agrees)
      report.problems.push(
        `The fan-out simulation disagrees with the model for ${check.recipients} users under ${check.maxCalls} calls.`,
      );
  }

  for (const target of targets) {
    const entry: ServerReport = {
      id: target.id,
      label: target.label,
      kind: target.kind,
      runtime: target.runtime,
      ...(target.comparedWith ? { comparedWith: target.comparedWith } : {}),
      status: "ok",
    };
    report.servers.push(entry);
    const reason = await target.unavailable();
    if (reason) {
      entry.status = "skipped";
      entry.reason = reason;
      log(`${target.label}: skipped, ${reason}`);
      continue;
    }
    if (performance.now() > deadline) {
      entry.status = "skipped";
      entry.reason = "time budget exhausted";
      continue;
    }
    log(`${target.label}: starting`);
    let running: RunningServer | undefined;
    try {
      running = await target.start({
        secret,
        apiKey,
        workDir,
        projectVars,
        inspect: values.inspect,
        log: (line) => log(line),
      });
      entry.startupMs = Math.round(running.startupMs);
      entry.notes = [...running.notes];
      log(
        `${target.label}: ready at ${running.httpBase} in ${(running.startupMs / 1000).toFixed(1)} s (pid ${running.process.pid})`,
      );
      const cpuShare = cpuShareSince(running.process.pid, cpus().length);
      const result = await measureServer(
        {
          adapter: running.adapter,
          mint,
          server: { pid: running.process.pid },
          httpBase: running.httpBase,
          tag: `${tag}${report.servers.length}`,
          deadline,
          log: (line) => log(`${target.label}: ${line}`),
          onServerLine: (listener) => running?.process.onLine(listener),
          meter: await billedMeter(running.httpBase),
        },
        parameters,
        only,
      );
      entry.cpu = cpuShare();
      entry.disturbances = running.disturbances();
      for (const disturbance of entry.disturbances) log(`${target.label}: ${disturbance}`);
      entry.warmup = result.warmup;
      if (entry.cpu.otherPercent >= NOISY_OTHER_PERCENT) {
        log(
          `${target.label}: other processes used ${entry.cpu.otherPercent} % of the machine meanwhile: noisy numbers`,
        );
      }
      entry.processes = treeSummary(running.process.pid);
      if (!running.process.alive) {
        entry.status = "failed";
        entry.reason = `the server exited during the run; last output: ${running.process.tail.slice(-300)}`;
      } else if (!result.ok) {
        entry.status = "failed";
        entry.reason = result.reason;
        // What it measured before failing stays in the table, the failure listed below it.
        if (result.scenarios) entry.scenarios = result.scenarios;
      } else {
        entry.scenarios = result.scenarios;
      }
    } catch (error) {
      entry.status = "failed";
      entry.reason = (error as Error).message.slice(0, 800);
    } finally {
      await running?.stop();
      rmSync(join(workDir, "state", target.id), { recursive: true, force: true });
    }
    if (entry.status === "failed") log(`${target.label}: FAILED: ${entry.reason}`);
    else log(`${target.label}: done`);
  }

  const project =
    report.servers.find((s) => s.kind === "project" && s.scenarios && s.runtime === "workerd") ??
    report.servers.find((s) => s.kind === "project" && s.scenarios);
  report.projectId = project?.id ?? null;
  for (const server of report.servers) {
    if (server.status === "failed") report.problems.push(`${server.label} failed.`);
    for (const disturbance of server.disturbances ?? [])
      report.problems.push(`${server.label}: ${disturbance}.`);
    for (const name of SCENARIOS) {
      const outcome = server.scenarios?.[name];
      if (
        outcome?.status === "broken" ||
        (outcome?.status === "ok" && !isClean(outcome.integrity))
      ) {
        report.problems.push(`${server.label} / ${name} lost, duplicated or misrouted messages.`);
      } else if (outcome?.status === "failed") {
        report.problems.push(`${server.label} / ${name} failed.`);
      }
    }
  }
  report.clean = report.problems.length === 0;
  report.finishedAt = new Date().toISOString();
  report.durationMs = Date.now() - runStarted;

  const markdown = markdownReport(report);
  const files = {
    "report.md": markdown,
    "report.json": `${JSON.stringify(report, null, 2)}\n`,
    "report.svg": latencySvg(report),
  };
  for (const [name, content] of Object.entries(files)) writeFileSync(join(workDir, name), content);
  rmSync(join(workDir, "build"), { recursive: true, force: true });
  if (mode !== "tiny") {
    writeFileSync(join(RESULTS_DIR, "latest.md"), files["report.md"]);
    writeFileSync(join(RESULTS_DIR, "latest.json"), files["report.json"]);
    writeFileSync(join(RESULTS_DIR, "latest.svg"), files["report.svg"]);
  }
  pruneWorkDirs();
  process.stdout.write(`\n${markdown}\n`);
  log(
    mode === "tiny"
      ? `report in ${workDir.slice(REPO_ROOT.length + 1)}/`
      : "report in bench/results/latest.{md,json,svg}",
  );
  return report.clean ? 0 : 1;
}

main().then(
  (code) => {
    killAllChildren();
    process.exit(code);
  },
  (error: unknown) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
    killAllChildren();
    process.exit(1);
  },
);
