/**
 * What `useRealtime` renders from, kept apart from React: one client's connection state, the
 * presence of the users a component watches, and the last frame of each type. It is an external
 * store in React's sense (`subscribe` + `getSnapshot`): every change makes a new, frozen
 * snapshot, and an unchanged store returns the same object, as `useSyncExternalStore` requires.
 */
import type { ConnectionEstablished, ServerType, UserStatus } from "../protocol/messages.ts";
import {
  type ConnectionState,
  type Frame,
  type RealtimeClient,
  RealtimeError,
} from "../sdk/client.ts";

/** One watched user's presence, as `get_status` or the latest `status_changed` said. */
export interface Presence {
  isOnline: boolean;
  /** ISO 8601 time the user was last seen online; null when never seen or online now. */
  lastSeen: string | null;
}

/** The last frame of each type that reached the client's handlers (not replies to requests). */
export type LastFrames = { readonly [K in ServerType]?: Frame<K> };

export interface RealtimeSnapshot {
  state: ConnectionState;
  /** `connection_established` of the current socket; undefined until the first one. */
  connection: ConnectionEstablished | undefined;
  /** Watched users by id (ids as strings); a user appears once the gateway has answered. */
  presence: Readonly<Record<string, Presence>>;
  last: LastFrames;
  /** The latest failure no promise reports (the client's `error` event, a presence query). */
  error: RealtimeError | undefined;
}

export class RealtimeStore {
  readonly client: RealtimeClient;
  private snapshot: RealtimeSnapshot;
  private readonly listeners = new Set<() => void>();
  private readonly unsubscribe: (() => void)[];
  private watched: readonly string[] = [];

  constructor(client: RealtimeClient) {
    this.client = client;
    this.snapshot = Object.freeze({
      state: client.state,
      connection: client.connection,
      presence: Object.freeze({}),
      last: Object.freeze({}),
      error: undefined,
    });
    this.unsubscribe = [
      client.onEvent("state", ({ state }) => {
        this.update({ state, connection: client.connection });
        // Presence may have changed while no socket was open: ask again on every open.
        if (state === "open") this.queryPresence(this.watched);
      }),
      client.onEvent("error", (error) => this.update({ error })),
      client.on("*", (frame) => this.receive(frame)),
    ];
  }

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  readonly getSnapshot = (): RealtimeSnapshot => this.snapshot;

  /** Follows these users' presence from now on; newly watched ones are asked for at once. */
  watch(userIds: readonly (string | number)[]): void {
    const ids = [...new Set(userIds.map(String))];
    const added = ids.filter((id) => !this.watched.includes(id));
    this.watched = ids;
    const presence = Object.fromEntries(
      Object.entries(this.snapshot.presence).filter(([id]) => ids.includes(id)),
    );
    if (Object.keys(presence).length !== Object.keys(this.snapshot.presence).length) {
      this.update({ presence: Object.freeze(presence) });
    }
    if (this.client.state === "open") this.queryPresence(added);
  }

  /** Stops listening to the client and closes it. */
  close(): void {
    for (const off of this.unsubscribe.splice(0)) off();
    this.client.close("unmounted");
    this.listeners.clear();
  }

  private queryPresence(userIds: readonly string[]): void {
    if (userIds.length === 0) return;
    this.client.getStatus([...userIds]).then(
      (status) => this.setPresence(status.users ?? []),
      (error: unknown) => {
        // A closed client or lost socket asks again on the next open; anything else is news.
        if (error instanceof RealtimeError && error.code !== "closed") {
          if (error.code !== "connection_closed") this.update({ error });
        }
      },
    );
  }

  private setPresence(users: readonly UserStatus[]): void {
    const next: Record<string, Presence> = { ...this.snapshot.presence };
    let changed = false;
    for (const user of users) {
      if (!this.watched.includes(user.user_id)) continue;
      next[user.user_id] = Object.freeze({ isOnline: user.is_online, lastSeen: user.last_seen });
      changed = true;
    }
    if (changed) this.update({ presence: Object.freeze(next) });
  }

  private receive(frame: Frame): void {
    const last = Object.freeze({ ...this.snapshot.last, [frame.type]: frame });
    this.update({ last });
    if (frame.type === "status_changed") this.setPresence([frame.data]);
  }

  private update(change: Partial<RealtimeSnapshot>): void {
    this.snapshot = Object.freeze({ ...this.snapshot, ...change });
    for (const listener of [...this.listeners]) listener();
  }
}
