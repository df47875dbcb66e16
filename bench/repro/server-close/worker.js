import { DurableObject } from "cloudflare:workers";

class Base extends DurableObject {
  async fetch(request) {
    const code = new URL(request.url).searchParams.get("code");
    if (code) await this.ctx.storage.put("code", code);
    const [client, server] = Object.values(new WebSocketPair());
    const victim = new URL(request.url).searchParams.get("victim") === "1";
    this.ctx.acceptWebSocket(server, [victim ? "victim" : "busy"]);
    const delay = Number(new URL(request.url).searchParams.get("delay") ?? 500);
    if (victim) await this.ctx.storage.setAlarm(Date.now() + delay);
    return new Response(null, { status: 101, webSocket: client });
  }
  async alarm() {
    const code = Number((await this.ctx.storage.get("code")) ?? 4001);
    for (const ws of this.ctx.getWebSockets("victim")) ws.close(code, "token expired");
  }
}
export class NoHandler extends Base {
  async webSocketClose(ws, code, reason) {
    ws.close(code, reason);
    await new Promise((r) => setTimeout(r, 200));
  }
}
export class SendInClose extends Base {
  async webSocketClose(ws, code, reason) {
    try {
      ws.close(code, reason);
    } catch (e) {
      console.log("close threw", String(e));
    }
    try {
      ws.send("bye");
    } catch (e) {
      console.log("send threw", String(e));
    }
  }
}
export class CloseNoArgs extends Base {
  async webSocketClose(ws, _code, _reason) {
    console.log("state", ws.readyState);
    try {
      ws.close();
    } catch (e) {
      console.log("close() threw", String(e));
    }
  }
}
export default {
  fetch(request, env) {
    const url = new URL(request.url);
    const ns = { nohandler: env.A, send: env.B, noargs: env.C }[url.searchParams.get("mode")];
    if (url.searchParams.get("wrap")) {
      return ns
        .getByName(url.pathname)
        .fetch(request)
        .then(
          (res) =>
            new Response(null, { status: 101, webSocket: res.webSocket, headers: res.headers }),
        );
    }
    return ns.getByName(url.pathname).fetch(request);
  },
};
