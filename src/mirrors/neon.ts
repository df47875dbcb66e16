// Opening a Postgres session with @neondatabase/serverless, for real Neon or, in development,
// through our local WebSocket-to-TCP proxy (NEON_WS_PROXY). Runtime-agnostic: no `cloudflare:*`
// and no Node imports, so it runs inside workerd and in Node alike.

import { Client, type ClientConfig, type NeonConfig } from "@neondatabase/serverless";

export interface NeonConnectionOptions {
  /** `postgres://user:password@host:port/db` (DATABASE_URL). */
  databaseUrl: string;
  /**
   * NEON_WS_PROXY: address of a WebSocket-to-TCP proxy such as dev/neon-proxy.ts, written
   * `host:port/path` (e.g. "127.0.0.1:5488/v1"); `ws://` is implied, `wss://` may be given for a
   * proxy behind TLS. Unset: the driver's defaults for real Neon.
   */
  neonWsProxy?: string | undefined;
  /** Only where there is no global WebSocket (Node < 22): the `ws` package's class. */
  webSocketConstructor?: NeonConfig["webSocketConstructor"];
  /** How long connecting may take, in milliseconds. Default 5000. */
  connectTimeoutMs?: number;
  /** How long one query may take before the client gives up, in milliseconds. Default 10000. */
  queryTimeoutMs?: number;
}

export class NeonProxySettingError extends TypeError {
  override readonly name = "NeonProxySettingError";
}

interface ProxySettings {
  wsProxy: (host: string, port: number | string) => string;
  useSecureWebSocket: boolean;
}

/** Parses NEON_WS_PROXY; throws NeonProxySettingError naming the setting when it is malformed. */
export function parseNeonWsProxy(value: string): ProxySettings {
  const match = /^(wss?:\/\/)?([^\s/?#]+)(\/[^\s?#]*)?$/.exec(value.trim());
  if (!match) {
    throw new NeonProxySettingError(
      `NEON_WS_PROXY must look like "127.0.0.1:5488/v1", got ${JSON.stringify(value)}`,
    );
  }
  const base = `${match[2]}${match[3] ?? ""}`;
  return {
    wsProxy: (host, port) => `${base}?address=${host}:${port}`,
    useSecureWebSocket: match[1] === "wss://",
  };
}

/**
 * A new, unconnected Client configured for its target. Settings go on the client's own
 * `neonConfig`, not the module-wide one, so two configurations can coexist in one process.
 */
export function createNeonClient(options: NeonConnectionOptions): Client {
  const config: ClientConfig = {
    connectionString: options.databaseUrl,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    query_timeout: options.queryTimeoutMs ?? 10_000,
  };
  const client = new Client(config);
  const neon = client.neonConfig;
  if (options.webSocketConstructor) neon.webSocketConstructor = options.webSocketConstructor;
  if (options.neonWsProxy) {
    const proxy = parseNeonWsProxy(options.neonWsProxy);
    // A plain Postgres behind our proxy: no TLS inside the socket (pipelineTLS only works with
    // Neon's hosts), and SCRAM instead of the cleartext-password shortcut (pipelineConnect).
    neon.wsProxy = proxy.wsProxy;
    neon.useSecureWebSocket = proxy.useSecureWebSocket;
    neon.pipelineTLS = false;
    neon.pipelineConnect = false;
  }
  return client;
}

/** The session could not be opened, or broke while in use (as opposed to a SQL error). */
export class NeonConnectionError extends Error {
  override readonly name = "NeonConnectionError";
  readonly code: "connect_failed" | "connection_lost";
  constructor(code: "connect_failed" | "connection_lost", cause: unknown) {
    // The driver reports WebSocket failures as DOM Events, which carry no message.
    const detail = cause instanceof Error ? cause.message : describe(cause);
    super(`${code === "connect_failed" ? "cannot connect" : "connection lost"}: ${detail}`, {
      cause,
    });
    this.code = code;
  }
}

/**
 * A session that failed to open quickly (refused, "WebSocket error"), as opposed to a connect
 * that timed out: worth opening again soon (PostgresQueue).
 */
export function quickConnectFailure(err: unknown): boolean {
  return (
    err instanceof NeonConnectionError &&
    err.code === "connect_failed" &&
    !/timeout|timed out/i.test(err.message)
  );
}

function describe(value: unknown): string {
  if (typeof value === "object" && value !== null && "type" in value) {
    return `WebSocket ${String(value.type)}`;
  }
  return String(value);
}

/**
 * connect → fn(client) → end, one session per call. In workerd a pooled connection is bound to
 * the request that opened it, so reusing one later fails; a short session per flush avoids that.
 * The `error` listener stays attached until the end: without it a dropped socket becomes an
 * uncaught "Network connection lost".
 */
export async function withNeonClient<T>(
  options: NeonConnectionOptions,
  fn: (client: Client) => Promise<T>,
): Promise<T> {
  const client = createNeonClient(options);
  let lost: unknown;
  let connected = false;
  client.on("error", (err: unknown) => {
    lost ??= err;
  });
  try {
    try {
      await client.connect();
      connected = true;
    } catch (err) {
      throw new NeonConnectionError("connect_failed", err);
    }
    try {
      return await fn(client);
    } catch (err) {
      throw lost === undefined ? err : new NeonConnectionError("connection_lost", lost);
    }
  } finally {
    // After a failed connect, end() still tears the socket down synchronously; nothing to await.
    await endWithin(client, connected ? 1_000 : 0);
  }
}

/**
 * `end()` waits for the socket's close event, which never comes when the WebSocket already died
 * (pg then waits forever); bound it.
 */
async function endWithin(client: Client, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    client.end().catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}
