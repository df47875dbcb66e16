/**
 * The admin console (`/admin`): sign in with the API key or a staff token, then watch who is
 * online, one user's sockets and mailbox, the mirrors' health and the message rates, and act:
 * notify, message as system, broadcast, send to a group, disconnect. Figures are polled from
 * the HTTP API; with a staff token the console also holds a socket (the client SDK) whose
 * frames it shows live, and broadcasts through it.
 */
import { createClient, type RealtimeClient } from "../../sdk/client.ts";
import { byId, field, fill, h } from "../dom.ts";
import { ApiError, GatewayApi, savedCredential, type UserDetails } from "./gateway-api.ts";
import { MetricRates } from "./rates.ts";
import { renderCharts, renderHealth, renderUser, renderUsers } from "./views.ts";

/** How often each figure is asked for, in milliseconds (/health is cached 2 s by the gateway). */
const USERS_EVERY_MS = 2_000;
const HEALTH_EVERY_MS = 2_000;
const METRICS_EVERY_MS = 5_000;
/** Users whose groups the list shows (one details call each per refresh). */
const GROUPS_FOR_FIRST = 25;
const MAX_LOG_LINES = 200;

const page = {
  signIn: byId("signIn", HTMLElement),
  signInForm: byId("signInForm", HTMLFormElement),
  signInError: byId("signInError", HTMLElement),
  console: byId("console", HTMLElement),
  who: byId("who", HTMLElement),
  signOut: byId("signOut", HTMLButtonElement),
  notice: byId("notice", HTMLElement),
  health: byId("health", HTMLElement),
  rates: byId("rates", HTMLElement),
  metricsNotice: byId("metricsNotice", HTMLElement),
  users: byId("users", HTMLTableElement),
  onlineCount: byId("onlineCount", HTMLElement),
  user: byId("user", HTMLElement),
  userTitle: byId("userTitle", HTMLElement),
  lookupForm: byId("lookupForm", HTMLFormElement),
  actionResult: byId("actionResult", HTMLElement),
  socketState: byId("socketState", HTMLElement),
  frames: byId("frames", HTMLElement),
};

interface Session {
  api: GatewayApi;
  client: RealtimeClient | null;
  selected: string | null;
  groups: Map<string, string[]>;
  rates: MetricRates;
}

let session: Session | null = null;

function describe(error: unknown): string {
  if (error instanceof ApiError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/** The claims of a staff token, for the header; the gateway verified it, this only reads it. */
function tokenUser(token: string): string {
  try {
    const payload = token.split(".")[1] ?? "";
    const claims = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/")));
    return String(claims.username ?? claims.user_id ?? claims.sub ?? "?");
  } catch {
    return "?";
  }
}

function log(direction: string, text: string): void {
  page.frames.append(h("div", { class: direction === "<" ? "in" : "out" }, `${direction} ${text}`));
  while (page.frames.childElementCount > MAX_LOG_LINES) page.frames.firstElementChild?.remove();
  page.frames.scrollTop = page.frames.scrollHeight;
}

/** A poll that failed: signed out when the credential stopped working, else a notice. */
function failed(error: unknown): void {
  if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
    signOut(`Signed out: the gateway refused the credential (${error.code}).`);
    return;
  }
  fill(page.notice, `The gateway did not answer: ${describe(error)}`);
}

async function refreshUsers(current: Session): Promise<void> {
  const online = await current.api.onlineUsers();
  fill(page.onlineCount, `(${online.count})`);
  const body = page.users.tBodies[0] ?? page.users.createTBody();
  renderUsers(body, online, (id) => current.groups.get(id), current.selected);
  const first = online.users.slice(0, GROUPS_FOR_FIRST);
  const details = await Promise.allSettled(first.map((user) => current.api.user(user.user_id)));
  current.groups = new Map(
    details.flatMap((result) =>
      result.status === "fulfilled" ? [[result.value.user_id, result.value.groups]] : [],
    ),
  );
  renderUsers(body, online, (id) => current.groups.get(id), current.selected);
  if (current.selected !== null) await showUser(current, current.selected);
  fill(page.notice);
}

/**
 * The operator picked a user: the forms that act on one user are filled with it, once, here;
 * the periodic refresh only redraws the details, so it never changes what the operator typed.
 */
function selectUser(current: Session, userId: string): Promise<void> {
  current.selected = userId;
  for (const form of document.querySelectorAll<HTMLFormElement>("form[data-user-form]")) {
    const input = form.elements.namedItem("user_id");
    if (input instanceof HTMLInputElement) input.value = userId;
  }
  return showUser(current, userId);
}

async function showUser(current: Session, userId: string): Promise<void> {
  fill(page.userTitle, userId);
  let details: UserDetails;
  try {
    details = await current.api.user(userId);
  } catch (error) {
    if (error instanceof ApiError && error.code === "user_not_found") {
      fill(page.user, h("p", { class: "muted" }, `No user ${userId} is known to the gateway.`));
      return;
    }
    throw error;
  }
  if (current.selected === userId) renderUser(page.user, details);
}

async function refreshHealth(current: Session): Promise<void> {
  renderHealth(page.health, await current.api.health(), current.rates.lag);
}

async function refreshMetrics(current: Session): Promise<void> {
  const text = await current.api.metrics();
  if (text === null) {
    fill(
      page.metricsNotice,
      "Metrics unavailable: GET /metrics answered 404 on this gateway, so no rates are shown.",
    );
    page.metricsNotice.hidden = false;
    return;
  }
  page.metricsNotice.hidden = true;
  current.rates.add(text, Date.now());
  renderCharts(page.rates, current.rates.rows());
}

/** Run `task` now and again `ms` after each run ends (never two at once), while signed in. */
function every(current: Session, ms: number, task: (s: Session) => Promise<void>): void {
  const run = async () => {
    if (session !== current) return;
    await task(current).catch(failed);
    // After sign-out the loop ends at its next turn (session is no longer `current`).
    if (session === current) setTimeout(run, ms);
  };
  void run();
}

function openSocket(token: string): RealtimeClient {
  const client = createClient({ url: new URL("/ws/user/", location.href).href, token });
  client.onEvent("state", ({ state }) => {
    fill(page.socketState, state);
    page.socketState.dataset.state = state;
  });
  client.onEvent("close", (info) => log("!", `closed ${info.code} ${info.reason}`));
  client.on("*", (frame) => {
    // The SDK's heartbeat is answered by the runtime with a bare pong: not worth a line.
    if (frame.type !== "pong" || frame.data !== undefined) log("<", JSON.stringify(frame));
  });
  return client;
}

function start(credential: string): void {
  const api = new GatewayApi(credential);
  const current: Session = {
    api,
    client: api.staff ? openSocket(credential) : null,
    selected: null,
    groups: new Map(),
    rates: new MetricRates(),
  };
  session = current;
  page.signIn.hidden = true;
  page.console.hidden = false;
  page.signOut.hidden = false;
  fill(page.who, api.staff ? `staff token (${tokenUser(credential)})` : "API key");
  if (current.client === null) {
    fill(page.socketState, "none");
    fill(page.frames, h("p", { class: "muted" }, "Sign in with a staff token to see frames live."));
  }
  every(current, USERS_EVERY_MS, refreshUsers);
  every(current, HEALTH_EVERY_MS, refreshHealth);
  every(current, METRICS_EVERY_MS, refreshMetrics);
}

function signOut(message = ""): void {
  savedCredential.clear();
  session?.client?.close("signed out");
  session = null;
  page.console.hidden = true;
  page.signOut.hidden = true;
  page.signIn.hidden = false;
  fill(page.who);
  fill(page.signInError, message);
}

page.signInForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const credential = field(page.signInForm, "credential");
  if (credential === "") return;
  fill(page.signInError, "Checking…");
  new GatewayApi(credential)
    .onlineUsers()
    .then(() => {
      page.signInForm.reset();
      savedCredential.set(credential);
      fill(page.signInError);
      start(credential);
    })
    .catch((error) => fill(page.signInError, `Refused: ${describe(error)}`));
});

