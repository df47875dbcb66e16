import { describe, expect, it } from "vitest";
import { admitQueued, InflightLimit, runtimeOverload } from "../../../src/core/overload.ts";
import { GatewayError } from "../../../src/protocol/errors.ts";

const CONFIG = { maxInflight: 2, maxWaitMs: 2_000, retryAfterMs: 750 };

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
    const limit = new InflightLimit(2, 750, "too many messages in flight");
    const calls = [held(), held()];
    const running = calls.map((call) => limit.run(() => call.promise));
    expect(limit.active).toBe(2);
    let ran = false;
    const refused = await limit
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
    const limit = new InflightLimit(1, 750, "busy");
    await expect(limit.run(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(limit.active).toBe(0);
    expect(await limit.run(async () => "next")).toBe("next");
    expect(limit.active).toBe(0);
  });

  it("turns the runtime's overloaded refusal of the call into unavailable", async () => {
    const limit = new InflightLimit(4, 750, "busy");
    const overloaded = Object.assign(new Error("Durable Object is overloaded"), {
      overloaded: true,
    });
    await expect(limit.run(() => Promise.reject(overloaded))).rejects.toMatchObject({
      code: "unavailable",
      retryAfterMs: 750,
    });
  });

  it("rejects a bound that is not a positive integer", () => {
    expect(() => new InflightLimit(0, 750, "busy")).toThrow(RangeError);
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
