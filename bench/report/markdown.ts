// The side-by-side Markdown report: one column per server, one row per number, each cell
// with the project's advantage over that server.
import { isClean } from "../driver/ledger.ts";
import { modelGroupCalls } from "./fanout-model.ts";
import { advantage, METRIC_ROWS, serversWithScenarios } from "./metrics.ts";
import { type BenchReport, SCENARIOS, type ScenarioOutcomes, type ServerReport } from "./model.ts";

function formatNumber(value: number, digits: number): string {
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function cell(outcomes: ScenarioOutcomes, rowIndex: number): string {
  const row = METRIC_ROWS[rowIndex];
  if (!row) return "";
  const outcome = outcomes[row.scenario];
  if (outcome.status === "broken") return "**BROKEN**";
  if (outcome.status === "failed") return "failed";
  if (outcome.status === "n/a") return "n/a";
  const value = row.value(outcomes);
  if (value === null) return "–";
  return (row.lowerBound?.(outcomes) ? "≥ " : "") + formatNumber(value, row.digits);
}

function describeParameters(report: BenchReport): string[] {
  const p = report.parameters;
  return [
    `- **connect**: ${p.crowd.sockets} sockets for ${p.crowd.users} users (one per user first, then the rest), ${p.connectConcurrency} opening at once.`,
    `- **dm**: pairs of users, one socket each, open-loop at ${p.dm.baseRate} msg/s for ${p.dm.baseDurationMs / 1000} s (latency), then ${p.dm.ladder.length > 0 ? `${p.dm.ladder.join(", ")} msg/s for ${p.dm.stepDurationMs / 1000} s each until a step is not kept up (throughput)` : "no ladder"}; at most ${p.dm.maxPerSocketRate} msg/s per socket.`,
    `- **fanout**: ${p.fanout.members} users in one group, ${p.fanout.sends} server-side sends (HTTP API), one at a time.`,
    `- **storm**: ${p.storm.members} users in one group, 3 group sends, then every socket closed at once without leaving; /health probed every 250 ms for at least ${p.storm.watchMs / 1000} s (the gateway: until every offline flip reached the room, then 3 s).`,
    `- **fanoutRoom**: ${p.fanout.members} users, one room socket each (\`/ws/group/{name}/\`, held by the room's actor; servers without room sockets open a socket and join), ${p.fanout.sends} server-side sends, one at a time.`,
    `- **broadcastUsers**: ${p.broadcastUsers.users} users, one socket each, ${p.broadcastUsers.sends} staff broadcasts (HTTP API), one at a time.`,
    `- **broadcast**: ${p.crowd.broadcasts} server-side broadcasts to the ${p.crowd.sockets} connect sockets.`,
    "- fanout, fanoutRoom and broadcastUsers start their sends once the server is quiet (its processes under 10 % of a core for 500 ms, at most 30 s after the sockets opened and joined), so the setup's background work (presence, mirror writes) is not measured as fan-out; the wait is in the run's log.",
    "- **billed work** (gateway only, counted by its bench build with BENCH_METER): Durable Object calls and storage rows written during the sends, divided by the messages sent; background work in that window (presence, mirrors) is included.",
    `- **idle**: the same sockets held ${p.crowd.idleMs / 1000} s; RSS of the server's whole process tree.`,
  ];
}

function integrityLine(server: ServerReport & { scenarios: ScenarioOutcomes }): string {
  let lost = 0;
  let duplicated = 0;
  let misrouted = 0;
  let errors = 0;
  for (const name of SCENARIOS) {
    const outcome = server.scenarios[name];
    if (outcome.status !== "ok" && outcome.status !== "broken") continue;
    lost += outcome.integrity.lost;
    duplicated += outcome.integrity.duplicated;
    misrouted += outcome.integrity.misrouted;
    errors += outcome.integrity.errors + outcome.integrity.dropped;
  }
  return `${lost} / ${duplicated} / ${misrouted} / ${errors}`;
}

/** The fan-out model (docs/scale.md) against the simulation and against the measured calls. */
function modelLines(report: BenchReport, ran: ServerReport[]): string[] {
  const model = report.fanoutModel;
  if (!model) return [];
  const lines = ["", "Fan-out model (docs/scale.md) against the simulated tree:", ""];
  for (const c of model.checks) {
    lines.push(
      `- ${c.recipients.toLocaleString("en-US")} users, at most ${c.maxCalls} calls per actor: model ${c.modelCalls} calls through ${c.modelShards} shards in ${c.shardLevels} level(s); simulated ${c.simulatedCalls} calls, ${c.simulatedShards} shards, busiest actor ${c.busiestActorCalls} calls: ${c.agrees ? "agrees" : "**DISAGREES**"}.`,
    );
  }
  for (const server of ran) {
    const fanout = server.scenarios?.fanout;
    if (fanout?.status !== "ok" || !fanout.metrics.work) continue;
    const { members, work } = fanout.metrics;
    lines.push(
      `- ${server.label}, fanout to ${members}: the model expects ${modelGroupCalls(members, model.maxCalls)} actor calls per message (the publish, the shards, one per member; FANOUT_MAX_CALLS_PER_MESSAGE ${model.maxCalls}); measured ${work.actorCallsPerMessage} (background work included), busiest actor ${work.busiestActorCallsPerMessage}.`,
    );
  }
  return lines;
}

/** Other processes' share of the machine above which a server's numbers are flagged noisy. */
export const NOISY_OTHER_PERCENT = 10;

function cpuCell(server: ServerReport): string {
  const cpu = server.cpu;
  if (!cpu) return "–";
  const warning = cpu.otherPercent >= NOISY_OTHER_PERCENT ? " ⚠" : "";
  return `${cpu.serverPercent} / ${cpu.driverPercent} / ${cpu.otherPercent}${warning}`;
}

export function markdownReport(report: BenchReport): string {
  const ran = serversWithScenarios(report.servers);
  const project = ran.find((s) => s.id === report.projectId);
  /** The project server a column is compared with: its own choice when that one ran. */
  const baselineOf = (server: (typeof ran)[number]) =>
    ran.find((s) => s.id === server.comparedWith) ?? project;
  const comparedElsewhere = ran.filter(
    (s) => s.comparedWith !== undefined && baselineOf(s) !== project,
  );
  const lines: string[] = [];
  const m = report.machine;
  lines.push(`# Benchmark results (${report.mode} run)`);
  lines.push("");
  lines.push(
    `${report.startedAt} · ${m.cores} cores (${m.cpuModel}), ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB · Linux ${m.kernel} · Node ${m.node} · ${Object.entries(
      m.versions,
    )
      .map(([k, v]) => `${k} ${v}`)
      .join(" · ")} · ${(report.durationMs / 60_000).toFixed(1)} min`,
  );
  lines.push("");
  lines.push(...describeParameters(report));
  lines.push("");
  lines.push(
    project
      ? `Ratios in parentheses are the project's advantage, measured against **${project.label}**${comparedElsewhere.length > 0 ? ` (${comparedElsewhere.map((s) => `${s.label} against ${baselineOf(s)?.label}`).join("; ")})` : ""}: above 1× the project is better than that server by that factor, below 1× it is behind (for "higher is better" rows project ÷ server, for "lower is better" rows server ÷ project).`
      : "No ratios: the project did not run (see below).",
  );
  lines.push("");
  if (ran.length > 0) {
    lines.push(`| | ${ran.map((s) => s.label).join(" | ")} |`);
    lines.push(`|---|${ran.map(() => "---:").join("|")}|`);
    let lastScenario = "";
    METRIC_ROWS.forEach((row, i) => {
      const heading = row.scenario === lastScenario ? "" : `**${row.scenario}** `;
      lastScenario = row.scenario;
      const cells = ran.map((server) => {
        const text = cell(server.scenarios, i);
        const base = baselineOf(server);
        if (!base || server === base) return text;
        const ratio = advantage(row, row.value(base.scenarios), row.value(server.scenarios));
        return ratio === null ? text : `${text} (${ratio.toFixed(2)}×)`;
      });
      lines.push(
        `| ${heading}${row.label} ${row.better === "higher" ? "↑" : "↓"} | ${cells.join(" | ")} |`,
      );
    });
    lines.push(
      `| lost / duplicated / misrouted / errors | ${ran.map(integrityLine).join(" | ")} |`,
    );
    lines.push(
      `| CPU during the run: server / driver / others (% of machine) | ${ran.map(cpuCell).join(" | ")} |`,
    );
    lines.push("");
  }
  const skipped = report.servers.filter((s) => s.status !== "ok" || !s.scenarios);
  for (const server of report.servers) {
    if (server.status === "skipped")
      lines.push(`- **${server.label}**: skipped, ${server.reason ?? "unavailable"}.`);
    else if (server.status === "failed")
      lines.push(`- **${server.label}**: FAILED, ${server.reason ?? "unknown error"}.`);
  }
  if (skipped.length > 0) lines.push("");
  for (const server of ran) {
    for (const name of SCENARIOS) {
      const outcome = server.scenarios[name];
      if (outcome.status === "broken" && !isClean(outcome.integrity)) {
        const i = outcome.integrity;
        lines.push(
          `- **${server.label} / ${name} is BROKEN** (numbers withheld): lost ${i.lost}, duplicated ${i.duplicated}, misrouted ${i.misrouted}, errors ${i.errors}, dropped sockets ${i.dropped}. ${i.samples.slice(0, 3).join("; ")}`,
        );
      } else if (outcome.status === "failed") {
        lines.push(`- **${server.label} / ${name}** failed: ${outcome.reason}`);
      }
    }
  }
  for (const server of report.servers) {
    for (const disturbance of server.disturbances ?? [])
      lines.push(`- **${server.label}**: ⚠ ${disturbance}.`);
    for (const note of server.notes ?? []) lines.push(`- ${server.label}: ${note}.`);
  }
  lines.push(...modelLines(report, ran));
  const dmRows = ran.filter((s) => s.scenarios.dm.status === "ok");
  if (dmRows.length > 0) {
    lines.push("");
    lines.push("DM ladder (offered → delivered msg/s, p99 ms; ✗ = not kept up):");
    lines.push("");
    for (const server of dmRows) {
      const dm = server.scenarios.dm;
      if (dm.status !== "ok") continue;
      const steps = dm.metrics.steps
        .map(
          (s) =>
            `${s.offeredRate} → ${Math.round(s.deliveredPerSecond)} (p99 ${s.latencyMs?.p99 ?? "–"})${s.keptUp ? "" : " ✗"}${s.driverLimited ? ` (the driver sent only ${Math.round(s.sentPerSecond)}/s)` : ""}`,
        )
        .join(", ");
      lines.push(`- ${server.label}: ${steps}`);
    }
  }
  lines.push("");
  if (ran.some((s) => (s.cpu?.otherPercent ?? 0) >= NOISY_OTHER_PERCENT)) {
    lines.push(
      `⚠ Other processes used ${NOISY_OTHER_PERCENT} % of the machine or more while a server was measured: its numbers are noisy; rerun on a quiet machine.`,
    );
    lines.push("");
  }
  lines.push(
    `Startup: ${ran.map((s) => `${s.label} ${((s.startupMs ?? 0) / 1000).toFixed(1)} s`).join(", ")}.`,
  );
  lines.push("");
  lines.push(
    report.clean
      ? "Verdict: clean run, nothing lost, duplicated or misrouted."
      : `Verdict: NOT clean. ${report.problems.join(" ")}`,
  );
  lines.push("");
  return lines.join("\n");
}
