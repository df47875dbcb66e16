import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { connectAs, uniqueUser } from "../e2e/helpers.ts";
import { mintToken } from "../helpers/tokens.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`,
    );
  }
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
});

afterAll(async () => {
  await browser?.close();
});

describe("the demo page in Chromium", () => {
  it("connects with a pasted token, shows the frames, and exchanges a direct message", async () => {
    const user = uniqueUser("browser");
    const page = await browser.newPage();
    page.on("console", (m) => console.log("[page]", m.text()));
    page.on("pageerror", (e) => console.log("[pageerror]", e.message));
    page.setDefaultTimeout(8_000);
    await page.goto(inject("gatewayUrl"));
    await page.fill("#token", await mintToken(user, { username: "chrome" }));
    await page.click("#connect");
    await page.waitForSelector('#state[data-state="open"]');
    await page.waitForSelector("#log .in >> text=connection_established");

    await page.click("#status");
    await page.waitForSelector("#log .in >> text=status_response");
    await page.click("#ping");
    await page.waitForSelector("#log .in >> text=pong");

    const peer = await connectAs(uniqueUser("peer"));
    await page.fill("#target", peer.established.data.user_id);
    await page.fill("#text", "hello from chromium");
    await page.click("#send");
    const received = await peer.frames.next("user_message");
    expect(received.data).toMatchObject({
      from_user_id: user,
      from_username: "chrome",
      message: "hello from chromium",
    });
    await page.waitForSelector("#log .in >> text=message_sent");

    peer.send({ type: "send_message", data: { target_user_id: user, message: "hello back" } });
    await page.waitForSelector("#log .in >> text=hello back");
    await peer.close();
    await page.close();
  });
});
