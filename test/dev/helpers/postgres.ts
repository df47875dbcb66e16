import { randomBytes } from "node:crypto";
import { type NeonProxy, startNeonProxy } from "../../../dev/neon-proxy.ts";
import { withNeonClient } from "../../../src/mirrors/neon.ts";

export const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/**
 * The machine's Postgres reached the way the Worker reaches it (Neon driver → our proxy), with
 * a fresh schema per test file so parallel runs and other suites never see each other's rows.
 */
export interface PostgresTestContext {
  databaseUrl: string;
  neonWsProxy: string;
  /** `t_<random>`, already created. */
  schema: string;
  query<Row = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<Row[]>;
  close(): Promise<void>;
}

export async function startPostgresTestContext(): Promise<PostgresTestContext> {
  const url = new URL(TEST_DATABASE_URL);
  const proxy: NeonProxy = await startNeonProxy({
    port: 0,
    allowedTargets: [`${url.hostname}:${url.port || 5432}`],
  });
  const schema = `t_${randomBytes(6).toString("hex")}`;
  const connection = { databaseUrl: TEST_DATABASE_URL, neonWsProxy: proxy.wsProxy };
  const query = async <Row>(sql: string, params: unknown[] = []): Promise<Row[]> =>
    withNeonClient(connection, async (client) => {
      await client.query(`set search_path to "${schema}"`);
      return (await client.query(sql, params)).rows as Row[];
    });
  await withNeonClient(connection, (client) => client.query(`create schema "${schema}"`));
  return {
    ...connection,
    schema,
    query,
    async close() {
      await withNeonClient(connection, (client) =>
        client.query(`drop schema if exists "${schema}" cascade`),
      );
      await proxy.close();
    },
  };
}
