// The JSON report (bench/results/latest.json): one file per run, every server side by side.

import type { Integrity } from "../driver/ledger.ts";
import type { BenchParameters } from "../driver/params.ts";
import type { CpuShare } from "../driver/proc.ts";
import type { Outcome } from "../driver/scenario.ts";
import type { BroadcastMetrics, ConnectMetrics, IdleMetrics } from "../driver/scenarios/crowd.ts";
import type { DmMetrics } from "../driver/scenarios/dm.ts";
import type { FanoutMetrics } from "../driver/scenarios/fanout.ts";
import type { StormMetrics } from "../driver/scenarios/storm.ts";
import type { ModelCheck } from "./fanout-model.ts";

export interface ScenarioOutcomes {
  connect: Outcome<ConnectMetrics>;
  idle: Outcome<IdleMetrics>;
  dm: Outcome<DmMetrics>;
  fanout: Outcome<FanoutMetrics>;
  broadcast: Outcome<BroadcastMetrics>;
  /** Staff broadcasts to users with one socket each. */
  broadcastUsers: Outcome<FanoutMetrics>;
  /** Group sends to room sockets (held by the room's actor). */
  fanoutRoom: Outcome<FanoutMetrics>;
  storm: Outcome<StormMetrics>;
}

export type ScenarioName = keyof ScenarioOutcomes;
export const SCENARIOS: readonly ScenarioName[] = [
  "connect",
  "dm",
  "fanout",
  "fanoutRoom",
  "broadcastUsers",
  "broadcast",
  "idle",
  "storm",
];

export interface ServerReport {
  readonly id: string;
  readonly label: string;
  readonly kind: "project" | "reference";
  readonly runtime: string;
  /** The project server this one's ratios are computed against, when not the report's project. */
  readonly comparedWith?: string;
  status: "ok" | "skipped" | "failed";
  reason?: string;
  startupMs?: number;
  notes?: string[];
  /** What disturbed the run (a reload of the Worker, …): its numbers are not trustworthy. */
  disturbances?: string[];
  warmup?: Integrity;
  /** Who used the CPU while this server was measured (percent of the whole machine). */
  cpu?: CpuShare;
  /** Processes of the server at the end of its run, with their RSS. */
  processes?: Array<{ pid: number; name: string; rssBytes: number }>;
  scenarios?: ScenarioOutcomes;
}

export interface Machine {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryBytes: number;
  readonly kernel: string;
  readonly node: string;
  readonly versions: Readonly<Record<string, string>>;
}

export interface BenchReport {
  readonly version: 1;
  readonly mode: BenchParameters["mode"];
  readonly startedAt: string;
  finishedAt: string;
  durationMs: number;
  readonly machine: Machine;
  readonly parameters: BenchParameters;
  /** The server ratios are computed against, or null when the project did not run. */
  projectId: string | null;
  readonly servers: ServerReport[];
  /** False when any scenario lost, duplicated or misrouted a message, or anything failed. */
  clean: boolean;
  problems: string[];
  /** The fan-out tree's call counts against the capacity model (docs/scale.md). */
  fanoutModel?: { maxCalls: number; checks: ModelCheck[] };
}
