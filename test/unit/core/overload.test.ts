import { describe, expect, it } from "vitest";
import {
  admitQueued,
  Backlog,
  InflightLimit,
  runtimeOverload,
} from "../../../src/core/overload.ts";
import { forRpc, GatewayError } from "../../../src/protocol/errors.ts";

const CONFIG = { maxInflight: 2, maxWaitMs: 2_000, retryAfterMs: 750 };

function limit(options: { max: number; maxAgeMs?: number; backlog?: Backlog }) {
  return new InflightLimit({
    max: options.max,
    maxAgeMs: options.maxAgeMs ?? 2_000,
    retryAfterMs: 750,
    what: "too many messages in flight",
    ...(options.backlog ? { backlog: options.backlog } : {}),
  });
}

/** A call that stays in flight until the test lets it finish. */
function held() {
  let finish: (value: string) => void = () => {};
  const promise = new Promise<string>((resolve) => {
    finish = resolve;
  });
  return { promise, finish };
}

describe("InflightLimit", () => {
  it("refuses the call past the bound at once, with unavailable and retry_after_ms", async () => {
    const inflight = limit({ max: 2 });
    const calls = [held(), held()];
    const running = calls.map((call) => inflight.run(() => call.promise));
    expect(inflight.active).toBe(2);
    let ran = false;
    const refused = await inflight
      .run(async () => {
        ran = true;
        return "third";
      })
      .catch((err: unknown) => err);
    expect(ran).toBe(false);
    expect(refused).toBeInstanceOf(GatewayError);
    expect(refused).toMatchObject({ code: "unavailable", retryAfterMs: 750, temporary: true });
    expect((refused as GatewayError).toBody()).toMatchObject({ retry_after_ms: 750 });
    for (const call of calls) call.finish("done");
    expect(await Promise.all(running)).toEqual(["done", "done"]);
  });

  it("admits calls again as soon as earlier ones finish, whether they succeed or fail", async () => {
    const inflight = limit({ max: 1 });
    await expect(inflight.run(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(inflight.active).toBe(0);
    expect(await inflight.run(async () => "next")).toBe("next");
    expect(inflight.active).toBe(0);
  });

  it("turns the runtime's overloaded refusal of the call into unavailable", async () => {
    const inflight = limit({ max: 4 });
    const overloaded = Object.assign(new Error("Durable Object is overloaded"), {
      overloaded: true,
    });
    await expect(inflight.run(() => Promise.reject(overloaded))).rejects.toMatchObject({
      code: "unavailable",
      retryAfterMs: 750,
    });
  });

  it("refuses while its oldest call in flight has waited longer than maxAgeMs, and not after", async () => {
    const inflight = limit({ max: 64, maxAgeMs: 2_000 });
    const slow = held();
    const running = inflight.run(() => slow.promise, 10_000);
    expect(await inflight.run(async () => "young", 12_000)).toBe("young");
    await expect(inflight.run(async () => "late", 12_001)).rejects.toMatchObject({
      code: "unavailable",
      retryAfterMs: 750,
    });
    slow.finish("done");
    await running;
    expect(await inflight.run(async () => "drained", 12_002)).toBe("drained");
  });

  it("rejects a bound that is not a positive integer", () => {
    expect(() => limit({ max: 0 })).toThrow(RangeError);
  });
});

describe("Backlog (shared by the actors of one isolate)", () => {
  it("after a target refused for overload, every limit sharing it refuses until retry_after_ms passed", async () => {
    const backlog = new Backlog();
    const ann = limit({ max: 64, backlog });
    const bob = limit({ max: 64, backlog });
    // What a target's refusal looks like after crossing RPC.
    const refusal = forRpc(new GatewayError("unavailable", "overloaded", { retryAfterMs: 750 }));
    const before = Date.now();
    await expect(ann.run(() => Promise.reject(refusal))).rejects.toThrow("[gateway:unavailable");
    await expect(bob.run(async () => "sent", before + 100)).rejects.toMatchObject({
      code: "unavailable",
    });
    expect(await bob.run(async () => "sent", Date.now() + 751)).toBe("sent");
  });

  it("is not tripped by a dependency outage (unavailable without retry_after_ms)", async () => {
    const backlog = new Backlog();
    const ann = limit({ max: 64, backlog });
    const outage = forRpc(new GatewayError("unavailable", "cannot tell whether the user exists"));
    await expect(ann.run(() => Promise.reject(outage))).rejects.toBeDefined();
    expect(backlog.behind(Date.now())).toBe(false);
    expect(await ann.run(async () => "sent")).toBe("sent");
  });
});

describe("admitQueued (the target side)", () => {
  it("admits a delivery that waited up to DELIVERY_MAX_WAIT_MS, and one nobody waits for", () => {
    expect(() => admitQueued(10_000, 12_000, CONFIG)).not.toThrow();
    expect(() => admitQueued(undefined, 12_000, CONFIG)).not.toThrow();
  });

  it("refuses one that waited longer, with unavailable and retry_after_ms", () => {
    expect(() => admitQueued(10_000, 12_001, CONFIG)).toThrow(
      expect.objectContaining({ code: "unavailable", retryAfterMs: 750 }),
    );
  });
});

describe("runtimeOverload", () => {
  it("leaves errors that are not the runtime's overload alone", () => {
    const err = new Error("boom");
    expect(runtimeOverload(err, 750)).toBe(err);
    expect(runtimeOverload("text", 750)).toBe("text");
  });
});
