/**
 * `useRealtime`: the client SDK as a React hook. One client per mounted component (per `url`
 * and token), kept across renders and closed on unmount; the component re-renders when the
 * connection state, a watched user's presence or the last frame of some type changes.
 */
import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from "react";
import type { CommandType } from "../protocol/messages.ts";
import {
  type ClientOptions,
  createClient,
  type RealtimeClient,
  RealtimeError,
  type ReplyOf,
  type RequestArgs,
} from "../sdk/client.ts";
import { type RealtimeSnapshot, RealtimeStore } from "./realtime-store.ts";
import { tokenUser } from "./token-user.ts";

export interface UseRealtimeOptions extends Omit<ClientOptions, "autoConnect" | "lastSeq"> {
  /**
   * Users whose presence to follow (ids as strings or numbers): asked for with `get_status` on
   * every open and when the list changes, then updated by `status_changed` frames (which the
   * gateway sends for users who share a group or consultation with this one). Default none.
   */
  presenceOf?: readonly (string | number)[];
  /** Don't connect while false (e.g. no token yet); the client is closed. Default true. */
  enabled?: boolean;
}

export interface UseRealtimeResult extends RealtimeSnapshot {
  /** Sends a direct message; resolves with `message_sent` data or rejects with a RealtimeError. */
  send: (
    targetUserId: string | number,
    message: string,
    messageType?: string,
  ) => ReturnType<RealtimeClient["sendMessage"]>;
  /** Any command of docs/protocol.md, resolving with its reply frame (the SDK's `request`). */
  request: <K extends CommandType>(type: K, ...args: RequestArgs<K>) => Promise<ReplyOf<K>>;
  /** The current client (null before the first effect or while disabled), for everything else. */
  client: RealtimeClient | null;
}

const IDLE: RealtimeSnapshot = Object.freeze({
  state: "idle",
  connection: undefined,
  presence: Object.freeze({}),
  last: Object.freeze({}),
  error: undefined,
});
const noStore = () => () => undefined;
const idle = () => IDLE;

/**
 * Connects to the gateway while the component is mounted.
 *
 * Options are read on every render, but only `url`, a `token` string and `enabled` reconnect
 * when they change: a `token` function is kept in a ref and the latest one is called at every
 * connect and refresh, so an inline arrow does not reconnect. A new token string opens a new
 * connection with it; when it names the same user as the current connection, the new one
 * resumes after the last mailbox message handled, so none is lost or repeated. Other client
 * options apply from the next (re)connection of a new client.
 */
export function useRealtime(options: UseRealtimeOptions): UseRealtimeResult {
  const { presenceOf, enabled = true, ...clientOptions } = options;
  const latest = useRef(clientOptions);
  latest.current = clientOptions;
  /** The user and seq the last closed client stopped at, for a same-user token change. */
  const handedOver = useRef<{ userId: string; lastSeq: number } | undefined>(undefined);
  const [store, setStore] = useState<RealtimeStore | null>(null);

  const { url } = options;
  // A token string reconnects when it changes; a function is read through `latest` instead.
  const fixedToken = typeof options.token === "string" ? options.token : null;
  useEffect(() => {
    if (!enabled) return;
    const previous = handedOver.current;
    const resume =
      fixedToken !== null && previous && tokenUser(fixedToken) === previous.userId
        ? previous.lastSeq
        : undefined;
    const client = createClient({
      ...latest.current,
      url,
      // The latest function, so a new function identity on each render does not reconnect.
      token:
        fixedToken ??
        (() => {
          const current = latest.current.token;
          return typeof current === "string" ? current : current();
        }),
      lastSeq: resume,
    });
    const created = new RealtimeStore(client);
    setStore(created);
    return () => {
      const userId = client.connection?.user_id;
      const lastSeq = client.lastSeq;
      handedOver.current =
        userId !== undefined && lastSeq !== undefined ? { userId, lastSeq } : undefined;
      created.close();
      setStore((current) => (current === created ? null : current));
    };
  }, [url, fixedToken, enabled]);

  const watchKey = JSON.stringify((presenceOf ?? []).map(String));
  useEffect(() => {
    store?.watch(JSON.parse(watchKey) as string[]);
  }, [store, watchKey]);

  const snapshot = useSyncExternalStore(
    store?.subscribe ?? noStore,
    store?.getSnapshot ?? idle,
    store?.getSnapshot ?? idle,
  );

  const current = useRef(store);
  current.current = store;
  const send = useCallback<UseRealtimeResult["send"]>((targetUserId, message, messageType) => {
    const client = current.current?.client;
    return client ? client.sendMessage(targetUserId, message, messageType) : notConnected();
  }, []);
  const request = useCallback(
    <K extends CommandType>(type: K, ...args: RequestArgs<K>): Promise<ReplyOf<K>> => {
      const client = current.current?.client;
      return client ? client.request(type, ...args) : notConnected();
    },
    [],
  );

  return { ...snapshot, send, request, client: store?.client ?? null };
}

function notConnected(): Promise<never> {
  return Promise.reject(
    new RealtimeError("closed", "useRealtime: no client (unmounted or disabled)"),
  );
}
