/**
 * Counts the SQL statements a Neon client really sends, by reading the Postgres frontend
 * protocol off its WebSocket: a WebSocket class for `webSocketConstructor` that parses every
 * outgoing frame. A simple Query ('Q') runs one statement; in the extended protocol each
 * Execute ('E') runs the statement named by the Parse ('P') before it. Nothing in the product
 * is instrumented: this is what crosses the wire.
 */

/** SSLRequest and GSSENCRequest: untyped like the startup message, but followed by it. */
const PRE_STARTUP_CODES = new Set([80_877_103, 80_877_104]);

export interface WireStatements {
  /** Pass as `webSocketConstructor` (NeonConnectionOptions). */
  WebSocket: typeof WebSocket;
  /** SQL of every statement executed since the last reset, in order. */
  readonly executed: string[];
  reset(): void;
}

export function wireStatements(): WireStatements {
  const executed: string[] = [];

  class CountingWebSocket extends WebSocket {
    #buffer = new Uint8Array(0);
    #startup = true;
    #parsed = "";

    override send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
      if (typeof data !== "string" && !(data instanceof Blob)) {
        const bytes = ArrayBuffer.isView(data)
          ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
          : new Uint8Array(data);
        this.#read(bytes);
      }
      super.send(data);
    }

    /** Frames may carry several messages or a part of one: keep the remainder. */
    #read(bytes: Uint8Array): void {
      const joined = new Uint8Array(this.#buffer.length + bytes.length);
      joined.set(this.#buffer);
      joined.set(bytes, this.#buffer.length);
      let offset = 0;
      for (;;) {
        const typed = this.#startup ? 0 : 1;
        if (joined.length - offset < typed + 4) break;
        const view = new DataView(joined.buffer, joined.byteOffset + offset + typed, 4);
        const length = view.getInt32(0);
        if (joined.length - offset < typed + length) break;
        const body = joined.subarray(offset + typed + 4, offset + typed + length);
        if (this.#startup) {
          const code = new DataView(body.buffer, body.byteOffset, 4).getInt32(0);
          if (!PRE_STARTUP_CODES.has(code)) this.#startup = false;
        } else {
          this.#message(String.fromCharCode(joined[offset] ?? 0), body);
        }
        offset += typed + length;
      }
      this.#buffer = joined.slice(offset);
    }

    #message(type: string, body: Uint8Array): void {
      const strings = new TextDecoder().decode(body).split("\0");
      if (type === "Q") executed.push(strings[0] ?? "");
      // Parse: statement name, then the query text.
      if (type === "P") this.#parsed = strings[1] ?? "";
      if (type === "E") executed.push(this.#parsed);
    }
  }

  return {
    WebSocket: CountingWebSocket,
    executed,
    reset: () => {
      executed.length = 0;
    },
  };
}
