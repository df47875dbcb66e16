import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const mirrors = resolve(import.meta.dirname, "../../../src/mirrors");

/**
 * A Worker in a temp folder, standing in for the gateway in stack tests so they do not depend on
 * the gateway's own code: it reports its env, and runs the real mirrors inside workerd.
 *
 *   GET  /env              → the string vars it was started with
 *   POST /mirror?user=ID   → writes an online snapshot through both mirrors, answers the results
 */
export function writeThrowawayWorker(devVars: string): { dir: string; configPath: string } {
  const dir = mkdtempSync(join(tmpdir(), "stack-worker-"));
  writeFileSync(
    join(dir, "wrangler.toml"),
    `name = "stack-probe"
main = "worker.ts"
compatibility_date = "2026-11-01"

[vars]
PRESENCE_GRACE_MS = "5000"
FROM_TOML = "toml"
`,
  );
  writeFileSync(join(dir, ".dev.vars"), devVars);
  writeFileSync(
    join(dir, "worker.ts"),
    `import { NeonPostgresMirror } from ${JSON.stringify(`${mirrors}/postgres.ts`)};
import { UpstashRedisMirror } from ${JSON.stringify(`${mirrors}/redis.ts`)};

export default {
  async fetch(request: Request, env: Record<string, unknown>): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/env") {
      return Response.json(Object.fromEntries(Object.entries(env).filter(([, v]) => typeof v === "string")));
    }
    if (url.pathname === "/mirror") {
      const userId = url.searchParams.get("user") ?? "probe";
      const snapshot = { userId, isOnline: true, connectionIds: ["w1", "w2"], connectionCount: 2,
        lastSeen: null, version: 1, username: "probe", isStaff: false, isSuperuser: false };
      const result: Record<string, unknown> = {};
      try {
        if (env.UPSTASH_REDIS_REST_URL) {
          await new UpstashRedisMirror({ url: String(env.UPSTASH_REDIS_REST_URL),
            token: String(env.UPSTASH_REDIS_REST_TOKEN), keyPrefix: String(env.REDIS_KEY_PREFIX ?? "") }).write(snapshot);
          result.redis = "written";
        }
        result.postgres = await new NeonPostgresMirror({ databaseUrl: String(env.DATABASE_URL),
          neonWsProxy: env.NEON_WS_PROXY ? String(env.NEON_WS_PROXY) : undefined }).write(snapshot);
      } catch (err) {
        result.error = err instanceof Error ? err.message : String(err);
      }
      return Response.json(result);
    }
    return new Response("not found", { status: 404 });
  },
};
`,
  );
  return { dir, configPath: join(dir, "wrangler.toml") };
}
