// Rows written per stored message, as Cloudflare bills them (the SQL cursor's rowsWritten,
// index entries included), in a UserHub's real SQLite storage.
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { Mailbox } from "../../src/core/mailbox.ts";
import type { Sql, SqlValue } from "../../src/core/sql.ts";
import { uniqueUser } from "./helpers.ts";

const LIMITS = { max: 1_000, ttlSeconds: 7 * 24 * 3600 };

describe("mailbox rows written", () => {
  it("writes 2 rows for a direct message or a broadcast, 3 for a notification", async () => {
    const stub = env.USER_HUB.getByName(uniqueUser("rows"));
    const written = await runInDurableObject(stub, (_hub, state) => {
      let rows = 0;
      const sql: Sql = {
        exec<T extends Record<string, SqlValue>>(query: string, ...bindings: SqlValue[]) {
          const cursor = state.storage.sql.exec<T>(query, ...bindings);
          rows += cursor.rowsWritten;
          return cursor;
        },
      };
      const mailbox = new Mailbox(sql, LIMITS);
      // The first message creates the tables; count the ones after it.
      mailbox.append("first", "user_message", "{}", Date.now());
      const counted = (append: () => void) => {
        rows = 0;
        append();
        return rows;
      };
      return {
        direct: counted(() => mailbox.append("dm", "user_message", "{}", Date.now())),
        broadcast: counted(() => mailbox.append("b", "system_broadcast", "{}", Date.now())),
        notification: counted(() => mailbox.append("n", "notification", "{}", Date.now())),
      };
    });
    expect(written).toEqual({ direct: 2, broadcast: 2, notification: 3 });
  });
});
