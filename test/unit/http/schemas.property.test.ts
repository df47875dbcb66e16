/**
 * Properties of the HTTP API's input schemas over generated input: any body gives a parsed
 * value or a `validation_failed` GatewayError naming a field, never another throw; what is
 * accepted is storable and shallow; parsing what was accepted, sent again as JSON, gives it back.
 * And through the router: any raw body to any route answers 200 or a typed 4xx, never 500,
 * and nothing Postgres could not store reaches the actors.
 */
import fc from "fast-check";
import { Hono } from "hono";
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/core/config.ts";
import { parseBody, parseInput } from "../../../src/http/api/body.ts";
import { createApi } from "../../../src/http/api/index.ts";
import { API_PREFIX } from "../../../src/http/api/openapi.ts";
import {
  BroadcastBodySchema,
  DirectMessageBodySchema,
  ErrorBodySchema,
  GroupMessageBodySchema,
  GroupNameParamSchema,
  NotificationBodySchema,
  UserIdParamSchema,
} from "../../../src/http/api/schemas.ts";
import type { AppEnv } from "../../../src/http/types.ts";
import { GatewayError } from "../../../src/protocol/errors.ts";
import { findDataProblem, isStorableText } from "../../../src/protocol/json-data.ts";
import { UserIdSchema } from "../../../src/protocol/messages.ts";
import { TEST_API_KEY, TEST_JWT_SECRET } from "../../helpers/secrets.ts";
import { addUser, fakeApp } from "../helpers/fake-app.ts";
import {
  anyField,
  deepJson,
  fieldsOfAnyValue,
  messageText,
  messageType,
  nastyJson,
  nastyString,
  userIdValue,
} from "../protocol/arbitraries.ts";

const RUNS = { numRuns: 300 };

const BODIES = {
  NotificationBody: NotificationBodySchema,
  DirectMessageBody: DirectMessageBodySchema,
  BroadcastBody: BroadcastBodySchema,
  GroupMessageBody: GroupMessageBodySchema,
} as const;

/** Parses with `parse`; a throw must be validation_failed naming a field. */
function typedParse<T>(parse: () => T): { ok: true; value: T } | { ok: false } {
  try {
    return { ok: true, value: parse() };
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    const error = err as GatewayError;
    expect(error.code).toBe("validation_failed");
    expect(typeof error.details?.field).toBe("string");
    return { ok: false };
  }
}

/** Every string of an accepted body is storable and its data nests at most 32 levels. */
function expectStorable(body: Record<string, unknown>): void {
  const { data, ...fields } = body;
  expect(findDataProblem(fields)).toBeNull();
  if (data !== undefined) expect(findDataProblem(data)).toBeNull();
}

/** Bodies that each schema accepts (fields a schema does not know are dropped). */
const validBody = fc.record(
  {
    title: messageText.filter((t) => t.length <= 256),
    message: messageText,
    message_type: messageType,
    from_user_id: userIdValue,
    // Through JSON text once, as a body arrives (so -0 is already 0).
    data: fc
      .jsonValue({ maxDepth: 4 })
      .map((d): unknown => JSON.parse(JSON.stringify(d)))
      .filter((d) => findDataProblem(d) === null),
  },
  { requiredKeys: ["title", "message", "message_type", "data"] },
);

/** A valid body with one text field made nasty and any data: one bad value among good ones. */
const nearlyValidBody = fc
  .tuple(validBody, fc.constantFrom("title", "message"), nastyString, fc.oneof(nastyJson, deepJson))
  .map(([body, field, text, data]) => ({ ...body, [field]: `x${text}`, data }));

const anyBody = fc.oneof(fieldsOfAnyValue, nastyJson, deepJson, nearlyValidBody);

describe.each(Object.entries(BODIES))("%s on any input", (_name, schema) => {
  it("parses or answers validation_failed naming a field", () => {
    fc.assert(
      fc.property(anyBody, (value) => {
        const result = typedParse(() => parseBody(schema, value));
        if (result.ok) expectStorable(result.value as Record<string, unknown>);
      }),
      RUNS,
    );
  });

  it("gives back what it accepted when that is sent again as JSON", () => {
    fc.assert(
      fc.property(validBody, (value) => {
        const first = typedParse(() => parseBody(schema, value));
        if (!first.ok) return;
        const again = parseBody(schema, JSON.parse(JSON.stringify(first.value)));
        expect(again).toEqual(first.value);
      }),
      RUNS,
    );
  });
});

describe("path and id schemas on any input", () => {
  it.each([
    ["UserIdParam", UserIdParamSchema],
    ["GroupNameParam", GroupNameParamSchema],
    ["UserId (bodies, RPC)", UserIdSchema],
  ] as const)("%s parses to a storable string or answers validation_failed", (_name, schema) => {
    fc.assert(
      fc.property(anyField, (value) => {
        const result = typedParse(() => parseInput(schema, value, "id"));
        if (result.ok) {
          expect(typeof result.value).toBe("string");
          expect(isStorableText(result.value)).toBe(true);
        }
      }),
      RUNS,
    );
  });
});

describe("the router on any raw body", () => {
  const fake = fakeApp();
  const bob = addUser(fake, "bob", { sockets: 1 });
  /** What the operations handed to the actors since the last call (and forget it). */
  const handedOver = () => {
    const all = {
      notifications: bob.notifications.splice(0),
      deliveries: bob.deliveries.splice(0).map((d) => JSON.parse(d.json) as unknown),
      broadcasts: fake.broadcasts.splice(0).map((b) => JSON.parse(b.delivery.json) as unknown),
      published: fake.published.splice(0),
    };
    return all;
  };
  fake.rooms?.set("group_a", 2);
  const config = parseConfig({ JWT_SECRET: TEST_JWT_SECRET, API_KEY: TEST_API_KEY });
  const app = new Hono<AppEnv>();
  app.use(async (c, next) => {
    c.set("config", config);
    await next();
  });
  app.route(
    API_PREFIX,
    createApi(() => fake),
  );
  const paths = [
    "/users/bob/notifications",
    "/users/bob/messages",
    "/broadcasts",
    "/groups/group_a/messages",
  ];
  const rawBody = fc.oneof(
    nastyString,
    anyBody.map((value) => JSON.stringify(value) ?? "null"),
    validBody.map((value) => JSON.stringify(value)),
    // Numbers past 2^53 written as literals in the one body field that takes a user id.
    fc
      .bigInt({ min: 2n ** 53n, max: 10n ** 25n })
      .map((big) => `{"from_user_id":${big},"message":"m"}`),
  );

  it.each(paths)("POST %s answers 200 or a typed 4xx, never 500", async (path) => {
    await fc.assert(
      fc.asyncProperty(rawBody, async (raw) => {
        const response = await app.request(`${API_PREFIX}${path}`, {
          method: "POST",
          headers: { Authorization: `Bearer ${TEST_API_KEY}`, "Content-Type": "application/json" },
          body: raw,
        });
        const json: unknown = await response.json();
        // Whatever reached the actors is storable (data: 32 levels plus the frame around it).
        expect(findDataProblem(handedOver(), 40)).toBeNull();
        if (response.status === 200) return;
        expect([400, 413]).toContain(response.status);
        const error = v.parse(ErrorBodySchema, json).error;
        expect(["invalid_json", "validation_failed", "message_too_large"]).toContain(error.code);
      }),
      { numRuns: 200 },
    );
  });
});
