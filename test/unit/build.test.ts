/**
 * The package build (scripts/build.ts): each entry is one self-contained ES module that works
 * with nothing but fetch, and its declarations compile in a strict consumer project.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPackage } from "../../scripts/build.ts";

const root = resolve(import.meta.dirname, "../..");
let dir = "";
let dist = "";

beforeAll(async () => {
  // Inside node_modules/.cache, so the consumer below resolves packages (valibot types) from ours.
  const cache = join(root, "node_modules/.cache");
  mkdirSync(cache, { recursive: true });
  dir = mkdtempSync(join(cache, "gateway-build-"));
  dist = join(dir, "dist");
  await buildPackage(dist);
}, 60_000);

afterAll(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

describe("package build", () => {
  it("bundles each entry into one module without imports", () => {
    for (const name of ["server", "client"]) {
      const code = readFileSync(join(dist, `${name}.js`), "utf8");
      expect(code, name).not.toMatch(/^\s*import\s/m);
      expect(code, name).not.toMatch(/\brequire\(/);
    }
  });

  it("bundles the hook with only react and the built client as imports", () => {
    const code = readFileSync(join(dist, "react.js"), "utf8");
    const imports = [...code.matchAll(/^\s*import\s[^;]*?from\s*"([^"]+)"/gm)].map((m) => m[1]);
    expect(new Set(imports)).toEqual(new Set(["./client.js", "react"]));
    expect(code).not.toMatch(/class RealtimeClient\b/);
  });

  it("runs the built server SDK with only a fetch", async () => {
    const sdk = await import(pathToFileURL(join(dist, "server.js")).href);
    const calls: { url: string; init: RequestInit }[] = [];
    const realtime = sdk.createRealtime({
      baseUrl: "https://realtime.example.com/",
      apiKey: "k",
      fetch: async (url: string, init: RequestInit) => {
        calls.push({ url, init });
        return Response.json({ users: [{ user_id: "42", connection_count: 2 }], count: 1 });
      },
    });
    expect(await realtime.online.getAllOnlineUsers()).toEqual([
      { userId: "42", connectionCount: 2 },
    ]);
    expect(calls[0]?.url).toBe("https://realtime.example.com/api/v1/users/online");
    expect(new Headers(calls[0]?.init.headers).get("authorization")).toBe("Bearer k");
    const error = sdk.RealtimeApiError.from(new Error("[gateway:user_not_found] no such user: 1"));
    expect(error).toMatchObject({ code: "user_not_found", status: 404 });
    const busy = sdk.RealtimeApiError.from(new Error("[gateway:unavailable:1000] busy"));
    expect(busy).toMatchObject({ code: "unavailable", status: 503, retryAfterMs: 1_000 });
  });

  it("ships declarations a strict TypeScript consumer compiles against, README's React example too", () => {
    const consumer = join(dir, "consumer.ts");
    // The README's ```tsx block under "## React", importing the built entry.
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const react = /^## React\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1] ?? "";
    const example = /```tsx\n([\s\S]*?)```/.exec(react)?.[1] ?? "";
    expect(example).toContain('from "edge-realtime-gateway/react"');
    writeFileSync(
      join(dir, "inbox.tsx"),
      example.replace('"edge-realtime-gateway/react"', '"./dist/react.js"'),
    );
    writeFileSync(
      consumer,
      [
        'import { createRealtime, RealtimeApiError, type RealtimeServiceBinding } from "./dist/server.js";',
        'import { createClient } from "./dist/client.js";',
        'import { useRealtime, type UseRealtimeResult } from "./dist/react.js";',
        "type Hook = (o: { url: string; token: () => string }) => UseRealtimeResult;",
        "const hook: Hook = useRealtime;",
        "void hook;",
        'const realtime = createRealtime({ baseUrl: "https://x.example", apiKey: "k" });',
        "const online: Promise<boolean> = realtime.online.isUserOnline(42);",
        "const binding: RealtimeServiceBinding | null = null;",
        "const code: string | undefined = RealtimeApiError.from(null)?.code;",
        "void online; void binding; void code; void createClient;",
        "",
      ].join("\n"),
    );
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2022",
          lib: ["es2022", "dom"],
          jsx: "react-jsx",
          types: [],
        },
        files: ["consumer.ts", "inbox.tsx"],
      }),
    );
    const tsc = spawnSync(join(root, "node_modules/.bin/tsc"), ["-p", "tsconfig.json"], {
      cwd: dir,
      encoding: "utf8",
    });
    expect(tsc.stdout + tsc.stderr).toBe("");
    expect(tsc.status).toBe(0);
  }, 60_000);
});