page.signOut.addEventListener("click", () => signOut());

page.users.addEventListener("click", (event) => {
  const target = event.target instanceof Element ? event.target.closest("[data-pick]") : null;
  const userId = target?.getAttribute("data-pick");
  if (session !== null && userId) selectUser(session, userId).catch(failed);
});

page.lookupForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const userId = field(page.lookupForm, "user_id");
  if (session !== null && userId !== "") selectUser(session, userId).catch(failed);
});

/** Each action form: what it does with the session, and how its answer reads. */
const ACTIONS: Record<string, (s: Session, form: HTMLFormElement) => Promise<string>> = {
  notifyForm: async (s, form) => {
    const sent = await s.api.notify(
      field(form, "user_id"),
      field(form, "title"),
      field(form, "message"),
    );
    return `Notification ${sent.delivered ? `delivered to ${sent.connection_count} socket(s)` : "stored (user offline)"}.`;
  },
  messageForm: async (s, form) => {
    const sent = await s.api.directMessage(field(form, "user_id"), field(form, "message"));
    return `Message ${sent.delivered ? "delivered" : "stored (user offline)"}.`;
  },
  broadcastForm: async (s, form) => {
    const message = field(form, "message");
    // Over the staff socket when there is one (the SDK's broadcast), else the HTTP API.
    const sent =
      s.client?.state === "open"
        ? await s.client.broadcast(message)
        : await s.api.broadcast(message);
    return `Broadcast reached ${sent.recipients} user(s).`;
  },
  groupForm: async (s, form) => {
    const text = field(form, "data");
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      data = { message: text };
    }
    const sent = await s.api.groupMessage(
      field(form, "group_name"),
      field(form, "message_type"),
      data,
    );
    return `Group message reached ${sent.recipients} user(s).`;
  },
  disconnectForm: async (s, form) => {
    const minutes = Number(field(form, "block_minutes") || "0");
    const blockUntil =
      minutes > 0 ? new Date(Date.now() + minutes * 60_000).toISOString() : undefined;
    const userId = field(form, "user_id");
    const done = await s.api.disconnect(userId, field(form, "reason") || undefined, blockUntil);
    return `Closed ${done.closed} socket(s) of ${userId}${blockUntil ? `; blocked until ${blockUntil}` : ""}.`;
  },
};

for (const [id, action] of Object.entries(ACTIONS)) {
  const form = byId(id, HTMLFormElement);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const current = session;
    if (current === null) return;
    page.actionResult.dataset.state = "pending";
    fill(page.actionResult, "Sending…");
    action(current, form)
      .then((text) => {
        page.actionResult.dataset.state = "ok";
        fill(page.actionResult, text);
      })
      .catch((error) => {
        page.actionResult.dataset.state = "error";
        fill(page.actionResult, `Refused: ${describe(error)}`);
      });
  });
}

const saved = savedCredential.get();
if (saved !== null && saved !== "") start(saved);
