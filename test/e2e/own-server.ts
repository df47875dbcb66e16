/**
 * A gateway of a test file's own on `npm start`'s runtime (`workerd serve`, storage on disk):
 * a free port, its own data directory, Postgres database and Redis key prefix, the e2e vars,
 * and the test secrets passed the way `npm start` passes every secret (workerd's environment).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startWorkerdServer, type WorkerdServer } from "../../dev/workerd-server.ts";
import { E2E_VARS } from "../helpers/e2e-config.ts";
import { TEST_API_KEY, TEST_JWT_SECRET } from "../helpers/secrets.ts";
import { createDatabase } from "./mirror-probe.ts";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

export interface OwnServer {
  stack: WorkerdServer;
  databaseUrl: string;
  redisKeyPrefix: string;
  /** Stops workerd and its services, drops the database and removes the data directory. */
  stop(options?: { keepDir?: boolean }): Promise<void>;
}

export interface OwnServerOptions {
  /** Hears every line workerd prints. */
  onWorkerdOutput?: (line: string) => void;
  /** Where the data directory goes. Default the system's temporary directory (disk). */
  dataRoot?: string;
  /** Plain vars over the e2e ones (E2E_VARS), e.g. the default grace period back. */
  vars?: Record<string, string>;
}

/** `name` labels the database, directory and key prefix; `env` adds settings (secrets too). */
export async function startOwnServer(
  name: string,
  env: Record<string, string> = {},
  options: OwnServerOptions = {},
): Promise<OwnServer> {
  const { onWorkerdOutput, dataRoot = tmpdir(), vars: extraVars = {} } = options;
  const database = await createDatabase(name);
  const workDir = mkdtempSync(join(dataRoot, `gateway-${name}-`));
  const redisKeyPrefix = `${name}:${Date.now().toString(36)}:`;
  const { JWT_SECRET: _secret, API_KEY: _key, ...vars } = E2E_VARS;
  try {
    const stack = await startWorkerdServer({
      dataDir: workDir,
      port: 0,
      devVars: {},
      env: {
        DATABASE_URL: database.url,
        REDIS_KEY_PREFIX: redisKeyPrefix,
        JWT_SECRET: TEST_JWT_SECRET,
        API_KEY: TEST_API_KEY,
        ...env,
      },
      redisUrl: REDIS_URL,
      vars: { ...vars, ...extraVars },
      ...(onWorkerdOutput ? { onWorkerdOutput } : {}),
    });
    return {
      stack,
      databaseUrl: database.url,
      redisKeyPrefix,
      async stop(options = {}) {
        await stack.stop();
        await database.drop().catch(() => undefined);
        if (!options.keepDir) rmSync(workDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await database.drop().catch(() => undefined);
    rmSync(workDir, { recursive: true, force: true });
    throw err;
  }
}
