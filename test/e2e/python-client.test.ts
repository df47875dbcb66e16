/**
 * The Python client (clients/python) against the real gateway: its unittest suite, what real
 * sockets receive from it, the runnable block of docs/django.md, and an offline `pip install`.
 * Python has no WebSocket client in its standard library, so the sockets are opened here and
 * the frames asserted after the Python process exits.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { TEST_API_KEY } from "../helpers/secrets.ts";
import { type Client, connectAs, gatewayUrl } from "./helpers.ts";

const run = promisify(execFile);
const PYTHON = process.env.PYTHON ?? "python3";
const PACKAGE = resolve("clients/python");

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs python3 and resolves with its exit code and output (a failing exit does not throw). */
async function python(args: string[], env: Record<string, string>, cwd = PACKAGE): Promise<Ran> {
  try {
    const { stdout, stderr } = await run(PYTHON, args, {
      cwd,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1", ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof failed.code === "number" ? failed.code : -1,
      stdout: failed.stdout ?? "",
      stderr: failed.stderr ?? String(err),
    };
  }
}

const gatewayEnv = () => ({ REALTIME_URL: gatewayUrl(), REALTIME_API_KEY: TEST_API_KEY });

/** An integer id, as Django's primary keys, unique to this run. */
const djangoId = () => 700_000_000 + Math.floor(Math.random() * 100_000_000);

async function joined(user: number, group: string): Promise<Client> {
  const tab = await connectAs(user, { groups: ["consultation_*"] });
  expect((await tab.request("join_group", { group_name: group })).type).toBe("group_joined");
  return tab;
}

/** Waits until the presence shards list the user (they follow the actors through an outbox). */
async function listedOnline(user: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const answer = await fetch(`${gatewayUrl()}/api/v1/users/online`, {
      headers: { authorization: `Bearer ${TEST_API_KEY}` },
    });
    const body = (await answer.json()) as { users: { user_id: string }[] };
    if (body.users.some((u) => u.user_id === String(user))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`user ${user} never listed online`);
}

describe("the Python client", () => {
  it("passes its unittest suite against the gateway, and the sockets receive what it sent", {
    timeout: 60_000,
  }, async () => {
    const user = djangoId();
    const group = `consultation_${user}`;
    const mark = `py-${Date.now().toString(36)}`;
    const member = await joined(user, group);
    const other = await connectAs(user, { groups: ["consultation_*"] });
    const tabs = [member, other];
    const revokedUser = djangoId();
    const revoked = await connectAs(revokedUser);
    // A client that spoke first gets the server's close at once (docs/protocol.md, close codes).
    await revoked.request("ping");

    const ran = await python(["-m", "unittest", "-v"], {
      ...gatewayEnv(),
      REALTIME_TEST_USER: String(user),
      REALTIME_TEST_GROUP: group,
      REALTIME_TEST_MARK: mark,
      REALTIME_TEST_REVOKED_USER: String(revokedUser),
    });

    expect(ran.stderr).toMatch(/^OK$/m);
    expect(ran.code).toBe(0);
    expect(ran.stderr).not.toMatch(/skipped/);
    const count = Number(/^Ran (\d+) tests? /m.exec(ran.stderr)?.[1]);
    expect(count).toBeGreaterThanOrEqual(44);
    for (const name of [
      "test_a_user_with_two_tabs_is_online_with_two_connections",
      "test_get_all_online_users_lists_the_user_by_integer_id",
      "test_send_notification_to_user_reaches_both_tabs",
      "test_an_unknown_user_is_user_not_found_with_the_id",
      "test_a_503_then_200_is_retried_once_and_returns_the_answer",
      "test_matches_a_vector_computed_with_openssl",
      "test_terminate_user_connections_closes_the_users_socket",
    ]) {
      expect(ran.stderr).toMatch(new RegExp(`^${name} .* \\.\\.\\. ok$`, "m"));
    }

    for (const tab of tabs) {
      const notification = await tab.frames.next(
        (f) => f.type === "notification" && f.data.title === `Lab results ${mark}`,
      );
      expect(notification.data).toMatchObject({
        message: "Your results are ready",
        data: { report: 12 },
      });
      expect(
        (
          await tab.frames.next(
            (f) => f.type === "user_message" && f.data.message_type === "direct_message",
          )
        ).data,
      ).toMatchObject({ from_user_id: "7", message: `See you at 10 ${mark}` });
      expect(
        (
          await tab.frames.next(
            (f) => f.type === "system_broadcast" && f.data.message === `Maintenance ${mark}`,
          )
        ).data,
      ).toMatchObject({ message_type: "maintenance_alert" });
    }
    // Only the tab that joined the group receives the group's message.
    expect((await member.frames.next("group_message")).data).toMatchObject({
      group_name: group,
      message_type: "consultation_update",
      data: { mark, status: "started" },
    });
    expect(other.frames.unconsumed("group_message")).toEqual([]);
    expect(
      (await revoked.frames.next((f) => f.type === "error" && f.data.code === "forbidden")).data,
    ).toMatchObject({ message: `revoked ${mark}`, details: { reason: "terminated" } });
    expect(await revoked.frames.waitClosed()).toEqual({ code: 4003, reason: "terminated" });
    for (const tab of tabs) await tab.close();
  });
});

describe("docs/django.md", () => {
  const doc = readFileSync("docs/django.md", "utf8");
  const blocks = [...doc.matchAll(/```python\n([\s\S]*?)```/g)].map((m) => m[1]);
  const runnable =
    /<!-- run by test\/e2e\/python-client\.test\.ts -->\n```python\n([\s\S]*?)```/.exec(doc)?.[1];

  it("shows Python blocks that all parse", async () => {
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    const dir = mkdtempSync(join(tmpdir(), "django-md-"));
    try {
      const parse =
        "import ast, json, sys\nfor b in json.load(open(sys.argv[1])): ast.parse(b)\nprint('parsed')";
      const file = join(dir, "blocks.json");
      writeFileSync(file, JSON.stringify(blocks));
      const ran = await python(["-c", parse, file], {});
      expect(ran.stderr).toBe("");
      expect(ran.stdout.trim()).toBe("parsed");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("runs the Step 4 block: user 501's socket receives all four sends and it prints what its comments say", async () => {
    expect(runnable).toBeDefined();
    const tab = await joined(501, "consultation_456");
    await listedOnline(501);

    const ran = await python(["-c", runnable ?? ""], gatewayEnv());

    expect(ran.stderr).toBe("");
    expect(ran.code).toBe(0);
    // Each print's expected output is its trailing comment.
    const promised = [...(runnable ?? "").matchAll(/print\(.*\)\s+# (.*)$/gm)].map((m) => m[1]);
    expect(ran.stdout.trim().split("\n")).toEqual(promised);
    expect(promised).toEqual(["True", "1", "True", "user_not_found 404"]);

    expect((await tab.frames.next("notification")).data).toMatchObject({
      title: "Action Required",
      message: "Please complete your profile",
      data: { action: "show_popup" },
    });
    expect((await tab.frames.next("user_message")).data).toMatchObject({
      from_user_id: "7",
      message: "Hello there!",
      message_type: "direct_message",
    });
    expect((await tab.frames.next("group_message")).data).toMatchObject({
      group_name: "consultation_456",
      message_type: "consultation_update",
      data: { message: "Dr. Lee has joined", consultation_id: 456 },
    });
    expect((await tab.frames.next("system_broadcast")).data).toMatchObject({
      message: "System will be down for maintenance",
      message_type: "maintenance_alert",
    });
    await tab.close();
  });

  it("and the README's section show an import that works and the pip command tested below", async () => {
    const readme = readFileSync("README.md", "utf8");
    const section = /## From Django Channels\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? "";
    expect(section).toContain("[docs/django.md](docs/django.md)");
    for (const text of [section, doc]) {
      expect(text).toContain("pip install ./clients/python");
      const imports = [...text.matchAll(/^\+(from realtime_gateway import .*)$/gm)].map(
        (m) => m[1],
      );
      expect(imports).toEqual([
        "from realtime_gateway import user_messaging_service, user_online_service",
      ]);
      const ran = await python(
        ["-c", `${imports[0]}; print(user_online_service.is_user_online)`],
        {},
      );
      expect(ran.stderr).toBe("");
      expect(ran.stdout).toMatch(/^<function is_user_online/);
    }
  });

  // pip builds the wheel in a fresh process: about 10 s on a busy 2-core machine.
  it("installs with pip offline, as the page says", { timeout: 60_000 }, async () => {
    const target = mkdtempSync(join(tmpdir(), "pip-target-"));
    try {
      const install = await python(
        ["-m", "pip", "install", "--no-index", "--no-cache-dir", "--target", target, PACKAGE],
        { PIP_DISABLE_PIP_VERSION_CHECK: "1" },
        tmpdir(),
      );
      expect(install.stdout).toContain("Successfully installed realtime-gateway-0.1.0");
      expect(install.code).toBe(0);
      const imported = await python(
        ["-c", "import realtime_gateway; print(realtime_gateway.__file__)"],
        { PYTHONPATH: target },
        tmpdir(),
      );
      expect(imported.stdout.trim()).toBe(join(target, "realtime_gateway", "__init__.py"));
    } finally {
      rmSync(target, { recursive: true, force: true });
    }
  });
});
