import { describe, expect, it } from "vitest";
import { userNotFound } from "../../../src/app/user-not-found.ts";
import { GatewayError } from "../../../src/protocol/errors.ts";

describe("user_not_found", () => {
  it("is a typed error naming the user, for sockets and HTTP alike", () => {
    const error = userNotFound("42");
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({ code: "user_not_found", details: { user_id: "42" } });
    expect(error.message).toContain("42");
  });
});
