import { neonConfig, Pool } from "@neondatabase/serverless";

/**
 * A Neon Pool that reaches Postgres through a local proxy. Sets the module-wide neonConfig,
 * which is fine in a test file (vitest gives each file its own module graph); product code
 * configures each client instead (src/mirrors/neon.ts).
 */
export function proxiedPool(connectionString: string, wsProxy: string, max = 5): Pool {
  neonConfig.wsProxy = (host, port) => `${wsProxy}?address=${host}:${port}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false;
  const pool = new Pool({ connectionString, max });
  pool.on("error", () => {});
  return pool;
}
