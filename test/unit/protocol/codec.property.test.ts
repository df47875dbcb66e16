/**
 * Properties of the frame codec over generated input: whatever a client sends, decodeFrame
 * answers a command or a GatewayError with a client-facing code, never throws; what it accepts
 * is storable, shallow and made of string user ids; and decode(encode(x)) = x for client
 * commands it accepted and for every server frame (read back by the SDK's parseFrame).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeFrame, encodeError, encodeFrame } from "../../../src/protocol/codec.ts";
import { type ErrorCode, GatewayError } from "../../../src/protocol/errors.ts";
import { findDataProblem } from "../../../src/protocol/json-data.ts";
import {
  type ClientCommand,
  COMMAND_TYPES,
  type ServerType,
  USER_ID_PATTERN,
} from "../../../src/protocol/messages.ts";
import { parseFrame } from "../../../src/sdk/frames.ts";
import {
  anyField,
  fieldsOfAnyValue,
  groupName,
  hugeNumber,
  messageText,
  messageType,
  nastyJson,
  nastyString,
  userIdValue,
} from "./arbitraries.ts";

const RUNS = { numRuns: 400 };

/** The codes decodeFrame may answer: about the frame, never about the gateway. */
const FRAME_CODES: readonly ErrorCode[] = [
  "invalid_json",
  "invalid_message",
  "unknown_type",
  "validation_failed",
  "message_too_large",
];

/** Decodes `raw` and checks the outcome is typed; returns it for further checks. */
function typedOutcome(raw: string) {
  const result = decodeFrame(raw);
  if (result.ok) {
    const { command } = result;
    expect(COMMAND_TYPES).toContain(command.type);
    expect(findDataProblem(command.data ?? {})).toBeNull();
    for (const id of userIdsOf(command)) {
      expect(typeof id).toBe("string");
      expect(id).toMatch(USER_ID_PATTERN);
    }
  } else {
    expect(result.error).toBeInstanceOf(GatewayError);
    expect(FRAME_CODES).toContain(result.error.code);
    if (result.error.code === "validation_failed") {
      expect(typeof result.error.details?.field).toBe("string");
    }
    // The error frame itself is valid JSON a client can read back.
    const back = parseFrame(encodeError(result.error, result.id));
    expect(back?.type).toBe("error");
    expect(back?.data).toMatchObject({ code: result.error.code });
  }
  return result;
}

function userIdsOf(command: ClientCommand): unknown[] {
  if (command.type === "send_message") return [command.data.target_user_id];
  if (command.type === "get_status") return command.data?.user_ids ?? [];
  return [];
}

const commandType = fc.oneof(fc.constantFrom(...COMMAND_TYPES), nastyString);

describe("decodeFrame on any input", () => {
  it("answers a command or a typed error for any string", () => {
    fc.assert(
      fc.property(nastyString, (raw) => {
        typedOutcome(raw);
      }),
      RUNS,
    );
  });

  it("answers a command or a typed error for any JSON value", () => {
    fc.assert(
      fc.property(nastyJson, (value) => {
        typedOutcome(JSON.stringify(value) ?? "null");
      }),
      RUNS,
    );
  });

  it("answers a command or a typed error for any envelope with any data and id", () => {
    const envelope = fc.record(
      {
        type: commandType,
        data: fc.oneof(fieldsOfAnyValue, anyField),
        id: fc.oneof(nastyString, hugeNumber, nastyJson),
      },
      { requiredKeys: ["type"] },
    );
    fc.assert(
      fc.property(envelope, (value) => {
        typedOutcome(JSON.stringify(value));
      }),
      RUNS,
    );
  });

  it("refuses numeric user ids beyond 2^53 - 1 written as literals, whatever their digits", () => {
    const digits = fc.bigInt({ min: 2n ** 53n, max: 10n ** 30n });
    fc.assert(
      fc.property(digits, fc.boolean(), (big, negative) => {
        const literal = `${negative ? "-" : ""}${big}`;
        const result = typedOutcome(
          `{"type":"send_message","data":{"target_user_id":${literal},"message":"hi"}}`,
        );
        expect(result.ok).toBe(false);
        if (!result.ok) expect(result.error.details?.field).toBe("data.target_user_id");
      }),
      RUNS,
    );
  });
});

