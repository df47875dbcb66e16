/**
 * The pages the Worker serves: the demo client at `/` and the admin console at `/admin`. Each is
 * a static HTML shell plus one script, the browser code under src/pages bundled by esbuild
 * into pages.generated.ts (`npm run build:pages`; test/unit/pages.test.ts fails when that file
 * is stale), so nothing needs building to run them. Scripts and styles come from this origin
 * only; the pages' content security policy allows no inline script, and connects only back to
 * this origin (the API and the sockets).
 */
import type { Context } from "hono";
import { ADMIN_SCRIPT, DEMO_SCRIPT } from "./pages.generated.ts";
import { PAGE_STYLE } from "./pages-style.ts";

const SECURITY_HEADERS = {
  "content-security-policy": [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; "),
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

function head(title: string, script: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/pages.css">
<script src="/assets/${script}" defer></script>
</head>`;
}

const DEMO_PAGE = `${head("Realtime gateway", "demo.js")}
<body class="demo">
<h1>Realtime gateway</h1>
<p>Mint a token with <code>npm run token -- --user 1 --username ann</code>, paste it, connect.
Operators: <a href="/admin">admin console</a>.</p>
<fieldset>
  <legend>Connection: <span id="state" data-state="closed">closed</span>
    · user <span id="who">–</span> · tabs open <span id="tabs">–</span></legend>
  <label>Token <input id="token" type="text" autocomplete="off" spellcheck="false" placeholder="eyJ..."></label>
  <button id="connect" type="button">Connect</button> <button id="disconnect" type="button">Disconnect</button>
</fieldset>
<fieldset>
  <legend>Commands</legend>
  <button id="ping" type="button">ping</button> <button id="status" type="button">get_status</button>
  <div><input id="target" placeholder="target user id"> <input id="text" placeholder="message">
    <button id="send" type="button">send_message</button></div>
  <div><input id="group" placeholder="group_name"> <button id="join" type="button">join_group</button>
    <button id="leave" type="button">leave_group</button> <button id="groupSend" type="button">group_message</button></div>
</fieldset>
<div id="log" class="log" role="log" aria-live="polite"></div>
</body>
</html>
`;

const ADMIN_PAGE = `${head("Realtime gateway · admin", "admin.js")}
<body class="admin">
<header>
  <h1>Realtime gateway <small>admin</small></h1>
  <span id="who"></span> <button id="signOut" type="button" hidden>Sign out</button>
</header>
<section id="signIn" class="panel">
  <h2>Sign in</h2>
  <form id="signInForm">
    <label>API key or staff token
      <input name="credential" type="password" autocomplete="off" spellcheck="false" required></label>
    <button type="submit">Sign in</button>
  </form>
  <p id="signInError" role="alert"></p>
  <p class="muted">Kept in this tab's sessionStorage only, and never put in a URL. A staff token
  (<code>npm run token -- --user ops --staff</code>) also opens a live socket.</p>
</section>
<main id="console" hidden>
  <p id="notice" role="status"></p>
  <section class="panel" id="healthPanel"><h2>Health</h2><dl id="health" class="facts"></dl></section>
  <section class="panel" id="ratesPanel"><h2>Rates</h2>
    <p id="metricsNotice" class="warning" role="status" hidden></p><div id="rates"></div></section>
  <section class="panel" id="usersPanel"><h2>Users online <span id="onlineCount"></span></h2>
    <table id="users"><thead><tr><th>user</th><th>connections</th><th>groups</th></tr></thead>
    <tbody></tbody></table></section>
  <section class="panel" id="userPanel"><h2>User <span id="userTitle"></span></h2>
    <form id="lookupForm"><input name="user_id" placeholder="user id" aria-label="user id">
      <button type="submit">Look up</button></form>
    <div id="user"><p class="muted">Pick a user in the list.</p></div></section>
  <section class="panel" id="actionsPanel"><h2>Actions</h2>
    <form id="notifyForm" data-user-form><h3>Notification</h3>
      <input name="user_id" placeholder="user id" aria-label="user id" required>
      <input name="title" placeholder="title" aria-label="title" required>
      <input name="message" placeholder="message" aria-label="message" required>
      <button type="submit">Send notification</button></form>
    <form id="messageForm" data-user-form><h3>Direct message as system</h3>
      <input name="user_id" placeholder="user id" aria-label="user id" required>
      <input name="message" placeholder="message" aria-label="message" required>
      <button type="submit">Send message</button></form>
    <form id="broadcastForm"><h3>Broadcast</h3>
      <input name="message" placeholder="message to everyone online" aria-label="message" required>
      <button type="submit">Broadcast</button></form>
    <form id="groupForm"><h3>Group message</h3>
      <input name="group_name" placeholder="group_name" aria-label="group name" required>
      <input name="message_type" value="announcement" aria-label="message type" required>
      <input name="data" placeholder='text, or JSON data' aria-label="data" required>
      <button type="submit">Send to group</button></form>
    <form id="disconnectForm" data-user-form><h3>Disconnect a user</h3>
      <input name="user_id" placeholder="user id" aria-label="user id" required>
      <input name="reason" placeholder="reason (optional)" aria-label="reason">
      <input name="block_minutes" type="number" min="0" placeholder="block for minutes" aria-label="block for minutes">
      <button type="submit" class="danger">Disconnect</button></form>
    <p id="actionResult" role="status"></p></section>
  <section class="panel wide" id="socketPanel"><h2>Staff socket: <span id="socketState">–</span></h2>
    <div id="frames" class="log" role="log" aria-live="polite"></div></section>
</main>
</body>
</html>
`;

function html(page: string): Response {
  return new Response(page, {
    headers: {
      ...SECURITY_HEADERS,
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
    },
  });
}

function asset(body: string, type: string): Response {
  return new Response(body, {
    headers: { ...SECURITY_HEADERS, "content-type": type, "cache-control": "no-cache" },
  });
}

const ASSETS = new Map<string, () => Response>([
  ["demo.js", () => asset(DEMO_SCRIPT, "text/javascript; charset=utf-8")],
  ["admin.js", () => asset(ADMIN_SCRIPT, "text/javascript; charset=utf-8")],
  ["pages.css", () => asset(PAGE_STYLE, "text/css; charset=utf-8")],
]);

export const demoPage = (): Response => html(DEMO_PAGE);
export const adminPage = (): Response => html(ADMIN_PAGE);

/** `GET /assets/{name}`; undefined (→ 404) for any other name. */
export function pageAsset(c: Context): Response | undefined {
  return ASSETS.get(c.req.param("name") ?? "")?.();
}
