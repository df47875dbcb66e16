/**
 * The demo page (`/`): paste a token, connect with the client SDK, and watch the connection's
 * state, how many tabs this user has open, and every frame live; the buttons send the
 * protocol's commands. A reference for writing a browser client with the SDK.
 */
import { createClient, type RealtimeClient, RealtimeError } from "../../sdk/client.ts";
import { byId, fill, h } from "../dom.ts";

const MAX_LOG_LINES = 500;

const page = {
  token: byId("token", HTMLInputElement),
  connect: byId("connect", HTMLButtonElement),
  disconnect: byId("disconnect", HTMLButtonElement),
  state: byId("state", HTMLElement),
  tabs: byId("tabs", HTMLElement),
  who: byId("who", HTMLElement),
  log: byId("log", HTMLElement),
  target: byId("target", HTMLInputElement),
  text: byId("text", HTMLInputElement),
  group: byId("group", HTMLInputElement),
};

let client: RealtimeClient | null = null;

function log(kind: "in" | "out" | "note", text: string): void {
  const mark = kind === "in" ? "<" : kind === "out" ? ">" : "!";
  page.log.append(h("div", { class: kind }, `${mark} ${text}`));
  while (page.log.childElementCount > MAX_LOG_LINES) page.log.firstElementChild?.remove();
  page.log.scrollTop = page.log.scrollHeight;
}

function setState(state: string): void {
  fill(page.state, state);
  page.state.dataset.state = state;
}

function setTabs(count: number | null): void {
  fill(page.tabs, count === null ? "–" : String(count));
}

function connect(): void {
  client?.close("reconnecting with a new token");
  const token = page.token.value.trim();
  if (token === "") {
    log("note", "paste a token first");
    return;
  }
  // The SDK sends the token as a subprotocol (`bearer, <jwt>`), never in the URL.
  const current = createClient({ url: new URL("/ws/user/", location.href).href, token });
  client = current;
  current.onEvent("state", ({ state }) => {
    if (client === current) setState(state);
  });
  current.onEvent("close", (info) => {
    setTabs(null);
    log("note", `closed ${info.code} ${info.reason}${info.willReconnect ? " (reconnecting)" : ""}`);
  });
  current.onEvent("error", (error) => log("note", `${error.code}: ${error.message}`));
  current.on("*", (frame) => {
    // The SDK's heartbeat is answered by the runtime with a bare pong: not worth a line.
    if (frame.type === "pong" && frame.data === undefined) return;
    log("in", JSON.stringify(frame));
    if (frame.type === "connection_established") {
      fill(page.who, `${frame.data.username || frame.data.user_id}`);
      setTabs(frame.data.connection_count);
    }
    // This user's own sockets are told whenever their count changes (another tab opened or closed).
    if (frame.type === "status_changed" && frame.data.user_id === current.connection?.user_id) {
      setTabs(frame.data.connection_count);
    }
  });
}

/** Send a command through the SDK and log the frame out and the reply (or error) in. */
function command(run: (c: RealtimeClient) => Promise<unknown>, label: string): void {
  const current = client;
  if (current === null || current.state !== "open") {
    log("note", "not connected");
    return;
  }
  log("out", label);
  run(current)
    .then((reply) => {
      log("in", JSON.stringify(reply));
      if (typeof reply === "object" && reply !== null && "type" in reply) {
        const frame = reply as { type: string; data?: { connection_count?: number } };
        if (frame.type === "status_response" && typeof frame.data?.connection_count === "number") {
          setTabs(frame.data.connection_count);
        }
      }
    })
    .catch((error) => {
      const text =
        error instanceof RealtimeError ? `${error.code}: ${error.message}` : String(error);
      log("in", `error ${text}`);
    });
}

const group = () => page.group.value.trim();
const buttons: Record<string, () => void> = {
  connect,
  disconnect: () => client?.close("closed from the page"),
  ping: () => command((c) => c.request("ping"), "ping"),
  status: () => command((c) => c.request("get_status"), "get_status"),
  send: () =>
    command(
      (c) =>
        c.request("send_message", {
          target_user_id: page.target.value.trim(),
          message: page.text.value,
        }),
      `send_message to ${page.target.value.trim()}`,
    ),
  join: () =>
    command((c) => c.request("join_group", { group_name: group() }), `join_group ${group()}`),
  leave: () =>
    command((c) => c.request("leave_group", { group_name: group() }), `leave_group ${group()}`),
  groupSend: () =>
    command(
      (c) => c.request("group_message", { group_name: group(), message: page.text.value }),
      `group_message to ${group()}`,
    ),
};

for (const [id, action] of Object.entries(buttons)) {
  byId(id, HTMLButtonElement).addEventListener("click", action);
}
setState("closed");
setTabs(null);
