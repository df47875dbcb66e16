/**
 * The demo page and the admin console are served by the Worker with nothing to build, the same
 * under `npm run dev` (wrangler dev, the global gateway) and `npm start` (workerd serve, a
 * gateway of this file's own): the HTML shells, their scripts exactly as bundled in
 * pages.generated.ts, and the security headers on each.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_SCRIPT, DEMO_SCRIPT } from "../../src/http/pages.generated.ts";
import { gatewayUrl } from "./helpers.ts";
import { type OwnServer, startOwnServer } from "./own-server.ts";

let workerd: OwnServer;

beforeAll(async () => {
  workerd = await startOwnServer("pages");
}, 120_000);

afterAll(async () => {
  await workerd?.stop();
});

function expectPageHeaders(response: Response): void {
  const csp = response.headers.get("content-security-policy") ?? "";
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("connect-src 'self'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).not.toContain("unsafe-inline");
  expect(response.headers.get("x-content-type-options")).toBe("nosniff");
  expect(response.headers.get("referrer-policy")).toBe("no-referrer");
}

describe.each([
  ["wrangler dev (npm run dev)", () => gatewayUrl()],
  ["workerd serve (npm start)", () => workerd.stack.url],
])("the pages under %s", (_runtime, base) => {
  it.each([
    ["/", "/assets/demo.js", DEMO_SCRIPT],
    ["/admin", "/assets/admin.js", ADMIN_SCRIPT],
    ["/admin/", "/assets/admin.js", ADMIN_SCRIPT],
  ])("%s loads %s, the bundle as built", async (path, script, bundle) => {
    const page = await fetch(`${base()}${path}`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(page.headers.get("cache-control")).toBe("no-store");
    expectPageHeaders(page);
    const html = await page.text();
    expect(html).toContain(`<script src="${script}" defer></script>`);
    // No inline script: every <script> has a src.
    expect(html.match(/<script(?![^>]*\bsrc=)[^>]*>/g)).toBeNull();

    const asset = await fetch(`${base()}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("content-type")).toContain("text/javascript");
    expectPageHeaders(asset);
    expect(await asset.text()).toBe(bundle);
  });

  it("serves the stylesheet, and 404 for any other asset name", async () => {
    const style = await fetch(`${base()}/assets/pages.css`);
    expect(style.status).toBe(200);
    expect(style.headers.get("content-type")).toContain("text/css");
    await style.arrayBuffer();
    for (const name of ["nope.js", "constructor", "__proto__", "..%2Fwrangler.toml"]) {
      const missing = await fetch(`${base()}/assets/${name}`);
      expect(missing.status).toBe(404);
      await missing.arrayBuffer();
    }
  });
});
