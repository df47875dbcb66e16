/**
 * The admin console (`/admin`) and the demo page (`/`) in Chromium against the real gateway,
 * under both runtimes (wrangler dev as `npm run dev` runs it, workerd serve as `npm start`):
 * two users on the demo page, one operator on the console. The operator sees both come
 * online, opens one, notifies it (the user's page shows the notification), and disconnects
 * the other (that user's page shows the 4003 close). The console must show untrusted names and
 * messages as text, and the pages must run under their CSP with no violation.
 *
 * With SAVE_SCREENSHOTS=1 the console and the demo page are saved to docs/img/ for the README.
 */
import { existsSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { connectAs, uniqueUser } from "../e2e/helpers.ts";
import { type OwnServer, startOwnServer } from "../e2e/own-server.ts";
import { TEST_API_KEY } from "../helpers/secrets.ts";
import { mintToken } from "../helpers/tokens.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SCREENSHOTS = process.env.SAVE_SCREENSHOTS
  ? resolve(import.meta.dirname, "../../docs/img")
  : mkdtempSync(join(tmpdir(), "console-shots-"));

let browser: Browser;
/** A gateway of this file's own on `npm start`'s runtime, beside the global wrangler dev one. */
let workerd: OwnServer;
const contexts: BrowserContext[] = [];
/** Page errors and CSP violations seen on any page: there must be none. */
const problems: string[] = [];

async function newPage(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" && /Content.Security.Policy|Refused to/i.test(message.text())) {
      problems.push(`csp: ${message.text()}`);
    }
  });
  return page;
}

/** A user on the demo page, connected with a token for `userId`. */
async function demoUser(base: string, userId: string, username: string): Promise<Page> {
  const page = await newPage();
  await page.goto(base);
  await page.fill("#token", await mintToken(userId, { username, groups: ["group_console_*"] }));
  await page.click("#connect");
  await page.waitForSelector('#state[data-state="open"]');
  await page.waitForSelector("#log .in >> text=connection_established");
  return page;
}

