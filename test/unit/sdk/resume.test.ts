import { describe, expect, it } from "vitest";
import type { RealtimeClient } from "../../../src/sdk/client.ts";
import { eventually, sleep } from "../../helpers/frames.ts";
import { gatewayPerTest, nextEvent, type Peer, reaches } from "./fake-gateway.ts";

const harness = gatewayPerTest();

/** Every mailbox seq the application's handlers saw, in order. */
function handled(client: RealtimeClient): number[] {
  const seqs: number[] = [];
  for (const type of ["user_message", "notification", "group_message"] as const) {
    client.on(type, (frame) => seqs.push(frame.seq ?? -1));
  }
  return seqs;
}

/** Connection #index gets last_seq as its connection_established. */
function lastSeqs(...values: number[]) {
  harness.gateway.script.onConnect = (peer, index) => peer.establish({ last_seq: values[index] });
}

async function reconnect(client: RealtimeClient, index: number, code = 1001): Promise<Peer> {
  await (await harness.gateway.peer(index)).close(code);
  const peer = await harness.gateway.peer(index + 1);
  await reaches(client, "open");
  return peer;
}

describe("resume", () => {
  it("starts from the present on the first connect and does not replay older history", async () => {
    lastSeqs(40);
    const client = harness.client();
    const seqs = handled(client);
    await client.opened();
    const peer = await harness.gateway.peer(0);
    peer.mail(41);
    await eventually(() => seqs.length === 1);
    expect(client.lastSeq).toBe(41);
    expect(peer.frames.unconsumed()).toEqual([]);
  });

  it("asks for what came after the last seq seen once it reconnects", async () => {
    lastSeqs(5, 9);
    const client = harness.client();
    const seqs = handled(client);
    await client.opened();
    const first = await harness.gateway.peer(0);
    first.mail(6);
    first.mail(7);
    await eventually(() => seqs.length === 2);

    const second = await reconnect(client, 0);
    const resume = await second.next("resume");
    expect(resume.data).toEqual({ since_seq: 7 });
    second.mail(8);
    second.mail(9);
    second.reply(resume, "resumed", { from_seq: 8, to_seq: 9, complete: true });
    await eventually(() => seqs.length === 4);
    expect(seqs).toEqual([6, 7, 8, 9]);
    expect(client.lastSeq).toBe(9);
  });

  it("drops duplicates, holds live frames until the replay is done and delivers in seq order", async () => {
    lastSeqs(5, 12);
    const client = harness.client();
    const seqs = handled(client);
    const resumed = new Promise((resolve) => client.on("resumed", (frame) => resolve(frame.data)));
    await client.opened();
    const first = await harness.gateway.peer(0);
    for (const seq of [6, 7, 8]) first.mail(seq);
    first.mail(7); // a duplicate on the same socket
    await eventually(() => seqs.length === 3);

    const second = await reconnect(client, 0);
    const resume = await second.next("resume");
    expect(resume.data).toEqual({ since_seq: 8 });
    second.mail(12, "notification"); // live, sent before the replay finished
    for (const seq of [7, 8, 9, 10, 11]) second.mail(seq, seq === 10 ? "group_message" : undefined);
    second.reply(resume, "resumed", { from_seq: 9, to_seq: 11, complete: true });
    second.mail(12); // the live one again, e.g. from another path
    second.mail(13);
    expect(await resumed).toEqual({ from_seq: 9, to_seq: 11, complete: true });
    await eventually(() => seqs.length === 8);
    await sleep(30);
    expect(seqs).toEqual([6, 7, 8, 9, 10, 11, 12, 13]);
  });

  it("does not ask when connection_established says nothing was stored meanwhile", async () => {
    lastSeqs(3, 3);
    const client = harness.client();
    await client.opened();
    const second = await reconnect(client, 0);
    client.getStatus().catch(() => {});
    expect((await second.frames.next(() => true)).type).toBe("get_status");
  });

  it("resumes on the first connect from a lastSeq kept by an earlier session", async () => {
    lastSeqs(20);
    const client = harness.client({ lastSeq: 17 });
    const seqs = handled(client);
    await client.opened();
    const peer = await harness.gateway.peer(0);
    const resume = await peer.next("resume");
    expect(resume.data).toEqual({ since_seq: 17 });
    for (const seq of [18, 19, 20]) peer.mail(seq);
    peer.reply(resume, "resumed", { from_seq: 18, to_seq: 20, complete: true });
    await eventually(() => seqs.length === 3);
    expect(seqs).toEqual([18, 19, 20]);
  });

  it("sends resume before the frames queued while disconnected", async () => {
    lastSeqs(1, 2);
    const client = harness.client({ backoff: { minDelayMs: 100, maxDelayMs: 100 } });
    await client.opened();
    const first = await harness.gateway.peer(0);
    first.mail(1);
    await first.close(1001);
    const sent = client.sendMessage("u2", "while away").catch(() => {});
    const second = await harness.gateway.peer(1);
    expect((await second.frames.next(() => true)).type).toBe("resume");
    expect((await second.frames.next(() => true)).type).toBe("send_message");
    client.close();
    await sent;
  });

  it("still delivers what it held when the gateway cannot resume, and reports why", async () => {
    lastSeqs(1, 5);
    const client = harness.client();
    const seqs = handled(client);
    await client.opened();
    const second = await reconnect(client, 0);
    const error = nextEvent(client, "error");
    const resume = await second.next("resume");
    second.mail(6);
    second.reply(resume, "error", { code: "unavailable", message: "resume is not available" });
    expect((await error).code).toBe("unavailable");
    await eventually(() => seqs.length === 1);
    expect(seqs).toEqual([6]);
  });

  it("takes a last_seq below the one seen as a restarted sequence", async () => {
    lastSeqs(50, 0);
    const client = harness.client();
    const seqs = handled(client);
    await client.opened();
    (await harness.gateway.peer(0)).mail(51);
    await eventually(() => seqs.length === 1);
    const second = await reconnect(client, 0);
    second.mail(1);
    await eventually(() => seqs.length === 2);
    expect(seqs).toEqual([51, 1]);
    expect(second.frames.unconsumed("resume")).toEqual([]);
  });

  it("passes mailbox frames without a seq straight through", async () => {
    const client = harness.client();
    const seqs = handled(client);
    await client.opened();
    const peer = await harness.gateway.peer(0);
    peer.send({ type: "user_message", data: { message: "no seq" } });
    peer.send({ type: "user_message", data: { message: "no seq" } });
    await eventually(() => seqs.length === 2);
  });
});
