/**
 * The client SDK's weight as a browser app would ship it: src/sdk/client.ts bundled by esbuild,
 * minified, gzipped (level 9).
 *   npm exec -- node scripts/size.ts [--budget 8192]
 * Fails when the gzipped size is over the budget (bytes, default 8192), or when the bundle pulls
 * in anything from outside src/sdk (the client may import types from elsewhere, never code).
 */
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const { values } = parseArgs({ options: { budget: { type: "string", default: "8192" } } });
const budget = Number(values.budget);
const entry = "src/sdk/client.ts";

const result = await build({
  entryPoints: [entry],
  bundle: true,
  minify: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  write: false,
  metafile: true,
  logLevel: "warning",
});

const output = result.outputFiles[0];
if (!output) throw new Error("esbuild produced no output");
const minified = output.contents;
const gzipped = gzipSync(minified, { level: 9 });
const inputs = Object.keys(result.metafile.inputs).sort();
const foreign = inputs.filter((path) => !path.startsWith("src/sdk/"));

const kb = (bytes: number) => `${(bytes / 1024).toFixed(2)} KB`;
console.log(`${entry}: ${inputs.length} modules (${inputs.join(", ")})`);
console.log(`  minified         ${minified.byteLength} bytes (${kb(minified.byteLength)})`);
console.log(`  minified + gzip  ${gzipped.byteLength} bytes (${kb(gzipped.byteLength)})`);
console.log(`  budget           ${budget} bytes (${kb(budget)})`);

if (foreign.length > 0) {
  console.error(`the client bundle includes code from outside src/sdk: ${foreign.join(", ")}`);
  process.exitCode = 1;
}
if (gzipped.byteLength > budget) {
  console.error(`over budget by ${gzipped.byteLength - budget} bytes`);
  process.exitCode = 1;
}