async function signIn(base: string, page: Page, credential: string): Promise<void> {
  await page.goto(`${base}/admin`);
  await page.fill('#signInForm input[name="credential"]', credential);
  await page.click('#signInForm button[type="submit"]');
  await page.waitForSelector("#console:not([hidden])");
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`,
    );
  }
  mkdirSync(SCREENSHOTS, { recursive: true });
  workerd = await startOwnServer("console");
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
});

afterAll(async () => {
  for (const context of contexts) await context.close();
  await browser?.close();
  await workerd?.stop();
});

describe.each([
  { runtime: "wrangler dev (npm run dev)", screenshots: true, base: () => inject("gatewayUrl") },
  { runtime: "workerd serve (npm start)", screenshots: false, base: () => workerd.stack.url },
])("the admin console in Chromium, on $runtime", ({ screenshots, base }) => {
  const ann = uniqueUser("ann");
  const bob = uniqueUser("bob");
  let annPage: Page;
  let bobPage: Page;
  let admin: Page;

  it("refuses a wrong key, and keeps the right one out of the URL", async () => {
    admin = await newPage();
    await admin.goto(`${base()}/admin`);
    await admin.fill('#signInForm input[name="credential"]', "not-the-key");
    await admin.click('#signInForm button[type="submit"]');
    await admin.waitForSelector("#signInError >> text=unauthorized");
    expect(await admin.isHidden("#console")).toBe(true);

    await signIn(base(), admin, TEST_API_KEY);
    expect(admin.url()).not.toContain(TEST_API_KEY);
    expect(await admin.evaluate(() => sessionStorage.length)).toBe(1);
  });

  it("sees both users come online, with their connection counts", async () => {
    annPage = await demoUser(base(), ann, "Ann");
    bobPage = await demoUser(base(), bob, "Bob");
    // The list comes from the presence shards (an outbox away) and is polled every 2 s.
    await admin.waitForSelector(`#users tr[data-user="${ann}"]`);
    await admin.waitForSelector(`#users tr[data-user="${bob}"]`);
    const annCount = admin.locator(`#users tr[data-user="${ann}"] td.count`);
    expect(await annCount.textContent()).toBe("1");

    // A second tab of Ann's: both her pages and the console count it.
    const secondTab = await demoUser(base(), ann, "Ann");
    await annPage.waitForSelector("#tabs >> text=2");
    await admin.waitForSelector(`#users tr[data-user="${ann}"] td.count >> text=2`);
    await secondTab.click("#disconnect");
    await annPage.waitForSelector("#tabs >> text=1");
    await admin.waitForSelector(`#users tr[data-user="${ann}"] td.count >> text=1`);
  });

  it("shows one user's sockets, groups and mailbox", async () => {
    await annPage.fill("#group", "group_console_ward");
    await annPage.click("#join");
    await annPage.waitForSelector("#log .in >> text=group_joined");
    await admin.waitForSelector(`#users tr[data-user="${ann}"] >> text=group_console_ward`);
    await admin.click(`#users button[data-pick="${ann}"]`);
    await admin.waitForSelector("#user dl.facts >> text=Ann");
    const sockets = admin.locator("#user table.sockets tbody tr");
    expect(await sockets.count()).toBe(1);
    expect(await sockets.first().textContent()).toContain("group_console_ward");
    expect(await admin.inputValue('#notifyForm input[name="user_id"]')).toBe(ann);
  });

  it("sends a notification that the user's page shows", async () => {
    await admin.fill('#notifyForm input[name="title"]', "Maintenance");
    await admin.fill('#notifyForm input[name="message"]', "Back in ten minutes");
    await admin.click('#notifyForm button[type="submit"]');
    await admin.waitForSelector("#actionResult >> text=delivered to 1 socket");
    await annPage.waitForSelector("#log .in >> text=Back in ten minutes");
    // The mailbox now holds it.
    await admin.waitForSelector("#user dl.facts >> text=/1 stored \\(1 notifications\\)/");
  });

  it("sends a direct message as system, a broadcast and a group message", async () => {
    await admin.fill('#messageForm input[name="message"]', "A word from the system");
    await admin.click('#messageForm button[type="submit"]');
    await admin.waitForSelector("#actionResult >> text=Message delivered");
    await annPage.waitForSelector(
      '#log .in >> text=/"from_user_id":"system".*A word from the system/',
    );

    const everyone = `Everyone: ${uniqueUser("broadcast")}`;
    await admin.fill('#broadcastForm input[name="message"]', everyone);
    await admin.click('#broadcastForm button[type="submit"]');
    await admin.waitForSelector("#actionResult >> text=/Broadcast reached [1-9]/");
    for (const page of [annPage, bobPage])
      await page.waitForSelector(`#log .in >> text=${everyone}`);

    await admin.fill('#groupForm input[name="group_name"]', "group_console_ward");
    await admin.fill('#groupForm input[name="data"]', '{"ward":"3","beds":12}');
    await admin.click('#groupForm button[type="submit"]');
    await admin.waitForSelector("#actionResult >> text=Group message reached 1 user(s)");
    await annPage.waitForSelector('#log .in >> text=/group_message.*"beds":12/');
  });

  it("shows message rates from /metrics as charts, and the mirrors' health", async () => {
    await admin.waitForSelector('[data-chart="messages sent"] svg.chart polyline');
    await admin.waitForSelector('[data-chart="connections"] .rate-value >> text=/^[1-9]/');
    await admin.waitForSelector('#health dd[data-mirror="status"][data-state="ok"]');
    await admin.waitForSelector('#health dd[data-mirror="redis"] >> text=/lag/');
    if (screenshots) {
      await admin.screenshot({ path: join(SCREENSHOTS, "admin-console.png"), fullPage: true });
      await annPage.screenshot({ path: join(SCREENSHOTS, "demo.png"), fullPage: true });
    }
  });

  it("says plainly that there are no rates when /metrics answers 404 (an older gateway)", async () => {
    const page = await newPage();
    // The one answer no gateway of this build gives: simulated in the browser, nowhere else.
    await page.route("**/metrics", (route) =>
      route.fulfill({ status: 404, contentType: "application/json", body: "{}" }),
    );
    await signIn(base(), page, TEST_API_KEY);
    await page.waitForSelector("#metricsNotice:not([hidden]) >> text=Metrics unavailable");
    expect(await page.locator("#rates svg").count()).toBe(0);
    await page.close();
  });

  it("disconnects a user, whose page shows the 4003 close", async () => {
    await admin.fill('#disconnectForm input[name="user_id"]', bob);
    await admin.fill('#disconnectForm input[name="reason"]', "account revoked");
    // Ann is still the selected user: the console's refreshes (every 2 s) must not put her
    // back in the form the operator filled with Bob.
    await admin.waitForTimeout(2_500);
    expect(await admin.inputValue('#disconnectForm input[name="user_id"]')).toBe(bob);
    await admin.click('#disconnectForm button[type="submit"]');
    await admin.waitForSelector(`#actionResult >> text=Closed 1 socket(s) of ${bob}`);
    await bobPage.waitForSelector('#state[data-state="closed"]');
    await bobPage.waitForSelector("#log >> text=closed 4003 terminated");
    await admin.waitForSelector(`#users tr[data-user="${bob}"]`, { state: "detached" });
  });

  it("shows a name and a message full of markup as text (staff token, live socket)", async () => {
    const staff = uniqueUser("ops");
    const page = await newPage();
    await signIn(base(), page, await mintToken(staff, { staff: true, username: "ops" }));
    await page.waitForSelector('#socketState[data-state="open"]');

    const evil = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>';
    const mallory = uniqueUser("mallory");
    const socket = await connectAs(mallory, { username: evil }, { gateway: base() });
    socket.send({ type: "send_message", data: { target_user_id: staff, message: evil } });
    await page.waitForSelector("#frames .in >> text=user_message");
    await page.fill('#lookupForm input[name="user_id"]', mallory);
    await page.click('#lookupForm button[type="submit"]');
    await page.waitForSelector(`#userTitle >> text=${mallory}`);
    const username = page.locator("#user dl.facts dd").first();
    expect(await username.textContent()).toBe(evil);
    expect(await page.locator("#frames .in", { hasText: "user_message" }).textContent()).toContain(
      "<script>window.__xss=2</script>",
    );
    expect(await page.locator("#console img, #console script").count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { __xss?: number }).__xss)).toBeUndefined();

    // With a staff token, a broadcast goes out over the console's own socket (the SDK).
    await page.fill('#broadcastForm input[name="message"]', "From the staff socket");
    await page.click('#broadcastForm button[type="submit"]');
    await page.waitForSelector("#actionResult >> text=/Broadcast reached [1-9]/");
    await page.waitForSelector("#frames .in >> text=From the staff socket");
    await socket.close();
  });

  it("ran every page under its CSP with no error", () => {
    expect(problems).toEqual([]);
  });
});
