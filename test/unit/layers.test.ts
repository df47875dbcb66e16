/**
 * The layers, lowest first: src/protocol → src/core → src/app → src/mirrors, src/http, src/sdk →
 * src/workers. A module reaches (through its relative imports, followed to the end) no module of
 * a higher layer, and the three lowest name no `cloudflare:` module.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");
const CORE = ["src/protocol", "src/core", "src/app"];
/** Each folder's rank; a module may reach its own rank and lower ones. */
const LAYERS: [string, number][] = [
  ["src/protocol/", 0],
  ["src/core/", 1],
  ["src/app/", 2],
  ["src/mirrors/", 3],
  ["src/http/", 3],
  ["src/sdk/", 3],
  ["src/workers/", 4],
];

function rankOf(file: string): number | undefined {
  return LAYERS.find(([folder]) => file.startsWith(folder))?.[1];
}

function modulesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return modulesUnder(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** Every `from "…"`, `import "…"` and `import("…")` specifier of a module's source. */
function specifiers(source: string): string[] {
  const found = source.matchAll(/(?:\bfrom\s+|\bimport\s*\(?\s*)["']([^"']+)["']/g);
  return [...found].map((match) => match[1] ?? "");
}

/** The modules reached from `entries`, each with the specifiers it names. */
function importGraph(entries: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const pending = [...entries];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (graph.has(file)) continue;
    const named = specifiers(readFileSync(file, "utf8"));
    graph.set(file, named);
    for (const specifier of named) {
      if (specifier.startsWith(".")) pending.push(resolve(dirname(file), specifier));
    }
  }
  return graph;
}

describe("the core's import graph", () => {
  const graph = importGraph(CORE.flatMap((dir) => modulesUnder(join(root, dir))));

  it("covers the core's modules", () => {
    expect(graph.size).toBeGreaterThan(30);
  });

  it("names no cloudflare: module", () => {
    const offending = [...graph].flatMap(([file, named]) =>
      named.filter((s) => s.startsWith("cloudflare:")).map((s) => `${relative(root, file)} → ${s}`),
    );
    expect(offending).toEqual([]);
  });

  it("reaches nothing under src/workers", () => {
    const reached = [...graph.keys()].map((file) => relative(root, file));
    expect(reached.filter((file) => file.startsWith("src/workers/"))).toEqual([]);
  });

  it("would see a cloudflare: import written any of the ways TypeScript allows", () => {
    const source = [
      'import { env } from "cloudflare:workers";',
      'export { connect } from "cloudflare:sockets";',
      'await import("cloudflare:email");',
    ].join("\n");
    expect(specifiers(source)).toEqual([
      "cloudflare:workers",
      "cloudflare:sockets",
      "cloudflare:email",
    ]);
  });
});

describe("each layer's import graph", () => {
  for (const [folder, rank] of LAYERS) {
    it(`${folder} reaches no module of a higher layer`, () => {
      const graph = importGraph(modulesUnder(join(root, folder)));
      const upward = [...graph.keys()]
        .map((file) => relative(root, file))
        .filter((file) => (rankOf(file) ?? 0) > rank);
      expect(upward).toEqual([]);
    });
  }
});
