// Server-side sends over the gateway's HTTP API (docs/protocol.md, "HTTP API"). The Node ws relay
// and the Socket.IO server serve the same two endpoints, so one client drives all three.

export class HttpApi {
  readonly #base: string;
  readonly #apiKey: string;

  constructor(httpBase: string, apiKey: string) {
    this.#base = httpBase.replace(/\/$/, "");
    this.#apiKey = apiKey;
  }

  async sendToGroup(group: string, body: string): Promise<void> {
    await this.#post(`/api/v1/groups/${encodeURIComponent(group)}/messages`, {
      message_type: "bench",
      data: { body },
    });
  }

  /** Resolves with the number of users (or sockets) the server says it reached. */
  async broadcast(body: string): Promise<number> {
    const answer = await this.#post("/api/v1/broadcasts", { message: body, message_type: "bench" });
    const recipients = (JSON.parse(answer) as { recipients?: unknown }).recipients;
    return typeof recipients === "number" ? recipients : 0;
  }

  async #post(path: string, payload: unknown): Promise<string> {
    const response = await fetch(this.#base + path, {
      method: "POST",
      headers: { Authorization: `Bearer ${this.#apiKey}`, "Content-Type": "application/json" },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await response.text();
    if (!response.ok)
      throw new Error(`POST ${path}: HTTP ${response.status} ${text.slice(0, 200)}`);
    return text;
  }
}