/** Valid commands of every type, with ids and optional fields as clients send them. */
const validCommand = fc.oneof(
  fc.constant({ type: "ping" }),
  fc.record({
    type: fc.constant("get_status"),
    data: fc.record({ user_ids: fc.array(userIdValue, { maxLength: 100 }) }, { requiredKeys: [] }),
  }),
  fc.record({
    type: fc.constant("send_message"),
    data: fc.record(
      { target_user_id: userIdValue, message: messageText, message_type: messageType },
      { requiredKeys: ["target_user_id", "message"] },
    ),
  }),
  fc.record({
    type: fc.constant("broadcast"),
    data: fc.record(
      { message: messageText, message_type: messageType },
      { requiredKeys: ["message"] },
    ),
  }),
  fc.record({
    type: fc.constant("join_group"),
    data: fc.record(
      {
        group_name: groupName,
        token: messageText,
        since_group_seq: fc.nat(),
        epoch: fc.string({ maxLength: 64 }),
      },
      { requiredKeys: ["group_name"] },
    ),
  }),
  fc.record({ type: fc.constant("leave_group"), data: fc.record({ group_name: groupName }) }),
  fc.record({
    type: fc.constant("group_message"),
    data: fc.record(
      { group_name: groupName, message: messageText, message_type: messageType },
      { requiredKeys: ["group_name", "message"] },
    ),
  }),
  fc.record({
    type: fc.constant("consultation_message"),
    data: fc.record({ message: messageText }),
  }),
  fc.record({ type: fc.constant("resume"), data: fc.record({ since_seq: fc.nat() }) }),
  fc.record({ type: fc.constant("refresh_token"), data: fc.record({ token: messageText }) }),
);

describe("decodeFrame round trip", () => {
  it("accepts every valid command, and decode(encode(command)) = command", () => {
    const withId = fc.tuple(
      validCommand,
      fc.option(fc.oneof(fc.string({ maxLength: 128 }), fc.integer())),
    );
    fc.assert(
      fc.property(withId, ([command, id]) => {
        const first = decodeFrame(JSON.stringify(id === null ? command : { ...command, id }));
        if (!first.ok)
          throw new Error(`refused ${JSON.stringify(command)}: ${first.error.message}`);
        const again = decodeFrame(JSON.stringify(first.command));
        expect(again).toEqual(first);
      }),
      RUNS,
    );
  });
});

const SERVER_TYPES: ServerType[] = [
  "connection_established",
  "pong",
  "status_response",
  "status_changed",
  "user_message",
  "notification",
  "system_broadcast",
  "group_message",
  "consultation_message",
  "consultation_state",
  "message_sent",
  "group_joined",
  "group_left",
  "resumed",
  "token_refreshed",
  "error",
];

/** JSON that survives JSON text exactly (no -0, NaN or Infinity), nasty strings included. */
const exactJson: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", maxDepth: 4 },
    nastyString,
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(nastyString, tie("value"), { maxKeys: 4 }),
  ),
})).value;

describe("encodeFrame round trip", () => {
  it("the SDK reads every server frame back as it was encoded", () => {
    const frame = fc.record({
      type: fc.constantFrom(...SERVER_TYPES),
      data: fc.dictionary(nastyString, exactJson, { maxKeys: 5 }),
      id: fc.option(fc.oneof(fc.string({ maxLength: 128 }), fc.integer()), { nil: undefined }),
      seq: fc.option(fc.nat(), { nil: undefined }),
      ts: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    });
    fc.assert(
      fc.property(frame, ({ type, data, id, seq, ts }) => {
        const text = encodeFrame(type, data as never, { id, seq, ts });
        expect(parseFrame(text)).toEqual({
          type,
          data,
          ts,
          ...(id === undefined ? {} : { id }),
          ...(seq === undefined ? {} : { seq }),
        });
      }),
      RUNS,
    );
  });
});
