import { describe, expect, it } from "vitest";
import { KnownUser, UNKNOWN_USER_TTL_MS } from "../../../src/core/known-user.ts";
import { GatewayError } from "../../../src/protocol/errors.ts";

function store() {
  const data = new Map<string, unknown>();
  return {
    data,
    get: async <T>(key: string) => data.get(key) as T | undefined,
    put: async <T>(key: string, value: T) => void data.set(key, value),
  };
}

describe("KnownUser", () => {
  it("knows a user who connected before without asking the user table", async () => {
    let asked = 0;
    const known = new KnownUser({
      store: store(),
      connectedBefore: async () => true,
      lookup: async () => ++asked > 0,
    });
    expect(await known.check("u")).toBe(true);
    expect(asked).toBe(0);
  });

  it("asks the table once and keeps a yes for good, a no for 30 s", async () => {
    let now = 1_000;
    let asked = 0;
    let answer = false;
    const known = new KnownUser({
      store: store(),
      connectedBefore: async () => false,
      lookup: async () => {
        asked += 1;
        return answer;
      },
      now: () => now,
    });
    expect(await known.check("u")).toBe(false);
    answer = true;
    now += UNKNOWN_USER_TTL_MS - 1;
    expect(await known.check("u")).toBe(false);
    expect(asked).toBe(1);
    now += 1;
    expect(await known.check("u")).toBe(true);
    now += 10 * UNKNOWN_USER_TTL_MS;
    expect(await known.check("u")).toBe(true);
    expect(asked).toBe(2);
  });

  it("without a user table, an unseen user does not exist; a failing table is unavailable", async () => {
    expect(
      await new KnownUser({
        store: store(),
        connectedBefore: async () => false,
        lookup: null,
      }).check("u"),
    ).toBe(false);
    const failing = new KnownUser({
      store: store(),
      connectedBefore: async () => false,
      lookup: async () => {
        throw new Error("down");
      },
    });
    const error = await failing.check("u").catch((err: unknown) => err);
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).code).toBe("unavailable");
  });

  it("stores nothing for a user the table does not know: a no lives only in memory", async () => {
    const storage = store();
    let asked = 0;
    const options = {
      store: storage,
      connectedBefore: async () => false,
      lookup: async () => {
        asked += 1;
        return false;
      },
    };
    expect(await new KnownUser(options).check("made-up")).toBe(false);
    expect([...storage.data.keys()]).toEqual([]);
    // A new instance (the actor was evicted) asks again rather than trusting a stored no.
    expect(await new KnownUser(options).check("made-up")).toBe(false);
    expect(asked).toBe(2);
  });

  it("ignores a no stored by an older version and asks the table", async () => {
    const storage = store();
    storage.data.set("known_user", { known: false, at: Date.now() });
    const known = new KnownUser({
      store: storage,
      connectedBefore: async () => false,
      lookup: async () => true,
    });
    expect(await known.check("u")).toBe(true);
    expect(storage.data.get("known_user")).toMatchObject({ known: true });
  });
});
