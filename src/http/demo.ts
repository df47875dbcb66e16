/**
 * `GET /`: a one-page demo client. Paste a token (`npm run token -- --user 1`), connect, and
 * watch the frames; the buttons send the protocol's commands. Plain HTML and the browser's
 * own WebSocket, so it doubles as a reference for writing a client, and the browser test
 * drives it in Chromium.
 */
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Realtime gateway</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; max-width: 60rem; }
  input, button, select { font: inherit; margin: 0.15rem 0; }
  input[type=text] { width: 100%; box-sizing: border-box; }
  fieldset { border: 1px solid #ccc; margin: 0.75rem 0; }
  #log { font: 12px/1.35 ui-monospace, monospace; background: #f6f6f6; padding: 0.5rem;
         height: 22rem; overflow: auto; white-space: pre-wrap; }
  #state[data-state=open] { color: #087f23; }
</style>
</head>
<body>
<h1>Realtime gateway</h1>
<p>Mint a token with <code>npm run token -- --user 1 --username ann</code>, paste it, connect.</p>
<fieldset>
  <legend>Connection: <span id="state" data-state="closed">closed</span></legend>
  <label>Token <input id="token" type="text" autocomplete="off" placeholder="eyJ..."></label>
  <button id="connect">Connect</button> <button id="disconnect">Disconnect</button>
</fieldset>
<fieldset>
  <legend>Commands</legend>
  <button id="ping">ping</button> <button id="status">get_status</button>
  <div><input id="target" placeholder="target user id"> <input id="text" placeholder="message">
    <button id="send">send_message</button></div>
  <div><input id="group" placeholder="group_name"> <button id="join">join_group</button>
    <button id="leave">leave_group</button> <button id="groupSend">group_message</button></div>
</fieldset>
<div id="log" role="log" aria-live="polite"></div>
<script>
(() => {
  const $ = (id) => document.getElementById(id);
  let socket = null;
  let counter = 0;
  const log = (direction, text) => {
    const line = document.createElement("div");
    line.className = direction === "<" ? "in" : "out";
    line.textContent = direction + " " + text;
    $("log").append(line);
    $("log").scrollTop = $("log").scrollHeight;
  };
  const setState = (state) => { $("state").textContent = state; $("state").dataset.state = state; };
  const send = (type, data) => {
    if (!socket || socket.readyState !== WebSocket.OPEN) return log("!", "not connected");
    const frame = data === undefined ? { type, id: "r" + ++counter } : { type, data, id: "r" + ++counter };
    const text = JSON.stringify(frame);
    socket.send(text);
    log(">", text);
  };
  $("connect").onclick = () => {
    if (socket) socket.close(1000);
    const url = new URL("/ws/user/", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    // The token travels as a subprotocol, not in the URL, so it stays out of access logs.
    socket = new WebSocket(url, ["bearer", $("token").value.trim()]);
    setState("connecting");
    socket.onopen = () => setState("open");
    socket.onmessage = (event) => log("<", event.data);
    socket.onclose = (event) => { setState("closed"); log("!", "closed " + event.code + " " + event.reason); };
  };
  $("disconnect").onclick = () => socket && socket.close(1000);
  $("ping").onclick = () => send("ping");
  $("status").onclick = () => send("get_status");
  $("send").onclick = () => send("send_message", { target_user_id: $("target").value, message: $("text").value });
  $("join").onclick = () => send("join_group", { group_name: $("group").value });
  $("leave").onclick = () => send("leave_group", { group_name: $("group").value });
  $("groupSend").onclick = () => send("group_message", { group_name: $("group").value, message: $("text").value });
})();
</script>
</body>
</html>
`;

export function demoPage(): Response {
  return new Response(PAGE, {
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy":
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self' ws: wss:",
    },
  });
}
