import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type NeonProxy, parseTarget, startNeonProxy } from "../../dev/neon-proxy.ts";
import { withNeonClient } from "../../src/mirrors/neon.ts";
import { proxiedPool } from "./helpers/neon.ts";

const PG_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const pgTarget = `${new URL(PG_URL).hostname}:${new URL(PG_URL).port || 5432}`;

/** A TCP server standing in for Postgres, so byte relaying and closing can be observed. */
async function startTcpTarget() {
  const server: Server = createServer((socket) => socket.on("error", () => {}));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return { address: `127.0.0.1:${port}`, server };
}

/** Opens a client socket through the proxy and returns it with the TCP connection it caused. */
async function openRelay(
  proxy: NeonProxy,
  target: { address: string; server: Server },
): Promise<{ ws: WebSocket; upstream: Socket }> {
  const connection = once(target.server, "connection") as Promise<[Socket]>;
  const ws = new WebSocket(`ws://${proxy.wsProxy}?address=${target.address}`);
  await once(ws, "open");
  const [upstream] = await connection;
  return { ws, upstream };
}

describe("the Neon WebSocket proxy", () => {
  let tcp: Awaited<ReturnType<typeof startTcpTarget>>;
  let proxy: NeonProxy;

  beforeAll(async () => {
    tcp = await startTcpTarget();
    proxy = await startNeonProxy({ port: 0, allowedTargets: [pgTarget, tcp.address] });
  });
  afterAll(async () => {
    await proxy?.close();
    tcp?.server.close();
  });

  it("runs queries for the Neon Client against a real Postgres", async () => {
    const rows = await withNeonClient(
      { databaseUrl: PG_URL, neonWsProxy: proxy.wsProxy },
      async (client) => (await client.query("select $1::text as echo, 1 + 1 as two", ["hé"])).rows,
    );
    expect(rows).toEqual([{ echo: "hé", two: 2 }]);
  });

  it("serves concurrent queries and a transaction from a Neon Pool", async () => {
    const pool = proxiedPool(PG_URL, proxy.wsProxy, 5);
    try {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          pool.query("select $1::int * 2 as doubled, pg_sleep(0.01)", [i]),
        ),
      );
      expect(results.map((r) => r.rows[0].doubled)).toEqual(
        Array.from({ length: 20 }, (_, i) => i * 2),
      );
      const client = await pool.connect();
      try {
        await client.query("begin");
        await client.query("create temp table t_proxy (n int) on commit drop");
        await client.query("insert into t_proxy values (1), (2)");
        const { rows } = await client.query("select sum(n)::int as total from t_proxy");
        await client.query("commit");
        expect(rows).toEqual([{ total: 3 }]);
      } finally {
        client.release();
      }
    } finally {
      await pool.end();
    }
  });

  it("relays binary frames byte for byte in both directions", async () => {
    const { ws, upstream } = await openRelay(proxy, tcp);
    const sent = Buffer.from([0, 1, 2, 250, 255, 0x51]);
    const received = once(upstream, "data");
    ws.send(sent);
    expect(Buffer.compare((await received)[0], sent)).toBe(0);

    const back = Buffer.alloc(256 * 1024, 7);
    const chunks: Buffer[] = [];
    ws.on("message", (data: Buffer) => chunks.push(data));
    upstream.write(back);
    while (Buffer.concat(chunks).length < back.length) await once(ws, "message");
    expect(Buffer.compare(Buffer.concat(chunks), back)).toBe(0);
    ws.close();
  });

  it("closes the TCP side when the client goes, and the client when Postgres goes", async () => {
    const first = await openRelay(proxy, tcp);
    const upstreamClosed = once(first.upstream, "close");
    first.ws.close();
    await upstreamClosed;

    const second = await openRelay(proxy, tcp);
    const clientClosed = once(second.ws, "close");
    second.upstream.end();
    const [code] = await clientClosed;
    expect(code).toBe(1000);
  });

  it("refuses a target that is not on the allow-list with 403, before upgrading", async () => {
    const ws = new WebSocket(`ws://${proxy.wsProxy}?address=127.0.0.1:6379`);
    ws.on("error", () => {});
    const [, res] = await once(ws, "unexpected-response");
    expect(res.statusCode).toBe(403);

    await expect(
      withNeonClient(
        { databaseUrl: "postgres://postgres@localhost:5432/test", neonWsProxy: proxy.wsProxy },
        async (client) => client.query("select 1"),
      ),
    ).rejects.toMatchObject({ name: "NeonConnectionError", code: "connect_failed" });
  });

  it("answers other paths with 404 and malformed addresses with 400", async () => {
    for (const [path, status] of [
      ["/v2?address=127.0.0.1:5432", 404],
      ["/v1?address=nonsense", 400],
      ["/v1", 400],
    ] as const) {
      const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}${path}`);
      ws.on("error", () => {});
      const [, res] = await once(ws, "unexpected-response");
      expect(res.statusCode).toBe(status);
    }
    const plain = await fetch(`http://127.0.0.1:${proxy.port}/v1`);
    expect(plain.status).toBe(426);
  });

  it("parses host:port targets, IPv6 included, and rejects the rest", () => {
    expect(parseTarget("127.0.0.1:5432")).toEqual({ host: "127.0.0.1", port: 5432 });
    expect(parseTarget("[::1]:5432")).toEqual({ host: "::1", port: 5432 });
    expect(parseTarget("db.internal:6543")).toEqual({ host: "db.internal", port: 6543 });
    for (const bad of ["127.0.0.1", "host:0", "host:70000", "a b:1", ":5432", "h:5432/x"]) {
      expect(parseTarget(bad)).toBeUndefined();
    }
  });

  it("refuses to start with a malformed allow-list entry", async () => {
    await expect(startNeonProxy({ port: 0, allowedTargets: ["localhost"] })).rejects.toThrow(
      TypeError,
    );
  });
});
