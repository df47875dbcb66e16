// A TCP front for pglite-socket that ends a connection once the client sends Terminate ('X'),
// as a real Postgres server does. pglite-socket keeps the socket open after Terminate, and the
// Neon driver never closes its side on `client.end()`: it waits for the server to hang up
// (its socket's write(data, callback) drops the callback pg passes, so pg never reaches
// stream.end()). Without this, every end() against PGlite hangs until some timeout.

import { type AddressInfo, connect, createServer, type Socket } from "node:net";

const SSL_REQUEST = 80_877_103;
const GSSENC_REQUEST = 80_877_104;
const TERMINATE = 0x58; // 'X'

/**
 * Follows the frontend (client → server) side of the Postgres wire protocol just far enough to
 * find message boundaries: the untyped startup packets first (SSL/GSS requests may precede the
 * StartupMessage), then typed messages (1 type byte + int32 length including itself).
 */
export class TerminateWatcher {
  #phase: "startup" | "typed" | "lost" = "startup";
  #header: number[] = [];
  #bodyLeft = 0;
  #terminating = false;

  /** Feeds the next chunk; true once a complete Terminate message has gone by. */
  push(chunk: Uint8Array): boolean {
    let offset = 0;
    while (offset < chunk.length && this.#phase !== "lost") {
      if (this.#bodyLeft > 0) {
        const n = Math.min(this.#bodyLeft, chunk.length - offset);
        this.#bodyLeft -= n;
        offset += n;
      } else {
        const headerSize = this.#phase === "startup" ? 8 : 5;
        while (this.#header.length < headerSize && offset < chunk.length) {
          this.#header.push(chunk[offset++] as number);
        }
        if (this.#header.length < headerSize) break;
        this.#readHeader(Buffer.from(this.#header));
        this.#header = [];
      }
      if (this.#terminating && this.#bodyLeft === 0) return true;
    }
    return false;
  }

  #readHeader(header: Buffer): void {
    if (this.#phase === "startup") {
      const length = header.readInt32BE(0);
      const code = header.readInt32BE(4);
      if (length < 8) this.#phase = "lost";
      this.#bodyLeft = Math.max(0, length - 8);
      if (code !== SSL_REQUEST && code !== GSSENC_REQUEST) this.#phase = "typed";
      return;
    }
    const length = header.readInt32BE(1);
    if (length < 4) this.#phase = "lost";
    this.#bodyLeft = Math.max(0, length - 4);
    if (header[0] === TERMINATE) this.#terminating = true;
  }
}

export interface TerminateFront {
  port: number;
  close(): Promise<void>;
}

/** Listens on host:port and relays each connection to `target`, closing it after Terminate. */
export async function startTerminateFront(options: {
  host: string;
  port: number;
  target: { host: string; port: number };
}): Promise<TerminateFront> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(options.target);
    const watcher = new TerminateWatcher();
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.setNoDelay(true);
      socket.on("close", () => sockets.delete(socket));
    }
    const hangUp = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", hangUp);
    upstream.on("error", hangUp);
    client.on("data", (chunk: Buffer) => {
      if (!upstream.write(chunk)) {
        client.pause();
        upstream.once("drain", () => client.resume());
      }
      if (watcher.push(chunk)) {
        upstream.end();
        client.end();
      }
    });
    client.on("end", () => upstream.end());
    upstream.pipe(client);
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
