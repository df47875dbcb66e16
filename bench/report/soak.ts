// The soak's result (bench/results/soak.json), the check that nothing grew without bound, and
// its chart (soak.svg): one line panel per series, minutes on the x axis. Plain SVG.
import { escapeXml } from "./svg.ts";

export interface SoakSample {
  /** Minutes since the traffic started. */
  minute: number;
  /** workerd's resident set size, MiB. */
  rssMb: number;
  /** Milliseconds until each mirror showed a probe user's flip (offline: after the grace). */
  mirrorLagMs: {
    redisOnline: number | null;
    postgresOnline: number | null;
    redisOffline: number | null;
    postgresOffline: number | null;
  };
  outbox: {
    /** Notifications the API accepted and Postgres does not have yet. */
    notificationsPending: number;
    /** Users `/health` lists as behind (a mirror write failed and waits for its retry). */
    healthBehindUsers: number;
  };
  health: string;
  /** Direct messages of this sample's window. */
  dm: { sent: number; acked: number; p50Ms: number | null; p99Ms: number | null };
  /** Error frames by code and HTTP failures (`http_<status>`) of this window. */
  errors: Record<string, number>;
}

export interface SoakVerdict {
  series: string;
  /** Mean of the first third of the samples (after the first), and of the last third. */
  firstThird: number;
  lastThird: number;
  max: number;
  grew: boolean;
}

export interface SoakReport {
  startedAt: string;
  commit: string;
  runtime: string;
  minutes: number;
  sampleSeconds: number;
  rate: Record<string, number>;
  presenceGraceMs: number;
  totals: Record<string, unknown>;
  samples: SoakSample[];
  verdicts: SoakVerdict[];
}

interface Series {
  readonly name: string;
  readonly unit: string;
  /** Growth below this absolute amount is noise (allocator, GC timing, one slow write). */
  readonly slack: number;
  pick(sample: SoakSample): number | null;
}

const SERIES: readonly Series[] = [
  { name: "workerd RSS", unit: "MiB", slack: 32, pick: (s) => s.rssMb },
  {
    name: "mirror lag, Redis (online flip)",
    unit: "ms",
    slack: 500,
    pick: (s) => s.mirrorLagMs.redisOnline,
  },
  {
    name: "mirror lag, Postgres (online flip)",
    unit: "ms",
    slack: 500,
    pick: (s) => s.mirrorLagMs.postgresOnline,
  },
  {
    name: "outbox: notifications not in Postgres yet",
    unit: "rows",
    slack: 20,
    pick: (s) => s.outbox.notificationsPending,
  },
  {
    name: "outbox: users behind (/health)",
    unit: "users",
    slack: 5,
    pick: (s) => s.outbox.healthBehindUsers,
  },
];

const mean = (values: number[]) =>
  values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;

/**
 * A series "grew" when the mean of its last third exceeds 1.5 × the mean of its first third
 * plus the series' slack. The first sample is left out (the gateway is still warming up); a
 * missing value (a mirror that never showed the flip within 60 s) counts as growth.
 */
export function verdicts(samples: readonly SoakSample[]): SoakVerdict[] {
  const body = samples.length > 2 ? samples.slice(1) : [...samples];
  const third = Math.max(1, Math.floor(body.length / 3));
  return SERIES.map((series) => {
    const values = body.map((s) => series.pick(s));
    const missing = values.some((v) => v === null);
    const numbers = values.map((v) => v ?? Number.POSITIVE_INFINITY);
    const firstThird = mean(numbers.slice(0, third));
    const lastThird = mean(numbers.slice(-third));
    return {
      series: series.name,
      firstThird: Math.round(firstThird * 10) / 10,
      lastThird: Math.round(lastThird * 10) / 10,
      max: Math.max(...numbers),
      grew: missing || lastThird > firstThird * 1.5 + series.slack,
    };
  });
}

const WIDTH = 960;
const PANEL_HEIGHT = 150;
const LEFT = 70;
const RIGHT = 30;

export function soakSvg(report: SoakReport): string {
  const parts: string[] = [];
  const maxMinute = Math.max(report.minutes, ...report.samples.map((s) => s.minute));
  const x = (minute: number) => LEFT + (minute / maxMinute) * (WIDTH - LEFT - RIGHT);
  let y = 50;
  for (const series of SERIES) {
    const points = report.samples
      .map((s) => ({ minute: s.minute, value: series.pick(s) }))
      .filter((p): p is { minute: number; value: number } => p.value !== null);
    const top = Math.max(1, ...points.map((p) => p.value)) * 1.15;
    const py = (value: number) => y + 30 + (1 - value / top) * (PANEL_HEIGHT - 50);
    const verdict = report.verdicts.find((v) => v.series === series.name);
    parts.push(
      `<text x="10" y="${y + 16}" font-size="14" font-weight="bold">${escapeXml(`${series.name} (${series.unit})`)}</text>`,
      `<text x="${WIDTH - RIGHT}" y="${y + 16}" font-size="12" text-anchor="end" fill="${verdict?.grew ? "#c00" : "#2a7"}">${verdict?.grew ? "GREW" : "bounded"}</text>`,
      `<line x1="${LEFT}" y1="${py(0)}" x2="${WIDTH - RIGHT}" y2="${py(0)}" stroke="#999"/>`,
      `<line x1="${LEFT}" y1="${py(top / 1.15)}" x2="${WIDTH - RIGHT}" y2="${py(top / 1.15)}" stroke="#eee"/>`,
      `<text x="${LEFT - 6}" y="${py(top / 1.15) + 4}" font-size="10" text-anchor="end" fill="#555">${Math.round(top / 1.15)}</text>`,
      `<text x="${LEFT - 6}" y="${py(0) + 4}" font-size="10" text-anchor="end" fill="#555">0</text>`,
    );
    if (points.length > 0) {
      const path = points.map((p) => `${x(p.minute).toFixed(1)},${py(p.value).toFixed(1)}`);
      parts.push(
        `<polyline fill="none" stroke="#4c78a8" stroke-width="2" points="${path.join(" ")}"/>`,
        ...points.map(
          (p) =>
            `<circle cx="${x(p.minute).toFixed(1)}" cy="${py(p.value).toFixed(1)}" r="2.5" fill="#4c78a8"/>`,
        ),
      );
    }
    y += PANEL_HEIGHT;
  }
  for (let minute = 0; minute <= maxMinute; minute += Math.max(1, Math.ceil(maxMinute / 10))) {
    parts.push(
      `<text x="${x(minute).toFixed(1)}" y="${y + 4}" font-size="10" text-anchor="middle" fill="#555">${minute}</text>`,
    );
  }
  parts.push(
    `<text x="${WIDTH / 2}" y="${y + 22}" font-size="11" text-anchor="middle">minutes</text>`,
  );
  const height = y + 36;
  const title = `Soak: ${report.minutes} min on ${report.runtime}; commit ${report.commit}; ${report.startedAt}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, sans-serif">
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="22" font-size="13" fill="#333">${escapeXml(title)}</text>
${parts.join("\n")}
</svg>
`;
}
