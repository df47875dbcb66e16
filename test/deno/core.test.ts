/**
 * The core stays runnable on Deno (issue 16): every module of src/protocol, src/core and
 * src/app (when it exists) loads here, and none depends, directly or through another, on a
 * `node:` or `cloudflare:` module. Run by test/unit/deno-core.test.ts.
 */
import { assertEquals } from "./assert.ts";

const ROOTS = ["src/protocol", "src/core", "src/app"];
const root = new URL("../../", import.meta.url);

async function modulesUnder(dir: URL): Promise<URL[]> {
  const found: URL[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      const url = new URL(entry.isDirectory ? `${entry.name}/` : entry.name, dir);
      if (entry.isDirectory) found.push(...(await modulesUnder(url)));
      else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) found.push(url);
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return found;
}

const modules = (await Promise.all(ROOTS.map((dir) => modulesUnder(new URL(`${dir}/`, root)))))
  .flat()
  .sort((a, b) => a.href.localeCompare(b.href));

Deno.test("the core has modules to check", () => {
  if (modules.length < 20) throw new Error(`only ${modules.length} modules found under ${ROOTS}`);
});

Deno.test("every module of the core loads under Deno", async () => {
  const failed: string[] = [];
  for (const module of modules) {
    await import(module.href).catch((err: unknown) => failed.push(`${module.pathname}: ${err}`));
  }
  assertEquals(failed, [], "modules that did not load");
});

Deno.test("no module of the core depends on a node: or cloudflare: module", async () => {
  const entry = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(entry, modules.map((m) => `import "${m.href}";\n`).join(""));
    const info = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", "--config=test/deno/deno.json", "--no-remote", entry],
      cwd: root,
      stderr: "inherit",
    }).output();
    if (!info.success) throw new Error("deno info failed");
    const graph: { modules: { specifier: string }[] } = JSON.parse(
      new TextDecoder().decode(info.stdout),
    );
    const platform = graph.modules
      .map((m) => m.specifier)
      .filter((s) => s.startsWith("node:") || s.startsWith("cloudflare:"));
    assertEquals(platform, [], "node: and cloudflare: modules in the core's graph");
  } finally {
    await Deno.remove(entry);
  }
});
