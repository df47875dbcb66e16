// Listening on a local port for the dev servers (bridge, proxy): port 0 picks a free one, and
// the address comes back in the form a URL needs (IPv6 hosts in brackets).

import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

export async function listen(
  server: Server,
  port: number,
  host: string,
): Promise<{ port: number; urlHost: string }> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo; // a TCP server's address is always an object
  return { port: address.port, urlHost: host.includes(":") ? `[${host}]` : host };
}
