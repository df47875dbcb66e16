// The rows of the side-by-side table: which number of which scenario, and which way is better.
import type { ScenarioName, ScenarioOutcomes, ServerReport } from "./model.ts";

export interface MetricRow {
  readonly scenario: ScenarioName;
  readonly label: string;
  readonly better: "higher" | "lower";
  readonly digits: number;
  /** The value, or null when the scenario has no such number. */
  value(outcomes: ScenarioOutcomes): number | null;
  /** Marks a value that is only a lower bound (the top of the ladder was kept up). */
  lowerBound?(outcomes: ScenarioOutcomes): boolean;
}

const KIB = 1024;
const MIB = 1024 * 1024;

function ok<K extends ScenarioName>(outcomes: ScenarioOutcomes, name: K) {
  const outcome = outcomes[name];
  return outcome.status === "ok"
    ? (outcome.metrics as Extract<ScenarioOutcomes[K], { status: "ok" }>["metrics"])
    : null;
}

type Metered = "dm" | "fanout" | "fanoutRoom" | "broadcastUsers" | "broadcast";

/** The billed work the gateway's bench meter counted per message (none for the references). */
function workRows(scenario: Metered): MetricRow[] {
  const work = (o: ScenarioOutcomes) => ok(o, scenario)?.work ?? null;
  return [
    {
      scenario,
      label: "actor calls per message (billed)",
      better: "lower",
      digits: 1,
      value: (o) => work(o)?.actorCallsPerMessage ?? null,
    },
    {
      scenario,
      label: "busiest actor's calls per message",
      better: "lower",
      digits: 1,
      value: (o) => work(o)?.busiestActorCallsPerMessage ?? null,
    },
    {
      scenario,
      label: "storage rows written per message (billed)",
      better: "lower",
      digits: 1,
      value: (o) => work(o)?.rowsWrittenPerMessage ?? null,
    },
  ];
}

function timeToLastRows(
  scenario: "fanout" | "fanoutRoom" | "broadcastUsers",
  who: string,
): MetricRow[] {
  return (["p50", "p95"] as const).map((p) => ({
    scenario,
    label: `time to last ${who} ${p} (ms)`,
    better: "lower",
    digits: 1,
    value: (o: ScenarioOutcomes) => ok(o, scenario)?.timeToLastMs?.[p] ?? null,
  }));
}

