/**
 * PostgresQueue: how the actors reach Postgres. A user's presence writes, user-table lookups
 * and notification records go to one of POSTGRES_SESSIONS queues (user → queue by the same
 * stable hash as the presence shards), and each queue serves its calls with one session at a
 * time, many calls per session (SessionQueue). So the gateway holds at most POSTGRES_SESSIONS
 * sessions however many users flip at once; before, every UserHub opened its own, and a crowd
 * of a few hundred ran Postgres out of connections ("too many clients"), which failed writes
 * and answered 503 to lookups until it passed.
 *
 * Holds nothing durable: a call lost with the actor fails in its caller, which retries (the
 * presence and notification outboxes) or answers `unavailable` (a lookup).
 */
import { DurableObject } from "cloudflare:workers";
import type { Client } from "@neondatabase/serverless";
import { type Config, loadConfig } from "../core/config.ts";
import { SessionQueue } from "../core/session-queue.ts";
import { shardOf } from "../core/sharding.ts";
import { quickConnectFailure, withNeonClient } from "../mirrors/neon.ts";
import { NeonPostgresMirror } from "../mirrors/postgres.ts";
import type {
  NotificationRecord,
  NotificationWriteResult,
  PostgresMirror,
  PostgresWriteResult,
  PresenceSnapshot,
} from "../mirrors/types.ts";

/**
 * The most calls one session serves before it is closed and a new one opened for the calls
 * still waiting: a round is a few hundred milliseconds on a local Postgres.
 */
const CALLS_PER_SESSION = 200;
/**
 * A session that cannot be opened is tried again after these waits before its calls fail:
 * under load the connection sometimes fails outright ("WebSocket error"), and failing a round
 * fails up to CALLS_PER_SESSION calls at once (and their lookups answer 503). A connect that
 * timed out (5 s) is not tried again: waiting four times as long would only delay the 503.
 */
const REOPEN_DELAYS_MS = [100, 300, 1_000];

export class PostgresQueue extends DurableObject<Env> implements PostgresMirror {
  private readonly mirror: NeonPostgresMirror;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const settings = loadConfig(env).postgres;
    if (settings === null) throw new Error("PostgresQueue used without DATABASE_URL");
    const connection = { databaseUrl: settings.url, neonWsProxy: settings.wsProxy ?? undefined };
    const queue = new SessionQueue<Client>({
      open: (work) => withNeonClient(connection, work),
      maxBatch: CALLS_PER_SESSION,
      reopenDelaysMs: REOPEN_DELAYS_MS,
      retryable: quickConnectFailure,
      onReopen: (err, attempt, delayMs) =>
        console.warn(
          `PostgresQueue: cannot open a session (attempt ${attempt}: ${String(err)}); again in ${delayMs} ms`,
        ),
    });
    this.mirror = new NeonPostgresMirror({
      ...connection,
      users: settings.users,
      sessions: (work) => queue.run(work),
    });
  }

  write(snapshot: PresenceSnapshot): Promise<PostgresWriteResult> {
    return this.mirror.write(snapshot);
  }

  recordNotifications(records: readonly NotificationRecord[]): Promise<NotificationWriteResult> {
    return this.mirror.recordNotifications(records);
  }

  userExists(userId: string): Promise<boolean> {
    return this.mirror.userExists(userId);
  }
}

/**
 * The Postgres mirror as an actor sees it: each call goes to the queue of the user it is
 * about. null when Postgres is off.
 */
export function queuedPostgres(env: Env, config: Config): PostgresMirror | null {
  const settings = config.postgres;
  if (settings === null) return null;
  const queueOf = (userId: string) =>
    env.POSTGRES_QUEUE.getByName(`postgres:${shardOf(userId, settings.sessions)}`);
  return {
    write: (snapshot) => queueOf(snapshot.userId).write(snapshot),
    async recordNotifications(records) {
      // A UserHub records its own user's notifications, so one queue serves the whole call.
      const first = records[0];
      if (first === undefined) return { refused: [] };
      return await queueOf(first.userId).recordNotifications(records);
    },
    userExists: (userId) => queueOf(userId).userExists(userId),
  };
}
