/**
 * `useRealtime` in Chromium against the real gateway: the README's React example (its ```tsx
 * block, with the package import pointed at src/react), bundled with esbuild and put in place
 * of the gateway's demo page, so no web server is needed. Not a routed (`page.route`) page: a
 * document that no address served counts as public for Chromium's Local Network Access checks,
 * which then refuse its socket to 127.0.0.1 (net::ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS)
 * before the gateway sees it.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createRealtime } from "../../src/sdk/server.ts";
import { connectAs, uniqueUser } from "../e2e/helpers.ts";
import { TEST_API_KEY } from "../helpers/secrets.ts";
import { mintToken } from "../helpers/tokens.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const root = resolve(import.meta.dirname, "../..");

let browser: Browser;
let bundle = "";

/** The first ```tsx block of the README's "React" section. */
function readmeExample(): string {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const section = /^## React\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1];
  const code = section && /```tsx\n([\s\S]*?)```/.exec(section)?.[1];
  if (!code) throw new Error('README.md has no ```tsx block under "## React"');
  return code;
}

/** The example plus a root that renders it with the settings in the page's #fragment. */
async function bundlePage(): Promise<string> {
  // Inside node_modules/.cache, so that esbuild resolves react from the project's node_modules.
  const cache = join(root, "node_modules/.cache");
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(join(cache, "react-page-"));
  try {
    const hook = join(root, "src/react/index.ts");
    const example = readmeExample().replace('"edge-realtime-gateway/react"', JSON.stringify(hook));
    expect(example).toContain(hook);
    writeFileSync(join(dir, "inbox.tsx"), example);
    writeFileSync(
      join(dir, "main.tsx"),
      [
        'import { createRoot } from "react-dom/client";',
        'import { Inbox } from "./inbox.tsx";',
        "const settings = new URLSearchParams(location.hash.slice(1));",
        'const get = (name: string) => settings.get(name) ?? "";',
        'createRoot(document.getElementById("root")!).render(',
        '  <Inbox url={get("url")} token={get("token")} doctorId={get("doctor")} />,',
        ");",
      ].join("\n"),
    );
    const result = await build({
      entryPoints: [join(dir, "main.tsx")],
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      jsx: "automatic",
      define: { "process.env.NODE_ENV": '"production"' },
      write: false,
      logLevel: "warning",
    });
    return result.outputFiles[0]?.text ?? "";
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`,
    );
  }
  bundle = await bundlePage();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
});

afterAll(async () => {
  await browser?.close();
});

describe("useRealtime in Chromium", () => {
  it("shows the open state, the doctor online, a notification, and sends a message", async () => {
    const user = uniqueUser("react");
    const doctor = await connectAs(uniqueUser("doctor"));
    const doctorId = doctor.established.data.user_id;
    // The gateway's pages allow no inline script (CSP); this test puts its own script in place
    // of the demo page, so the context leaves that page's policy out.
    const context = await browser.newContext({ bypassCSP: true });
    const page = await context.newPage();
    page.on("pageerror", (e) => console.log("[pageerror]", e.message));
    page.on("console", (m) => console.log("[page]", m.text()));
    page.setDefaultTimeout(8_000);
    const gateway = inject("gatewayUrl");
    const settings = new URLSearchParams({
      url: `${gateway.replace(/^http/, "ws")}/ws/user/`,
      token: await mintToken(user, { username: "react" }),
      doctor: doctorId,
    });
    // The gateway's own page first, then ours in its place: same origin, and a document the
    // gateway served, so Chromium lets it open a socket to 127.0.0.1.
    await page.goto(`${gateway}/#${settings}`);
    await page.setContent('<!doctype html><div id="root"></div>');
    await page.addScriptTag({ content: bundle, type: "module" });
    await page.waitForSelector('[data-state="open"]');
    await page.waitForSelector(".doctor >> text=Doctor online");

    const realtime = createRealtime({ baseUrl: gateway, apiKey: TEST_API_KEY });
    await realtime.messaging.sendNotificationToUser(user, {
      title: "Your results are ready",
      message: "Open the app to read them",
    });
    await page.waitForSelector(".notification >> text=Your results are ready");

    await page.click("button");
    const message = await doctor.frames.next("user_message");
    expect(message.data).toMatchObject({ from_user_id: user, message: "On my way" });
    await doctor.close();
    await context.close();
  });
});