export const METRIC_ROWS: readonly MetricRow[] = [
  {
    scenario: "connect",
    label: "connections/s",
    better: "higher",
    digits: 0,
    value: (o) => ok(o, "connect")?.connectionsPerSecond ?? null,
  },
  {
    scenario: "connect",
    label: "first reply p50 (ms)",
    better: "lower",
    digits: 1,
    value: (o) => ok(o, "connect")?.firstReplyMs?.p50 ?? null,
  },
  {
    scenario: "connect",
    label: "first reply p95 (ms)",
    better: "lower",
    digits: 1,
    value: (o) => ok(o, "connect")?.firstReplyMs?.p95 ?? null,
  },
  {
    scenario: "connect",
    label: "first reply p99 (ms)",
    better: "lower",
    digits: 1,
    value: (o) => ok(o, "connect")?.firstReplyMs?.p99 ?? null,
  },
  {
    scenario: "dm",
    label: "latency p50 at base rate (ms)",
    better: "lower",
    digits: 2,
    value: (o) => ok(o, "dm")?.base.latencyMs?.p50 ?? null,
  },
  {
    scenario: "dm",
    label: "latency p95 at base rate (ms)",
    better: "lower",
    digits: 2,
    value: (o) => ok(o, "dm")?.base.latencyMs?.p95 ?? null,
  },
  {
    scenario: "dm",
    label: "latency p99 at base rate (ms)",
    better: "lower",
    digits: 2,
    value: (o) => ok(o, "dm")?.base.latencyMs?.p99 ?? null,
  },
  {
    scenario: "dm",
    label: "sustained delivered/s",
    better: "higher",
    digits: 0,
    value: (o) => ok(o, "dm")?.sustainedDeliveredPerSecond ?? null,
    lowerBound: (o) => ok(o, "dm")?.sustainedIsLowerBound ?? false,
  },
  {
    scenario: "dm",
    label: "peak delivered/s",
    better: "higher",
    digits: 0,
    value: (o) => ok(o, "dm")?.peakDeliveredPerSecond ?? null,
  },
  ...workRows("dm"),
  ...timeToLastRows("fanout", "member"),
  ...workRows("fanout"),
  ...timeToLastRows("fanoutRoom", "room socket"),
  ...workRows("fanoutRoom"),
  ...timeToLastRows("broadcastUsers", "user"),
  ...workRows("broadcastUsers"),
  {
    scenario: "storm",
    label: "/health during the presence storm, max (ms)",
    better: "lower",
    digits: 0,
    value: (o) => ok(o, "storm")?.healthMs?.max ?? null,
  },
  {
    scenario: "storm",
    label: "presence calls per member in the storm",
    better: "lower",
    digits: 2,
    value: (o) => {
      const storm = ok(o, "storm");
      if (!storm || storm.roomCalls === null || storm.memberCalls === null) return null;
      return (storm.roomCalls + storm.memberCalls) / Math.max(1, storm.members);
    },
  },
  {
    scenario: "broadcast",
    label: "time to last socket p50 (ms)",
    better: "lower",
    digits: 1,
    value: (o) => ok(o, "broadcast")?.timeToLastMs?.p50 ?? null,
  },
  {
    scenario: "broadcast",
    label: "time to last socket p95 (ms)",
    better: "lower",
    digits: 1,
    value: (o) => ok(o, "broadcast")?.timeToLastMs?.p95 ?? null,
  },
  ...workRows("broadcast"),
  {
    scenario: "idle",
    label: "memory per user, first socket (KiB)",
    better: "lower",
    digits: 1,
    value: (o) => {
      const m = ok(o, "idle");
      return m ? m.perUserBytes / KIB : null;
    },
  },
  {
    scenario: "idle",
    label: "memory per extra socket (KiB)",
    better: "lower",
    digits: 1,
    value: (o) => {
      const m = ok(o, "idle");
      return m ? m.perExtraSocketBytes / KIB : null;
    },
  },
  {
    scenario: "idle",
    label: "server RSS before the crowd (MiB)",
    better: "lower",
    digits: 1,
    value: (o) => {
      const m = ok(o, "idle");
      return m ? m.rssBaseBytes / MIB : null;
    },
  },
  {
    scenario: "idle",
    label: "server RSS with the crowd (MiB)",
    better: "lower",
    digits: 1,
    value: (o) => {
      const m = ok(o, "idle");
      return m ? m.rssAllBytes / MIB : null;
    },
  },
  {
    scenario: "idle",
    label: "server RSS after the idle window (MiB)",
    better: "lower",
    digits: 1,
    value: (o) => {
      const m = ok(o, "idle");
      return m ? m.rssAfterIdleBytes / MIB : null;
    },
  },
  {
    scenario: "idle",
    label: "CPU while idle (% of a core)",
    better: "lower",
    digits: 2,
    value: (o) => ok(o, "idle")?.idleCpuPercent ?? null,
  },
];

/**
 * How the project compares with `server` on one row: > 1 means the project is better by that
 * factor, < 1 that it is behind. Higher-is-better rows: project / server; lower-is-better
 * rows: server / project. Null when either value is missing or not positive.
 */
export function advantage(
  row: MetricRow,
  project: number | null,
  server: number | null,
): number | null {
  if (project === null || server === null || project <= 0 || server <= 0) return null;
  return row.better === "higher" ? project / server : server / project;
}

export function serversWithScenarios(
  servers: readonly ServerReport[],
): Array<ServerReport & { scenarios: ScenarioOutcomes }> {
  return servers.filter(
    (s): s is ServerReport & { scenarios: ScenarioOutcomes } => s.scenarios !== undefined,
  );
}
