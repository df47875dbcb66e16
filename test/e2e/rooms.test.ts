/**
 * A message to a room reaches every socket in it (docs/protocol.md, "Rooms"), whichever actor holds it:
 * the consultation sockets of `/ws/consultation/{id}/` (held by the room) and the user sockets
 * that joined `consultation_{id}` (held by their users' actors). The seed notifies consultation
 * participants from server code with `send_to_group("consultation_{id}", message_type=
 * "consultation_update", data=...)`; these tests send the same thing through every path.
 */
import { describe, expect, it } from "vitest";
import { createRealtime } from "../../src/sdk/server.ts";
import type { Frame } from "../helpers/frames.ts";
import { TEST_API_KEY } from "../helpers/secrets.ts";
import { mintToken } from "../helpers/tokens.ts";
import { type Client, connectAs, gatewayUrl, openSocket, uniqueUser } from "./helpers.ts";

const realtime = createRealtime({ baseUrl: gatewayUrl(), apiKey: TEST_API_KEY });

interface Room {
  id: string;
  group: string;
  /** A participant's consultation socket. */
  patient: Client;
  /** Another user's user socket that joined `consultation_{id}`. */
  doctorTab: Client;
  close(): Promise<void>;
}

/** A consultation with one consultation socket and one user socket that joined its group. */
async function openRoom(): Promise<Room> {
  const id = uniqueUser("c").replace(/[^A-Za-z0-9_-]/g, "");
  const group = `consultation_${id}`;
  const grant = { groups: [group] };
  const patient = await openSocket(await mintToken(uniqueUser("pat"), grant), {
    path: `/ws/consultation/${id}/`,
  });
  await patient.frames.next("consultation_state");
  const doctorTab = await connectAs(uniqueUser("doc"), grant);
  expect((await doctorTab.request("join_group", { group_name: group })).type).toBe("group_joined");
  return {
    id,
    group,
    patient,
    doctorTab,
    close: async () => {
      await Promise.all([patient.close(), doctorTab.close()]);
    },
  };
}

const update = (id: string) => ({ message: "The doctor has joined", consultation_id: id });

/** The group_message both sockets of the room received for this message id. */
async function bothReceived(room: Room, messageId: string): Promise<[Frame, Frame]> {
  const byId = (f: Frame) => f.type === "group_message" && f.data.message_id === messageId;
  return [await room.patient.frames.next(byId), await room.doctorTab.frames.next(byId)];
}

describe("a server-side send_to_group('consultation_{id}') reaches every socket of the room", () => {
  it("through the HTTP API", async () => {
    const room = await openRoom();
    try {
      const response = await fetch(`${gatewayUrl()}/api/v1/groups/${room.group}/messages`, {
        method: "POST",
        headers: { Authorization: `Bearer ${TEST_API_KEY}`, "Content-Type": "application/json" },
        body: JSON.stringify({ message_type: "consultation_update", data: update(room.id) }),
      });
      expect(response.status).toBe(200);
      const sent = (await response.json()) as { message_id: string; recipients: number };
      expect(sent.recipients).toBe(2);
      for (const frame of await bothReceived(room, sent.message_id)) {
        expect(frame.data).toMatchObject({
          group_name: room.group,
          from_user_id: "system",
          message_type: "consultation_update",
          data: update(room.id),
        });
      }
    } finally {
      await room.close();
    }
  });

  it("through the server SDK's sendToGroup", async () => {
    const room = await openRoom();
    try {
      const sent = await realtime.messaging.sendToGroup(room.group, {
        messageType: "consultation_update",
        data: update(room.id),
      });
      expect(sent.recipients).toBe(2);
      const [onConsultation, onUserSocket] = await bothReceived(room, sent.messageId);
      expect(onConsultation.data.data).toEqual(update(room.id));
      expect(onUserSocket.data.data).toEqual(update(room.id));
    } finally {
      await room.close();
    }
  });
});

describe("members and participants of a consultation hear each other", () => {
  it("a member's group_message from a user socket reaches the consultation sockets", async () => {
    const room = await openRoom();
    try {
      const sent = await room.doctorTab.request("group_message", {
        group_name: room.group,
        message: "Please describe your symptoms",
        message_type: "consultation_update",
      });
      expect(sent.data).toMatchObject({ group_name: room.group, recipients: 2 });
      const [onConsultation, onUserSocket] = await bothReceived(room, sent.data.message_id);
      expect(onConsultation.data).toMatchObject({
        from_user_id: room.doctorTab.established.data.user_id,
        message: "Please describe your symptoms",
        message_type: "consultation_update",
      });
      expect(onUserSocket.data.message).toBe("Please describe your symptoms");
    } finally {
      await room.close();
    }
  });

  it("a participant's consultation_message reaches user sockets that joined the group", async () => {
    const room = await openRoom();
    try {
      const sent = await room.patient.request("consultation_message", { message: "I feel better" });
      expect(sent.data.recipients).toBe(2);
      const got = await room.doctorTab.frames.next("consultation_message");
      expect(got.data).toMatchObject({ consultation_id: room.id, message: "I feel better" });
    } finally {
      await room.close();
    }
  });

  it("a consultation socket that resumes gets the room's group messages back, in order", async () => {
    const room = await openRoom();
    try {
      const sent = await realtime.messaging.sendToGroup(room.group, {
        messageType: "consultation_update",
        data: update(room.id),
      });
      const [live] = await bothReceived(room, sent.messageId);
      await room.patient.request("consultation_message", { message: "thanks" });
      const again = await openSocket(await mintToken(uniqueUser("pat"), { groups: [room.group] }), {
        path: `/ws/consultation/${room.id}/`,
      });
      again.send({ type: "resume", data: { since_seq: 0 } });
      const replayed = await again.frames.next("group_message");
      expect(replayed.seq).toBe(live.seq);
      expect(replayed.data.message_id).toBe(sent.messageId);
      expect((await again.frames.next("consultation_message")).data.message).toBe("thanks");
      expect((await again.frames.next("resumed")).data).toMatchObject({ to_seq: 2 });
      await again.close();
    } finally {
      await room.close();
    }
  });
});
