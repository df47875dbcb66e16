/**
 * Reading the gateway's `GET /metrics` (Prometheus text format 0.0.4) in the browser: each
 * sample line as name, labels and value. Comments (# HELP, # TYPE) and timestamps are skipped.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?\s*$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/y;

function unescapeLabel(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
}

function parseValue(text: string): number {
  if (text === "+Inf") return Number.POSITIVE_INFINITY;
  if (text === "-Inf") return Number.NEGATIVE_INFINITY;
  return Number(text);
}

function parseLabels(text: string): Record<string, string> | null {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const match = LABEL.exec(text);
    if (match === null) return text.slice(LABEL.lastIndex).trim() === "" ? labels : null;
    labels[match[1] ?? ""] = unescapeLabel(match[2] ?? "");
  }
  return labels;
}

/** Every readable sample; a line that is not one is skipped, never fatal. */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const match = SAMPLE.exec(trimmed);
    if (match === null) continue;
    const labels = parseLabels(match[2] ?? "");
    const value = parseValue(match[3] ?? "");
    if (labels === null || Number.isNaN(value)) continue;
    samples.push({ name: match[1] ?? "", labels, value });
  }
  return samples;
}

/** The sum of a metric over all its label sets; null when the text has no such metric. */
export function total(samples: readonly Sample[], name: string): number | null {
  let sum: number | null = null;
  for (const sample of samples) if (sample.name === name) sum = (sum ?? 0) + sample.value;
  return sum;
}
