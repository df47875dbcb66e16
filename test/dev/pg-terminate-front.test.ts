import { once } from "node:events";
import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { startTerminateFront, TerminateWatcher } from "../../dev/pg-terminate-front.ts";

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}
const sslRequest = Buffer.concat([int32(8), int32(80_877_103)]);
function startup(): Buffer {
  const body = Buffer.from("user\0postgres\0database\0X\0\0");
  return Buffer.concat([int32(8 + body.length), int32(196_608), body]);
}
function typed(type: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(type), int32(4 + body.length), body]);
}
const query = typed("Q", Buffer.from("select 'XXXX'\0"));
const terminate = typed("X", Buffer.alloc(0));

function feed(watcher: TerminateWatcher, bytes: Buffer, chunkSize: number): number {
  for (let i = 0; i < bytes.length; i += chunkSize) {
    if (watcher.push(bytes.subarray(i, i + chunkSize)))
      return Math.min(i + chunkSize, bytes.length);
  }
  return -1;
}

describe("the Terminate watcher", () => {
  const session = Buffer.concat([sslRequest, startup(), query, query, terminate]);

  it.each([1, 3, 7, session.length])(
    "spots Terminate at its last byte, in chunks of %i",
    (size) => {
      // Only the chunk holding the final byte of Terminate reports it.
      expect(feed(new TerminateWatcher(), session, size)).toBe(session.length);
    },
  );

  it("ignores 'X' bytes inside other messages and inside the startup packet", () => {
    const watcher = new TerminateWatcher();
    expect(feed(watcher, Buffer.concat([startup(), query, query]), 1)).toBe(-1);
  });
});

describe("the Terminate front", () => {
  it("relays both ways and hangs up right after the client's Terminate", async () => {
    const received: Buffer[] = [];
    let upstreamSocket: Socket | undefined;
    const upstream = createServer((socket) => {
      upstreamSocket = socket;
      socket.on("data", (chunk: Buffer) => received.push(chunk));
      socket.write("R");
    });
    upstream.listen(0, "127.0.0.1");
    await once(upstream, "listening");
    const front = await startTerminateFront({
      host: "127.0.0.1",
      port: 0,
      target: { host: "127.0.0.1", port: (upstream.address() as AddressInfo).port },
    });
    try {
      const client = connect(front.port, "127.0.0.1");
      const [greeting] = await once(client, "data");
      expect(String(greeting)).toBe("R");
      const closed = once(client, "close");
      client.write(Buffer.concat([startup(), query]));
      client.write(terminate);
      await closed;
      await new Promise((r) => setTimeout(r, 20));
      expect(Buffer.concat(received)).toEqual(Buffer.concat([startup(), query, terminate]));
      expect(upstreamSocket?.readableEnded || upstreamSocket?.destroyed).toBe(true);
    } finally {
      await front.close();
      upstream.close();
    }
  });
});
