import { describe, expect, it } from "vitest";
import { DEFAULT_HANDLERS } from "../../../../src/app/socket/index.ts";
import { GatewayError } from "../../../../src/protocol/errors.ts";
import { COMMAND_TYPES } from "../../../../src/protocol/messages.ts";
import { commandContext, connectionOf, refusal, run } from "../../helpers/holding-actor.ts";

describe("dispatch", () => {
  it("has a handler for every command type", () => {
    for (const type of COMMAND_TYPES) expect(typeof DEFAULT_HANDLERS[type], type).toBe("function");
  });
});

describe("the sender's budget", () => {
  /** A budget that records what handlers charge and refuses targets listed in `refuse`. */
  function recordingBudget(refuse: string[] = []) {
    const charged: number[] = [];
    const targets: string[] = [];
    return {
      charged,
      targets,
      chargeReached: (users: number) => charged.push(users),
      admitTarget: (userId: string) => {
        targets.push(userId);
        if (refuse.includes(userId)) {
          throw new GatewayError("rate_limited", "too many new targets", { retryAfterMs: 5_000 });
        }
      },
    };
  }

  it("is charged the users a group message reached", async () => {
    const budget = recordingBudget();
    const ctx = commandContext(connectionOf("42", { groups: ["group_a"] }), { budget });
    ctx.holder.publishReach = 37;
    await run(ctx, { type: "group_message", data: { group_name: "group_a", message: "hi" } });
    expect(budget.charged).toEqual([37]);
  });

  it("is charged the users a broadcast reached", async () => {
    const budget = recordingBudget();
    const ctx = commandContext(connectionOf("admin", { isStaff: true }), { budget });
    ctx.holder.broadcastReach = 250;
    await run(ctx, { type: "broadcast", data: { message: "maintenance" } });
    expect(budget.charged).toEqual([250]);
  });

  it("refuses a direct message past the new-target cap before anything is delivered", async () => {
    const budget = recordingBudget(["stranger"]);
    const ctx = commandContext(connectionOf("42"), { budget });
    const error = await refusal(ctx, {
      type: "send_message",
      data: { target_user_id: "stranger", message: "x" },
    });
    expect(error).toMatchObject({ code: "rate_limited", retryAfterMs: 5_000 });
    expect(ctx.holder.deliveries).toEqual([]);
    await run(ctx, { type: "send_message", data: { target_user_id: 43, message: "hi" } });
    expect(budget.targets).toEqual(["stranger", "43"]);
    expect(ctx.holder.deliveries).toHaveLength(1);
  });
});
