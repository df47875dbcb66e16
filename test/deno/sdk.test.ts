/**
 * The client SDK and the server SDK under Deno, against the gateway the e2e harness started
 * (test/e2e/deno.test.ts runs this file with GATEWAY_URL set). Deno resolves `jose` and the
 * rest from the project's node_modules (deno.json: nodeModulesDir "manual"), offline.
 */
import { createClient, type RealtimeClient } from "../../src/sdk/client.ts";
import { createRealtime } from "../../src/sdk/server.ts";
import { TEST_API_KEY } from "../helpers/secrets.ts";
import { mintToken } from "../helpers/tokens.ts";
import { assert, assertEquals } from "./assert.ts";

const gatewayUrl = Deno.env.get("GATEWAY_URL");
if (!gatewayUrl) throw new Error("GATEWAY_URL is not set: run through test/e2e/deno.test.ts");
const realtime = createRealtime({ baseUrl: gatewayUrl, apiKey: TEST_API_KEY });

const uniqueUser = (name: string) => `deno-${name}-${crypto.randomUUID().slice(0, 8)}`;

/** Closes the client and waits for its socket to end, so Deno's sanitizers see nothing open. */
async function closed(client: RealtimeClient): Promise<void> {
  if (client.state === "closed") return;
  const ended = new Promise<void>((resolve) => client.onEvent("close", () => resolve()));
  client.close();
  await ended;
}

Deno.test("the client SDK connects with a minted token and receives the server SDK's notification", async () => {
  const user = uniqueUser("notify");
  const client = createClient({
    url: `${gatewayUrl}/ws/user/`,
    token: () => mintToken(user, { username: "dino" }),
  });
  try {
    const established = await client.opened();
    assertEquals(established.user_id, user);
    assertEquals(established.username, "dino");

    const received = new Promise<unknown>((resolve) =>
      client.on("notification", (frame) => resolve(frame.data)),
    );
    const sent = await realtime.messaging.sendNotificationToUser(user, {
      title: "From Deno",
      message: "sent by the server SDK",
      data: { runtime: "deno" },
    });
    assertEquals(sent.delivered, true);
    assertEquals(sent.connectionCount, 1);
    const { created_at, ...notification } = (await received) as { created_at: string };
    assertEquals(notification, {
      notification_id: sent.notificationId,
      title: "From Deno",
      message: "sent by the server SDK",
      data: { runtime: "deno" },
    });
    assert(!Number.isNaN(Date.parse(created_at)), "created_at is a time");
  } finally {
    await closed(client);
  }
});

Deno.test("the server SDK reads the status of a user connected from Deno", async () => {
  const user = uniqueUser("status");
  const client = createClient({ url: `${gatewayUrl}/ws/user/`, token: await mintToken(user) });
  try {
    await client.opened();
    assertEquals(await realtime.online.isUserOnline(user), true);
    assertEquals(await realtime.online.getUserConnectionCount(user), 1);
    const status = await client.getStatus([user]);
    assertEquals(
      status.users?.map(({ user_id, is_online }) => ({ user_id, is_online })),
      [{ user_id: user, is_online: true }],
    );
  } finally {
    await closed(client);
  }
});

/** The first ```ts block of the README's "Deno" section, importing the SDKs from src/sdk. */
async function readmeExample(): Promise<string> {
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  const section = /^## Deno\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1];
  const code = section && /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!code) throw new Error('README.md has no ```ts block under "## Deno"');
  const sdk = (name: string) => new URL(`../../src/sdk/${name}.ts`, import.meta.url).href;
  const rewritten = code
    .replace('"npm:edge-realtime-gateway/server"', `"${sdk("server")}"`)
    .replace('"npm:edge-realtime-gateway/client"', `"${sdk("client")}"`);
  assert(!rewritten.includes("npm:edge-realtime-gateway"), "both imports were rewritten");
  return rewritten;
}

Deno.test("the README's Deno example runs with deno run and prints what it says", async () => {
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(file, await readmeExample());
    const run = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--config=test/deno/deno.json",
        "--no-remote",
        "--allow-net",
        "--allow-env",
        file,
      ],
      cwd: new URL("../../", import.meta.url),
      env: {
        REALTIME_URL: gatewayUrl,
        REALTIME_API_KEY: TEST_API_KEY,
        USER_TOKEN: await mintToken(uniqueUser("readme")),
        NO_COLOR: "1",
      },
    }).output();
    const out = new TextDecoder().decode(run.stdout);
    const err = new TextDecoder().decode(run.stderr);
    assertEquals(
      out.trim().split("\n"),
      ["online: true", "received: Hello from Deno"],
      `stdout (stderr: ${err})`,
    );
    assert(run.success, `deno run exits 0 (stderr: ${err})`);
  } finally {
    await Deno.remove(file);
  }
});
