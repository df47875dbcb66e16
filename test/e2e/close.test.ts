/**
 * A close the server starts completes promptly: the client's `close` event follows the
 * server's close frame within a second (docs/protocol.md, "Close codes"), for every reason the server
 * closes. Measured with the `ws` client, whose `close` event fires only once the close
 * handshake is done and the TCP connection has ended.
 *
 * workerd ends the TCP connection of a hibernatable socket that the server closed only when the
 * actor next goes idle (~10 s) if the client never sent a data frame on it (docs/design.md,
 * "Server-initiated close"). Real clients speak first (seed clients ask `get_status`, the SDK
 * pings at open), so the sockets here send one ping on open, as the SDK does.
 */
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createClient } from "../../src/sdk/client.ts";
import { sleep } from "../helpers/frames.ts";
import { mintToken } from "../helpers/tokens.ts";
import { connectAs, uniqueUser, wsUrl } from "./helpers.ts";

/** The client's first frame, as the SDK sends it at open (answered without waking the actor). */
const firstPing = (ws: WebSocket) => ws.send('{"type":"ping"}');

/** Generous: the bug this guards against held the close event ~10 s after the frame. */
const PROMPT_MS = 1_500;

interface ServerClose {
  code: number;
  /** The error frame the server sent just before closing. */
  lastFrame: { type: string; data?: { code?: string } };
  /** ms from the close frame's arrival to the `close` event. */
  closeEventAfterMs: number;
}

/**
 * Open a raw `ws` socket and time the server's close: the receiver's `conclude` event marks the
 * close frame's arrival (it is emitted when the frame is parsed, before the client answers).
 */
function watchClose(path: string, token: string, afterOpen: (ws: WebSocket) => void = firstPing) {
  const ws = new WebSocket(wsUrl(`${path}?token=${token}`));
  const frames: { type: string; data?: { code?: string } }[] = [];
  let closeFrameAt: number | null = null;
  ws.on("message", (data) => frames.push(JSON.parse(data.toString())));
  ws.on("open", () => {
    // `_receiver` is ws's frame parser, set just before `open`; `conclude` is its close-frame
    // event (ws/lib/receiver.js).
    const receiver = (ws as unknown as { _receiver: NodeJS.EventEmitter })._receiver;
    receiver.on("conclude", () => {
      closeFrameAt ??= performance.now();
    });
  });
  ws.on("open", () => afterOpen(ws));
  return new Promise<ServerClose>((resolve, reject) => {
    ws.on("error", reject);
    ws.on("close", (code) => {
      const at = performance.now();
      const lastFrame = frames.at(-1);
      if (closeFrameAt === null || lastFrame === undefined) {
        reject(new Error(`closed (${code}) without a close frame or an error frame first`));
        return;
      }
      resolve({ code, lastFrame, closeEventAfterMs: at - closeFrameAt });
    });
  });
}

describe("a close the server starts completes within a second of its close frame", () => {
  it("token expiry (4001)", async () => {
    // Valid at connect thanks to the 30 s clock tolerance; expires about 1.5 s later.
    const token = await mintToken(uniqueUser("exp"), { expiresIn: -28.5 });
    const closed = await watchClose("/ws/user/", token);
    expect(closed.code).toBe(4001);
    expect(closed.lastFrame.data?.code).toBe("token_expired");
    expect(closed.closeEventAfterMs).toBeLessThan(PROMPT_MS);
  });

  it("token expiry on a consultation socket (4001)", async () => {
    const id = uniqueUser("cexp").replace(/[^A-Za-z0-9_-]/g, "");
    const token = await mintToken(uniqueUser("exp"), {
      expiresIn: -28.5,
      groups: [`consultation_${id}`],
    });
    const opened = performance.now();
    const closed = await watchClose(`/ws/consultation/${id}/`, token);
    // At exp + 30 s (about 1.5 s after connecting), not at the room's next lease renewal (30 s).
    expect(performance.now() - opened).toBeLessThan(5_000);
    expect(closed.code).toBe(4001);
    expect(closed.lastFrame.data?.code).toBe("token_expired");
    expect(closed.closeEventAfterMs).toBeLessThan(PROMPT_MS);
  });

  it("the connection cap (4009)", async () => {
    const user = uniqueUser("cap");
    // E2E_VARS: MAX_CONNECTIONS_PER_USER 20.
    const held = await Promise.all(Array.from({ length: 20 }, () => connectAs(user)));
    try {
      // Refused before it could speak: the runtime closes a socket that was never hibernatable
      // promptly either way.
      const closed = await watchClose("/ws/user/", await mintToken(user), () => {});
      expect(closed.code).toBe(4009);
      expect(closed.lastFrame.data?.code).toBe("too_many_connections");
      expect(closed.closeEventAfterMs).toBeLessThan(PROMPT_MS);
    } finally {
      await Promise.all(held.map((socket) => socket.close()));
    }
  });

  it("sustained abuse of the frame rate (1008)", async () => {
    const closed = await watchClose("/ws/user/", await mintToken(uniqueUser("abuse")), (ws) => {
      // Far above 20 frames/s with bursts of 40: strikes reach the abuse threshold.
      void (async () => {
        for (let i = 0; i < 400 && ws.readyState === WebSocket.OPEN; i++) {
          ws.send('{"type":"get_status"}');
          if (i % 50 === 49) await sleep(1);
        }
      })();
    });
    expect(closed.code).toBe(1008);
    expect(closed.lastFrame.data?.code).toBe("rate_limited");
    expect(closed.closeEventAfterMs).toBeLessThan(PROMPT_MS);
  });

  it("token expiry on an SDK client (4001)", async () => {
    // A fixed token string: 4001 is then final, so the client does not reconnect.
    const token = await mintToken(uniqueUser("sdk"), { expiresIn: -28.5 });
    const client = createClient({ url: wsUrl("/ws/user/"), token });
    try {
      const frames: { type: string; at: number }[] = [];
      client.on("*", (frame) => frames.push({ type: frame.type, at: performance.now() }));
      const closed = new Promise<{ code: number; at: number }>((resolve) =>
        client.onEvent("close", (info) => resolve({ code: info.code, at: performance.now() })),
      );
      await client.opened();
      const { code, at } = await closed;
      expect(code).toBe(4001);
      // The server sends token_expired just before its close frame.
      const expired = frames.find((f) => f.type === "error");
      expect(expired).toBeDefined();
      expect(at - (expired?.at ?? 0)).toBeLessThan(PROMPT_MS);
    } finally {
      client.close();
    }
  });
});
