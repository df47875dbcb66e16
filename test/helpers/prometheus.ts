/**
 * Reading a `/metrics` answer as Prometheus would: parsed with parse-prometheus-text-format
 * (a port of the Prometheus Python client's parser), after the structural rules of the text
 * exposition format 0.0.4 that a lenient parser lets pass: every sample belongs to a family
 * declared once with `# HELP` and `# TYPE` before its samples, no series twice, the text ends
 * with a newline, every value is a float.
 */
/// <reference path="./parse-prometheus-text-format.d.ts" />
import parsePrometheusTextFormat from "parse-prometheus-text-format";

export interface Scrape {
  /** The value of one series (labels matched exactly), or undefined when absent. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** A histogram's buckets (upper bound → cumulative count), count and sum. */
  histogram(name: string): { buckets: Record<string, number>; count: number; sum: number };
  families: ReturnType<typeof parsePrometheusTextFormat>;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/;

function checkStructure(text: string): void {
  if (!text.endsWith("\n")) throw new Error("exposition must end with a newline");
  const declared = new Map<string, string>();
  const helped = new Set<string>();
  const seen = new Set<string>();
  for (const line of text.slice(0, -1).split("\n")) {
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name = "", rest = ""] = meta;
      if (kind === "TYPE") {
        if (declared.has(name)) throw new Error(`TYPE ${name} declared twice`);
        if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(rest)) {
          throw new Error(`TYPE ${name}: unknown type ${rest}`);
        }
        declared.set(name, rest);
      } else {
        if (helped.has(name)) throw new Error(`HELP ${name} given twice`);
        helped.add(name);
      }
      continue;
    }
    const sample = SAMPLE.exec(line);
    if (!sample) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const [, name = "", labels = "", value = ""] = sample;
    const family = [name, name.replace(/_(bucket|sum|count)$/, "")].find((n) => declared.has(n));
    if (family === undefined) throw new Error(`sample ${name} before its # TYPE`);
    if (family !== name && declared.get(family) !== "histogram") {
      throw new Error(`sample ${name} is not part of ${family}`);
    }
    if (!/^([+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|[+-]Inf|NaN)$/.test(value)) {
      throw new Error(`sample ${name}: ${value} is not a float`);
    }
    const series = `${name}${labels}`;
    if (seen.has(series)) throw new Error(`series ${series} given twice`);
    seen.add(series);
  }
}

export function readScrape(text: string): Scrape {
  checkStructure(text);
  const families = parsePrometheusTextFormat(text);
  const family = (name: string) => families.find((f) => f.name === name);
  const same = (a: Record<string, string> = {}, b: Record<string, string> = {}) =>
    Object.keys(a).length === Object.keys(b).length &&
    Object.entries(a).every(([key, value]) => b[key] === value);
  return {
    families,
    value(name, labels = {}) {
      const sample = family(name)?.metrics.find((m) => same(m.labels, labels));
      return sample?.value === undefined ? undefined : Number(sample.value);
    },
    histogram(name) {
      const sample = family(name)?.metrics[0];
      if (sample?.buckets === undefined) throw new Error(`${name} is not a histogram`);
      return {
        buckets: Object.fromEntries(
          Object.entries(sample.buckets).map(([bound, count]) => [bound, Number(count)]),
        ),
        count: Number(sample.count),
        sum: Number(sample.sum),
      };
    },
  };
}
