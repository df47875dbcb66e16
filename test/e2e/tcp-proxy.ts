import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";

/**
 * A TCP proxy to the gateway. `cut()` resets its connections (a dropped network), `freeze()`
 * stops forwarding on them without closing anything (a dead path: nothing arrives, nothing
 * fails). Connections opened afterwards work normally, unless `refusing` is set (the gateway
 * unreachable: each new connection is closed at once).
 */
export class TcpProxy {
  readonly server: Server;
  /** Where new connections go; change it to follow a restarted gateway to its new port. */
  targetPort: number;
  /** Close new connections at once instead of forwarding them. */
  refusing = false;
  private readonly pairs = new Set<[Socket, Socket]>();

  private constructor(server: Server, targetPort: number) {
    this.server = server;
    this.targetPort = targetPort;
  }

  static async start(targetPort: number): Promise<TcpProxy> {
    const server = createServer();
    const proxy = new TcpProxy(server, targetPort);
    server.on("connection", (client) => {
      if (proxy.refusing) {
        client.destroy();
        return;
      }
      const upstream = tcpConnect(proxy.targetPort, "127.0.0.1");
      const pair: [Socket, Socket] = [client, upstream];
      proxy.pairs.add(pair);
      client.pipe(upstream).pipe(client);
      for (const socket of pair) {
        socket.on("error", () => {});
        socket.on("close", () => {
          proxy.pairs.delete(pair);
          client.destroy();
          upstream.destroy();
        });
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return proxy;
  }

  get url(): string {
    const address = this.server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    return `ws://127.0.0.1:${port}/ws/user/`;
  }

  cut(): void {
    for (const [client, upstream] of this.pairs) {
      client.resetAndDestroy();
      upstream.destroy();
    }
  }

  freeze(): void {
    for (const [client, upstream] of this.pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }

  async close(): Promise<void> {
    for (const [client, upstream] of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    await new Promise((resolve) => this.server.close(resolve));
  }
}
