import { createServer } from "node:net";

/**
 * Asks the OS for a free TCP port on 127.0.0.1. For programs that cannot bind port 0 themselves
 * (redis-server, wrangler); there is a small window in which another process could take it.
 */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
