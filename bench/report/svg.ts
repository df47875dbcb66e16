// The latency chart (bench/results/latest.svg): one panel per latency measure, one group of
// bars (p50, p95, p99) per server, on a log scale because the servers differ by orders of
// magnitude. Plain SVG, no chart library.
import type { Percentiles } from "../driver/stats.ts";
import { serversWithScenarios } from "./metrics.ts";
import type { BenchReport, ScenarioName, ScenarioOutcomes } from "./model.ts";

interface Panel {
  readonly title: string;
  readonly scenario: ScenarioName;
  pick(outcomes: ScenarioOutcomes): Percentiles | null;
}

const PANELS: readonly Panel[] = [
  {
    title: "Direct message latency at the base rate",
    scenario: "dm",
    pick: (o) => (o.dm.status === "ok" ? o.dm.metrics.base.latencyMs : null),
  },
  {
    title: "Connect: time to first reply",
    scenario: "connect",
    pick: (o) => (o.connect.status === "ok" ? o.connect.metrics.firstReplyMs : null),
  },
  {
    title: "Group fan-out: time until the last member has it",
    scenario: "fanout",
    pick: (o) => (o.fanout.status === "ok" ? o.fanout.metrics.timeToLastMs : null),
  },
  {
    title: "Fan-out to room sockets: time until the last socket has it",
    scenario: "fanoutRoom",
    pick: (o) => (o.fanoutRoom.status === "ok" ? o.fanoutRoom.metrics.timeToLastMs : null),
  },
  {
    title: "Broadcast to users: time until the last user has it",
    scenario: "broadcastUsers",
    pick: (o) => (o.broadcastUsers.status === "ok" ? o.broadcastUsers.metrics.timeToLastMs : null),
  },
  {
    title: "Broadcast: time until the last socket has it",
    scenario: "broadcast",
    pick: (o) => (o.broadcast.status === "ok" ? o.broadcast.metrics.timeToLastMs : null),
  },
];

/** What to write instead of bars: BROKEN runs never show numbers. */
function missingLabel(status: string): string {
  return status === "broken" ? "BROKEN (lost, duplicated or misrouted: no numbers)" : status;
}

const SERIES = [
  { key: "p50", color: "#4c78a8" },
  { key: "p95", color: "#f58518" },
  { key: "p99", color: "#e45756" },
] as const;

const WIDTH = 960;
const LABEL_WIDTH = 200;
const PLOT_WIDTH = WIDTH - LABEL_WIDTH - 80;
const BAR = 9;
const BAR_GAP = 2;
const GROUP_GAP = 10;
const PANEL_HEADER = 40;
const AXIS = 28;

export function escapeXml(text: string): string {
  return text.replace(
    /[<>&"]/g,
    (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c] ?? c,
  );
}

function formatMs(value: number): string {
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

export function latencySvg(report: BenchReport): string {
  const servers = serversWithScenarios(report.servers);
  const parts: string[] = [];
  let y = 50;
  for (const panel of PANELS) {
    const rows = servers.map((s) => ({
      label: s.label,
      project: s.id === report.projectId,
      status: s.scenarios[panel.scenario].status,
      p: panel.pick(s.scenarios),
    }));
    const values = rows
      .flatMap((r) => (r.p ? [r.p.p50, r.p.p95, r.p.p99] : []))
      .filter((v) => v > 0);
    const groupHeight = SERIES.length * (BAR + BAR_GAP) + GROUP_GAP;
    const height = PANEL_HEADER + rows.length * groupHeight + AXIS;
    parts.push(`<g transform="translate(0,${y})">`);
    parts.push(
      `<text x="10" y="20" font-size="15" font-weight="bold">${escapeXml(panel.title)} (ms, log scale)</text>`,
    );
    if (values.length === 0) {
      parts.push(
        `<text x="${LABEL_WIDTH}" y="${PANEL_HEADER + 10}" font-size="12" fill="#666">no data</text></g>`,
      );
      y += PANEL_HEADER + 30;
      continue;
    }
    const lo = 10 ** Math.floor(Math.log10(Math.min(...values)));
    const hi = 10 ** Math.ceil(Math.log10(Math.max(...values) * 1.0001));
    const x = (v: number) =>
      LABEL_WIDTH + (Math.log10(Math.max(v, lo) / lo) / Math.log10(hi / lo)) * PLOT_WIDTH;
    const plotBottom = PANEL_HEADER + rows.length * groupHeight;
    for (let decade = lo; decade <= hi * 1.0001; decade *= 10) {
      const gx = x(decade).toFixed(1);
      parts.push(
        `<line x1="${gx}" y1="${PANEL_HEADER - 6}" x2="${gx}" y2="${plotBottom}" stroke="#ddd"/>`,
      );
      const tick = decade >= 1 ? decade.toFixed(0) : String(Number(decade.toPrecision(1)));
      parts.push(
        `<text x="${gx}" y="${plotBottom + 16}" font-size="11" text-anchor="middle" fill="#555">${tick}</text>`,
      );
    }
    rows.forEach((row, i) => {
      const gy = PANEL_HEADER + i * groupHeight;
      const weight = row.project ? ' font-weight="bold"' : "";
      parts.push(
        `<text x="${LABEL_WIDTH - 8}" y="${gy + (SERIES.length * (BAR + BAR_GAP)) / 2 + 4}" font-size="12" text-anchor="end"${weight}>${escapeXml(row.label)}</text>`,
      );
      if (!row.p) {
        const color = row.status === "broken" || row.status === "failed" ? "#c00" : "#888";
        parts.push(
          `<text x="${LABEL_WIDTH + 4}" y="${gy + 16}" font-size="11" fill="${color}">${escapeXml(missingLabel(row.status))}</text>`,
        );
        return;
      }
      const p = row.p;
      SERIES.forEach((series, k) => {
        const value = p[series.key];
        const by = gy + k * (BAR + BAR_GAP);
        const w = Math.max(1, x(value) - LABEL_WIDTH);
        parts.push(
          `<rect x="${LABEL_WIDTH}" y="${by}" width="${w.toFixed(1)}" height="${BAR}" fill="${series.color}"/>`,
        );
        parts.push(
          `<text x="${(LABEL_WIDTH + w + 4).toFixed(1)}" y="${by + BAR - 1}" font-size="9" fill="#333">${formatMs(value)}</text>`,
        );
      });
    });
    parts.push("</g>");
    y += height + 16;
  }
  const legend = SERIES.map(
    (s, i) =>
      `<rect x="${LABEL_WIDTH + i * 70}" y="24" width="12" height="12" fill="${s.color}"/><text x="${LABEL_WIDTH + i * 70 + 16}" y="34" font-size="12">${s.key}</text>`,
  ).join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y}" viewBox="0 0 ${WIDTH} ${y}" font-family="system-ui, sans-serif">
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="18" font-size="13" fill="#333">${escapeXml(`Benchmark latency percentiles, ${report.mode} run, ${report.startedAt}, ${report.machine.cores} cores`)}</text>
${legend}
${parts.join("\n")}
</svg>
`;
}
