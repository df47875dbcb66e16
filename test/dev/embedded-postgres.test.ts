import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DataDirInUseError,
  type EmbeddedPostgres,
  startEmbeddedPostgres,
} from "../../dev/embedded-postgres.ts";
import { type NeonProxy, startNeonProxy } from "../../dev/neon-proxy.ts";
import { migrate } from "../../scripts/migrate.ts";
import { createNeonClient, withNeonClient } from "../../src/mirrors/neon.ts";
import { proxiedPool } from "./helpers/neon.ts";

describe("embedded Postgres (PGlite) behind the Neon proxy", () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), "pglite-test-")), "db");
  let pg: EmbeddedPostgres;
  let proxy: NeonProxy;

  async function open(): Promise<void> {
    pg = await startEmbeddedPostgres({ dataDir, port: 0 });
    proxy = await startNeonProxy({ port: 0, allowedTargets: [`127.0.0.1:${pg.port}`] });
  }
  async function shut(): Promise<void> {
    await proxy?.close();
    await pg?.close();
  }
  const query = (sql: string, params: unknown[] = []) =>
    withNeonClient({ databaseUrl: pg.url, neonWsProxy: proxy.wsProxy }, async (client) => {
      return (await client.query(sql, params)).rows;
    });

  beforeAll(open, 60_000);
  afterAll(async () => {
    await shut();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(`${dataDir}.lock`, { force: true });
  });

  it("answers the Neon Client with parameters bound", async () => {
    expect(await query("select $1::text || '!' as shout", ["hi"])).toEqual([{ shout: "hi!" }]);
  });

  it("hangs up after the client's Terminate, so the Neon client's end() returns at once", async () => {
    const client = createNeonClient({ databaseUrl: pg.url, neonWsProxy: proxy.wsProxy });
    client.on("error", () => {});
    await client.connect();
    await client.query("select 1");
    const started = performance.now();
    await client.end();
    expect(performance.now() - started).toBeLessThan(500);
  });

  it("keeps data across a restart on the same folder", async () => {
    await query("create table kept (id int primary key)");
    await query("insert into kept values (41), (42)");
    await shut();
    await open();
    expect(await query("select id from kept order by id")).toEqual([{ id: 41 }, { id: 42 }]);
  }, 60_000);

  it("refuses to open a folder that is already open", async () => {
    await expect(startEmbeddedPostgres({ dataDir, port: 0 })).rejects.toBeInstanceOf(
      DataDirInUseError,
    );
  });

  it("serves several connections of a Neon Pool at once, beyond pglite-socket's default of 1", async () => {
    const pool = proxiedPool(pg.url, proxy.wsProxy, 6);
    try {
      const clients = await Promise.all(Array.from({ length: 6 }, () => pool.connect()));
      const rows = await Promise.all(
        clients.map(async (client, i) => (await client.query("select $1::int as i", [i])).rows),
      );
      expect(rows).toEqual(Array.from({ length: 6 }, (_, i) => [{ i }]));
      for (const client of clients) client.release();
    } finally {
      await pool.end();
    }
  });

  it("keeps concurrent statements with different texts and parameters apart", async () => {
    const pool = proxiedPool(pg.url, proxy.wsProxy, 8);
    try {
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          pool.query(`select $1::int * 3 as x, $2::text as s, ${i} as n${i % 7}`, [i, `s${i}`]),
        ),
      );
      results.forEach((result, i) => {
        expect(result.rows).toEqual([{ x: i * 3, s: `s${i}`, [`n${i % 7}`]: i }]);
      });
    } finally {
      await pool.end();
    }
  });

  it("runs concurrent BEGIN … COMMIT upserts with ON CONFLICT … WHERE from pooled clients", async () => {
    await query("create table counters (k int primary key, v int not null, version int not null)");
    const pool = proxiedPool(pg.url, proxy.wsProxy, 8);
    try {
      await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          const client = await pool.connect();
          try {
            await client.query("begin");
            await client.query(
              `insert into counters (k, v, version) values ($1, 1, $2)
               on conflict (k) do update set v = counters.v + 1, version = excluded.version
               where counters.version < excluded.version`,
              [i % 4, i],
            );
            await client.query("commit");
          } finally {
            client.release();
          }
        }),
      );
      const rows = await query("select k, v, version from counters order by k");
      // Whatever order the transactions committed in, the highest version wins, and a write that
      // arrived after a newer one was skipped by the WHERE (so at most 10 applied per key).
      expect(rows.map((r) => [r.k, r.version])).toEqual([0, 1, 2, 3].map((k) => [k, 36 + k]));
      for (const { v } of rows) expect(v).toBeGreaterThanOrEqual(1);
      for (const { v } of rows) expect(v).toBeLessThanOrEqual(10);
    } finally {
      await pool.end();
    }
  });

  it("takes the project's migrations, idempotently", async () => {
    const options = { neonWsProxy: proxy.wsProxy };
    const first = await migrate(pg.url, options);
    expect(first.applied).toHaveLength(3);
    expect(await migrate(pg.url, options)).toEqual({
      applied: [],
      unchanged: first.applied,
      skipped: [],
    });
    expect(await query("select count(*)::int as n from realtime_presence")).toEqual([{ n: 0 }]);
  });
});
