// The one interface every server is driven through, so that the gateway, the minimal relays
// and Socket.IO run the very same scenarios. A scenario never sees a wire format: it opens
// sockets as users, sends direct messages, joins groups, asks the server side to send to a
// group or to everyone, and receives `Delivery` values.
import type { BenchUser } from "./tokens.ts";

/** What a bench socket receives. `body` is the opaque text the scenario sent. */
export type Delivery =
  | { readonly kind: "dm"; readonly body: string; readonly fromUserId: string }
  | { readonly kind: "group"; readonly body: string; readonly group: string }
  | { readonly kind: "broadcast"; readonly body: string }
  /** The server acknowledged one of this socket's direct messages. */
  | { readonly kind: "ack" }
  /** The server answered with an error frame (any error during a scenario breaks the run). */
  | { readonly kind: "error"; readonly code: string; readonly message: string }
  /** The socket closed without the scenario asking for it. */
  | { readonly kind: "closed"; readonly code: number; readonly reason: string };

export interface BenchSocket {
  readonly user: BenchUser;
  /** Milliseconds from opening the socket to the server's first application frame. */
  readonly firstReplyMs: number;
  sendDirect(targetUserId: string, body: string): void;
  /** Resolves when the server confirmed the membership; rejects with the server's error. */
  joinGroup(group: string): Promise<void>;
  /** Closes cleanly (close frame, then waits for the peer's), terminating after a timeout. */
  close(): Promise<void>;
}

export interface ConnectRequest {
  readonly user: BenchUser;
  readonly token: string;
  readonly onDelivery: (delivery: Delivery) => void;
  /** Milliseconds to wait for the server's first frame. */
  readonly timeoutMs: number;
}

export interface ServerCapabilities {
  /** Group membership and server-side group sends (fanout scenario). */
  readonly groups: boolean;
  /** Server-side broadcast to every connected user (broadcast scenario). */
  readonly broadcast: boolean;
  /** Sockets held by the room itself (`/ws/group/{name}/`): the gateway only. */
  readonly roomSockets?: boolean;
}

export interface ServerAdapter {
  /** Wire protocol spoken, for the report ("gateway frames", "socket.io"). */
  readonly protocol: string;
  readonly capabilities: ServerCapabilities;
  connect(request: ConnectRequest): Promise<BenchSocket>;
  /**
   * A socket held by the room itself, receiving `group`'s messages without joining (the
   * gateway's room socket, `/ws/group/{name}/`); absent where a room is joined from a socket.
   */
  connectRoom?(request: ConnectRequest, group: string): Promise<BenchSocket>;
  /** Server-side send to every member of `group`; resolves once the server accepted it. */
  sendToGroup(group: string, body: string): Promise<void>;
  /** Server-side send to every connected user; resolves with the recipients the server counted. */
  broadcast(body: string): Promise<number>;
}

/** A capability the server does not have: the scenario is reported as not applicable. */
export class NotSupportedError extends Error {
  override readonly name = "NotSupportedError";
}
