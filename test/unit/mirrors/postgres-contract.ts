import { describe, expect, it } from "vitest";
import type { NotificationRecord, PostgresMirror } from "../../../src/mirrors/types.ts";
import { offline, snapshot } from "./snapshots.ts";

export interface PresenceRowView {
  isOnline: boolean;
  connectionCount: number;
  lastSeen: string | null;
  version: number;
}

export interface UserRowView {
  username: string | null;
  isStaff: boolean;
  isOnline: boolean;
  lastSeen: string | null;
}

/** Reads and seeds the stores behind a Postgres mirror. */
export interface PostgresProbe {
  presence(userId: string): Promise<PresenceRowView | null>;
  user(userId: string): Promise<UserRowView | null>;
  notificationIds(userId: string): Promise<string[]>;
}

/**
 * What every PostgresMirror in managed mode (the gateway's own `users` table) must do; run
 * against the real one and the twin.
 */
export function postgresMirrorContract(
  name: string,
  setup: () => { mirror: PostgresMirror; probe: PostgresProbe },
) {
  describe(`${name}: the Postgres presence contract`, () => {
    let n = 0;
    const uid = () => `u${Date.now().toString(36)}${n++}`;
    const t = (minute: number) => `2026-11-25T10:${String(minute).padStart(2, "0")}:00.000Z`;

    it("creates the presence row and, in managed mode, the user row on first sight", async () => {
      const { mirror, probe } = setup();
      const user = uid();
      const result = await mirror.write(
        snapshot(user, 1, { connectionIds: ["a", "b"], username: "ada", isStaff: true }),
      );
      expect(result).toEqual({ applied: true, userRows: 1 });
      expect(await probe.presence(user)).toEqual({
        isOnline: true,
        connectionCount: 2,
        lastSeen: null,
        version: 1,
      });
      expect(await probe.user(user)).toMatchObject({
        username: "ada",
        isStaff: true,
        isOnline: true,
      });
    });

    it("never lets an older version overwrite a newer one, whatever order writes arrive in", async () => {
      const { mirror, probe } = setup();
      const user = uid();
      expect((await mirror.write(snapshot(user, 1))).applied).toBe(true);
      expect((await mirror.write(offline(user, 3, t(3)))).applied).toBe(true);
      expect(await mirror.write(snapshot(user, 2))).toEqual({ applied: false, userRows: 0 });
      expect(await mirror.write(offline(user, 3, t(9)))).toEqual({ applied: false, userRows: 0 });
      expect(await probe.presence(user)).toEqual({
        isOnline: false,
        connectionCount: 0,
        lastSeen: t(3),
        version: 3,
      });
      expect(await probe.user(user)).toMatchObject({ isOnline: false, lastSeen: t(3) });
    });

    it("marks the user offline with the moment they left, and online again later", async () => {
      const { mirror, probe } = setup();
      const user = uid();
      await mirror.write(snapshot(user, 1));
      await mirror.write(offline(user, 2, t(5)));
      expect(await probe.user(user)).toMatchObject({ isOnline: false, lastSeen: t(5) });
      await mirror.write(snapshot(user, 3, { lastSeen: t(5) }));
      const back = await probe.user(user);
      expect(back?.isOnline).toBe(true);
      expect(Date.parse(back?.lastSeen ?? "")).toBeGreaterThan(Date.parse(t(5)));
    });

    it("records notifications once, however often a batch is retried", async () => {
      const { mirror, probe } = setup();
      const user = uid();
      const record = (id: string): NotificationRecord => ({
        id,
        userId: user,
        title: "Hello",
        message: "World",
        data: { consultation: 7, tags: ["a"] },
        createdAt: t(1),
        deliveredAt: null,
      });
      await mirror.recordNotifications([record(`${user}-1`), record(`${user}-2`)]);
      await mirror.recordNotifications([record(`${user}-2`), record(`${user}-3`)]);
      await mirror.recordNotifications([]);
      expect((await probe.notificationIds(user)).sort()).toEqual([
        `${user}-1`,
        `${user}-2`,
        `${user}-3`,
      ]);
    });

    it("refuses a row holding U+0000 alone and records the rows around it", async () => {
      const { mirror, probe } = setup();
      const user = uid();
      const record = (id: string, title: string): NotificationRecord => ({
        id,
        userId: user,
        title,
        message: "World",
        data: { n: 1 },
        createdAt: t(1),
        deliveredAt: null,
      });
      const result = await mirror.recordNotifications([
        record(`${user}-1`, "fine"),
        record(`${user}-2`, "NUL \u0000"),
        record(`${user}-3`, "fine"),
      ]);
      expect(result.refused.map((row) => row.id)).toEqual([`${user}-2`]);
      expect((await probe.notificationIds(user)).sort()).toEqual([`${user}-1`, `${user}-3`]);
    });

    it("knows which users exist", async () => {
      const { mirror } = setup();
      const user = uid();
      expect(await mirror.userExists(user)).toBe(false);
      await mirror.write(snapshot(user, 1));
      expect(await mirror.userExists(user)).toBe(true);
    });
  });
}
