/**
 * Builds the package's three entry points into dist/:
 *   ./server → dist/server.js (+ .d.ts)   src/sdk/server.ts, the server SDK
 *   ./client → dist/client.js (+ .d.ts)   src/sdk/client.ts, the browser/Node client SDK
 *   ./react  → dist/react.js  (+ .d.ts)   src/react/index.ts, the `useRealtime` hook
 *
 *   npm exec -- node scripts/build.ts [--out-dir dist]
 *
 * Each bundle is one ES module (esbuild; not minified, with a source map). The SDKs are
 * self-contained: they import nothing at run time, and the build fails if either pulls code
 * from outside src/sdk and src/protocol (the contract they share with the gateway: error codes,
 * the disconnect table; it imports nothing). The hook imports only `react` (a peer dependency)
 * and `./client.js`, so an app that uses both entries has one copy of the client (one
 * `RealtimeError` class). Declarations come from `tsc -p tsconfig.build.json` into dist/types, with the
 * source's `.ts` import specifiers rewritten to `.js`; dist/{server,client}.d.ts re-export them.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { build, type Plugin } from "esbuild";

const ENTRIES = {
  server: "src/sdk/server.ts",
  client: "src/sdk/client.ts",
  react: "src/react/index.ts",
} as const;

/** Where each entry's code may come from; anything else bundled fails the build. */
const SOURCES: Record<keyof typeof ENTRIES, readonly string[]> = {
  server: ["src/sdk/", "src/protocol/"],
  client: ["src/sdk/", "src/protocol/"],
  react: ["src/react/"],
};

/** The hook's imports of the client SDK become imports of the built client entry. */
const clientAsSibling: Plugin = {
  name: "client-as-sibling",
  setup(build) {
    build.onResolve({ filter: /\/sdk\/client\.ts$/ }, () => ({
      path: "./client.js",
      external: true,
    }));
  },
};

/** Relative specifiers ending in `.ts`, in `from "…"`, `import("…")` and `export … from "…"`. */
const TS_SPECIFIER = /((?:from\s+|import\()\s*["'])(\.{1,2}\/[^"']+?)\.ts(["'])/g;

function declarationFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return declarationFiles(path);
    return entry.name.endsWith(".d.ts") ? [path] : [];
  });
}

export async function buildPackage(outDir: string): Promise<Record<string, number>> {
  const root = resolve(import.meta.dirname, "..");
  const out = resolve(root, outDir);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });

  const sizes: Record<string, number> = {};
  for (const [name, entry] of Object.entries(ENTRIES)) {
    if (!existsSync(join(root, entry))) throw new Error(`build: ${entry} is missing`);
    const result = await build({
      absWorkingDir: root,
      entryPoints: [entry],
      outfile: join(out, `${name}.js`),
      bundle: true,
      format: "esm",
      platform: "neutral",
      target: "es2022",
      sourcemap: true,
      metafile: true,
      logLevel: "warning",
      ...(name === "react" ? { external: ["react"], plugins: [clientAsSibling] } : {}),
    });
    const sources = SOURCES[name as keyof typeof ENTRIES];
    const foreign = Object.keys(result.metafile.inputs).filter(
      (p) => !sources.some((source) => p.startsWith(source)),
    );
    if (foreign.length > 0) {
      throw new Error(
        `build: ${entry} bundles code from outside ${sources.join(" and ")}: ${foreign.join(", ")}`,
      );
    }
    const bytes = readFileSync(join(out, `${name}.js`));
    sizes[name] = bytes.byteLength;
    sizes[`${name} (gzip)`] = gzipSync(bytes, { level: 9 }).byteLength;
  }

  const tsc = join(root, "node_modules/.bin/tsc");
  const typesDir = join(out, "types");
  const compiled = spawnSync(tsc, ["-p", "tsconfig.build.json", "--outDir", typesDir], {
    cwd: root,
    encoding: "utf8",
  });
  if (compiled.status !== 0) {
    throw new Error(
      `build: tsc -p tsconfig.build.json failed\n${compiled.stdout}${compiled.stderr}`,
    );
  }
  for (const file of declarationFiles(typesDir)) {
    const text = readFileSync(file, "utf8");
    writeFileSync(file, text.replace(TS_SPECIFIER, "$1$2.js$3"));
  }
  for (const [name, entry] of Object.entries(ENTRIES)) {
    const declaration = relative(out, join(typesDir, entry.replace(/^src\//, ""))).replace(
      /\.ts$/,
      ".js",
    );
    writeFileSync(join(out, `${name}.d.ts`), `export * from "./${declaration}";\n`);
  }
  return sizes;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { "out-dir": { type: "string", default: "dist" } } });
  const outDir = values["out-dir"] ?? "dist";
  const sizes = await buildPackage(outDir);
  for (const [name, bytes] of Object.entries(sizes)) {
    console.log(
      `${outDir}/${name.replace(/ .*/, "")}.js ${name.includes("gzip") ? "gzip " : ""}${bytes} bytes`,
    );
  }
}
