// Postgres for `npm run dev` on a machine with only Node: PGlite (Postgres compiled to WASM),
// persisted in a folder and served on a local TCP port with pglite-socket, so the Neon driver can
// reach it through dev/neon-proxy.ts like any other Postgres. Development tool only.
//
// PGlite is one backend. pglite-socket multiplexes several client connections onto it: one
// protocol message at a time, and while a connection is inside BEGIN … COMMIT only that
// connection's messages run. Its default `maxConnections` is 1, and a second connection is
// answered "Too many connections" and closed, which breaks a Neon Pool and concurrent flushes
// from several actors; we raise it. Things to know: a connection holding a transaction open
// makes every other connection wait, so never wait on a second connection from inside a
// transaction; and PGlite has no authentication, so any user and password are accepted.
// pglite-socket also leaves a connection open after the client's Terminate, which makes the Neon
// driver's end() hang; clients therefore reach it through dev/pg-terminate-front.ts.
//
// Run on its own: node dev/embedded-postgres.ts  (PGLITE_DIR, PGLITE_PORT are optional).

import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { startTerminateFront } from "./pg-terminate-front.ts";

export interface EmbeddedPostgresOptions {
  /** Folder holding the database files, created when missing (e.g. ".data/pglite"). */
  dataDir: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Interface to bind. Default "127.0.0.1". */
  host?: string;
  /** Client connections served at once. Default 32 (pglite-socket's own default is 1). */
  maxConnections?: number;
}

export interface EmbeddedPostgres {
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  url: string;
  port: number;
  close(): Promise<void>;
}

export class DataDirInUseError extends Error {
  override readonly name = "DataDirInUseError";
}

/**
 * Two processes opening the same PGlite folder would corrupt it, and PGlite does not check.
 * A pid file beside the folder refuses a second opening, also from this same process; a stale
 * file (its process is gone) is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  const lockFile = `${dataDir}.lock`;
  try {
    writeFileSync(lockFile, String(process.pid), { flag: "wx" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    const pid = Number(readFileSync(lockFile, "utf8"));
    if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
      throw new DataDirInUseError(`${dataDir} is already open in process ${pid} (${lockFile})`);
    }
    writeFileSync(lockFile, String(process.pid));
  }
  return () => rmSync(lockFile, { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgres> {
  const dataDir = resolve(options.dataDir);
  mkdirSync(dirname(dataDir), { recursive: true });
  const unlock = lockDataDir(dataDir);
  const host = options.host ?? "127.0.0.1";
  let db: PGlite | undefined;
  let server: PGLiteSocketServer | undefined;
  try {
    db = await PGlite.create({ dataDir });
    // Internal listener on a free loopback port; clients connect to the front below.
    server = new PGLiteSocketServer({
      db,
      host: "127.0.0.1",
      port: 0,
      maxConnections: options.maxConnections ?? 32,
    });
    await server.start();
    // getServerConn() reports the bound port once started.
    const internalPort = Number(server.getServerConn().split(":").at(-1));
    const front = await startTerminateFront({
      host,
      port: options.port,
      target: { host: "127.0.0.1", port: internalPort },
    });
    const [database, socketServer] = [db, server];
    const urlHost = host.includes(":") ? `[${host}]` : host;
    return {
      url: `postgres://postgres@${urlHost}:${front.port}/postgres`,
      port: front.port,
      async close() {
        await front.close();
        await socketServer.stop();
        await database.close();
        unlock();
      },
    };
  } catch (err) {
    await server?.stop().catch(() => {});
    await db?.close().catch(() => {});
    unlock();
    throw err;
  }
}

if (import.meta.main) {
  const pg = await startEmbeddedPostgres({
    dataDir: process.env.PGLITE_DIR ?? ".data/pglite",
    port: Number(process.env.PGLITE_PORT ?? 5433),
  });
  console.log(`embedded-postgres: ${pg.url}`);
  const stop = () => void pg.close().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
